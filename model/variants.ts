/**
 * Design variants: named alternatives to upstream behaviour (a rejected
 * approach, a bug found in review, an RFC, a proposed fix, a mount option
 * with weaker guarantees).  Upstream is the default; a scenario's `variant`
 * object or `iospec check --variant NAME` switches one on.  Each variant is
 * declared once, below: its name (which is also its knob: model code asks
 * `k.v.on('dio-no-invalidate')` where the variant diverges), where it comes
 * from, the systems it needs, and the invariants it is known to break — the
 * tests prove that claim.  A file system names the variants its code runs
 * (FsHarness.variants, in its folder); generic code never names a file
 * system.
 */
import type { InvariantId } from '../properties/ids.ts';
import { fs_types } from './fs/registry.ts';
import { cover, declareVariantPoints } from './lib/coverage.ts';

/**
 * A restriction of generated systems: ext4 with an inline encryption engine,
 * a stable-writes device, ext4 bigalloc on a device with hardware atomic
 * writes, or any file system on such a device.
 */
export const SYSTEM_HINTS = ['inline-crypto', 'stable-writes', 'atomic-bigalloc', 'atomic-hw'] as const;
export type SystemHint = (typeof SYSTEM_HINTS)[number];

interface VariantDecl {
  readonly name: string;
  readonly description: string;
  readonly source: string;
  /** Invariants the checker is proven (by tests) to catch on this variant; none for a design found clean. */
  readonly breaks: readonly InvariantId[];
  /** Further variants it needs (a bug in the RFC needs the RFC itself). */
  readonly implies?: readonly string[];
  /** Generate only systems where the variant can matter (the upstream comparison uses the same). */
  readonly systems?: SystemHint;
}

const DECLARED = [
  {
    name: 'dio-no-invalidate',
    description:
      'A direct write neither writes back and invalidates the page cache over its range before the I/O nor invalidates it after, so a later buffered read returns the cached pre-write data.',
    source: 'mm/filemap.c: kiocb_invalidate_pages, kiocb_invalidate_post_direct_write; fs/iomap/direct-io.c: __iomap_dio_rw, iomap_dio_complete',
    breaks: ['data/read-your-writes'],
  },
  {
    name: 'fsync-no-flush',
    description:
      'fsync/fdatasync that has no journal transaction to commit returns without flushing the device write cache (blkdev_issue_flush), so an fsynced overwrite can be lost at power failure — what mounting with nobarrier does to fsync.',
    source: 'fs/ext4/fsync.c: ext4_sync_file; fs/xfs/xfs_file.c: xfs_file_fsync (blkdev_issue_flush when no log force happened)',
    breaks: ['durability/fsync', 'sync/dsync-durable'],
  },
  {
    name: 'journal-no-preflush',
    description:
      'The journal commit record is written without REQ_PREFLUSH, so metadata (an unwritten-to-written conversion, a size update) can be durable while the data it points at is still in the volatile cache: after a crash the file exposes whatever the blocks held before.',
    source: 'fs/jbd2/commit.c: jbd2_journal_commit_transaction (REQ_PREFLUSH|REQ_FUA commit block); ext4 barrier/nobarrier mount option',
    breaks: ['data/no-stale-exposure'],
  },
  {
    name: 'alloc-split-transactions',
    description:
      'Block allocation commits the free-space update and the extent insertion in separate transactions; a crash between them leaks the blocks (allocated on disk, mapped by nobody).',
    source: 'fs/xfs/libxfs/xfs_bmap.c: xfs_bmapi_write (allocation and bmap update in one transaction); fs/ext4/mballoc.c: ext4_mb_new_blocks under the caller\'s handle',
    breaks: ['alloc/no-leak-after-remount'],
  },
  {
    name: 'alloc-reuse-busy',
    description:
      'Blocks freed by a truncate or hole punch go back to the allocator at once instead of staying busy until the freeing transaction commits; another file (or the same one) reuses them, writes its data, and a crash before the commit leaves the old owner mapping the new data.',
    source: 'fs/xfs/xfs_extent_busy.c (busy extents); fs/ext4/mballoc.c: ext4_mb_free_metadata, ext4_process_freed_data',
    breaks: ['data/no-stale-exposure', 'atomic/no-torn-write'],
  },
  {
    name: 'ext4-no-dioread-nolock',
    description:
      'ext4 buffered writeback allocates written (not unwritten) extents and commits them without waiting for the data, as data=writeback does: a crash after the commit and before the data lands exposes stale block contents.',
    source: 'fs/ext4/inode.c: mpage_map_one_extent (EXT4_GET_BLOCKS_IO_CREATE_EXT with dioread_nolock); Documentation/filesystems/ext4.rst (data=writeback)',
    breaks: ['data/no-stale-exposure'],
  },
  {
    name: 'writeback-end-at-submit',
    description:
      'Writeback ends folio writeback when it submits the bios instead of when they complete, so a folio looks idle while its I/O is in flight (truncate and fsync stop waiting for it).',
    source: 'fs/iomap/buffered-io.c: iomap_finish_folio_write / folio_end_writeback; mm/filemap.c: folio_end_writeback',
    breaks: ['folio/writeback-iff-io-in-flight', 'data/read-your-writes'],
  },
  {
    name: 'write-end-no-dirty-bits',
    description:
      'A buffered write marks the folio dirty but not the per-block dirty bits of iomap_folio_state; writeback writes only dirty blocks, so the data is never written back.',
    source: 'fs/iomap/buffered-io.c: __iomap_write_end (iomap_set_range_dirty), iomap_writeback_folio (ifs_find_dirty_range)',
    breaks: ['folio/dirty-iff-dirty-blocks', 'durability/fsync'],
  },
  {
    name: 'free-without-unmap',
    description:
      'Truncate returns the blocks past EOF to the free-space map but leaves them in the file\'s extent map, so a later allocation hands the same block to another file.',
    source: 'fs/ext4/extents.c: ext4_ext_remove_space / ext4_free_blocks; fs/xfs/xfs_inode.c: xfs_itruncate_extents (unmap and free together)',
    breaks: ['alloc/no-double-allocation', 'data/no-stale-exposure', 'alloc/refcount-consistent'],
  },
  {
    name: 'cow-type-overwritten',
    description:
      'The buffered write ->iomap_begin decides on copy-on-write for a shared block but returns the mapping as plain DELALLOC, without IOMAP_F_SHARED and without the source map: the partial head and tail blocks of the write are zeroed instead of read from the shared block, and the copy written out loses those bytes.',
    source: 'seed 002: [PATCH 05/13] btrfs: Add CoW in iomap based writes, review by Dave Chinner ("The iomap->type is overwritten here and so IOMAP_COW will never be seen by the iomap infrastructure"); modelled in xfs_buffered_write_iomap_begin (found_cow) and in btrfs\'s buffered write mapping (model/btrfs/inode.ts: btrfs_buffered_write_iomap_ops), where every overwrite is copy-on-write',
    breaks: ['iomap/valid-mapping', 'cow/partial-block-preserved', 'data/read-your-writes'],
  },
  {
    name: 'srcmap-ignored-new-cow',
    description:
      'The iomap core decides read-or-zero for a partial block from the destination map when it is a fresh COW block (IOMAP_F_SHARED|IOMAP_F_NEW) instead of from the source map: the mapping is right, but the untouched bytes of a partly written shared block are zeroed.',
    source: 'fs/iomap/buffered-io.c: __iomap_write_begin, iomap_block_needs_zeroing (iomap_iter_srcmap); include/linux/iomap.h: iomap_iter_srcmap; seed 002 (patch 02: read the page from the srcmap for COW)',
    breaks: ['cow/partial-block-preserved', 'data/read-your-writes'],
  },
  {
    name: 'buffered-write-no-dsync',
    description:
      'The buffered write path returns without generic_write_sync, so an O_DSYNC/O_SYNC file or a RWF_DSYNC write is acknowledged while its data is only dirty in the page cache and is lost at a crash.',
    source: 'seed 002: [PATCH 04/13] btrfs: Add a simple buffered iomap write, review by Dave Chinner ("Looks like it fails to handle O_[D]SYNC writes"); include/linux/fs.h: generic_write_sync',
    breaks: ['sync/dsync-durable'],
  },
  {
    name: 'cow-remap-before-io',
    description:
      'Copy-on-write remaps the new blocks into the file when the I/O is submitted (writeback mapping, direct write mapping) instead of when it completes: a log force before the data reaches the disk makes the file point at a staging block that still holds whatever it held before.',
    source: 'fs/xfs/xfs_aops.c: xfs_end_ioend and fs/xfs/xfs_file.c: xfs_dio_write_end_io call xfs_reflink_end_cow only after the I/O completed; fs/xfs/xfs_reflink.c: xfs_reflink_end_cow',
    breaks: ['data/no-stale-exposure'],
  },
  {
    name: 'dio-no-cow',
    description:
      'Direct writes do not consult the COW fork or the reference counts (imap_needs_cow is skipped for direct I/O): an aligned direct write to a shared block overwrites it in place, and the other file of the clone pair sees the new data.',
    source: 'fs/xfs/xfs_iomap.c: xfs_direct_write_iomap_begin (imap_needs_cow -> xfs_reflink_allocate_cow); fs/xfs/xfs_reflink.c: xfs_reflink_allocate_cow',
    breaks: ['iomap/valid-mapping', 'cow/source-unchanged'],
  },
  {
    name: 'dio-read-no-fallback',
    description:
      'A direct read the file system cannot do as direct I/O (here: an ext4 file encrypted without inline crypto) returns short, with nothing read, instead of falling back to a buffered read.',
    source: 'seed 002: [PATCH 07/13] btrfs: basic direct read operation, review by Ritesh Harjani ("No provision to fallback to bufferedIO read?"); fs/ext4/file.c: ext4_file_read_iter (ext4_should_use_dio false -> generic_file_read_iter); fs/btrfs/file.c: btrfs_file_read_iter (a direct read not aligned to the sector size, or of an inline extent, is finished through the page cache)',
    breaks: ['data/read-your-writes'],
  },
  {
    name: 'xfs-atomic-end-cow',
    description:
      'A software (out-of-place) atomic write is remapped at completion the way ordinary copy-on-write is, one transaction per data fork extent (xfs_reflink_end_cow), and the log checkpoints between them: an atomic write over a written block and a hole, then a crash, leaves half the range new and half old.',
    source: 'fs/xfs/xfs_reflink.c: xfs_reflink_end_atomic_cow (one transaction for the whole range, "xfs: commit CoW-based atomic writes atomically") versus xfs_reflink_end_cow_extent; fs/xfs/xfs_file.c: xfs_dio_write_end_io',
    breaks: ['atomic/no-torn-write'],
  },
  {
    name: 'atomic-buffered-fallback',
    description:
      'An RWF_ATOMIC direct write that the direct path cannot do falls back to a buffered write like any other direct write (-ENOTBLK): on XFS when the REQ_ATOMIC path is not possible, instead of the software COW path; on ext4 when a mapping wrote nothing. The data goes through the page cache and is written back in whatever pieces writeback makes.',
    source: 'fs/iomap/direct-io.c: __iomap_dio_rw, "iomap: Don\'t fall back to buffered write if the write is atomic" (6.15); fs/ext4/inode.c: ext4_want_directio_fallback; fs/xfs/xfs_file.c: xfs_file_dio_write_atomic (-ENOPROTOOPT retry); seed 004',
    breaks: ['atomic/no-buffered-fallback', 'atomic/no-torn-write'],
  },
  {
    name: 'xfs-atomic-hw-misaligned',
    description:
      'The XFS hardware atomic path accepts an extent whose disk blocks are not naturally aligned to the write: the REQ_ATOMIC bio may straddle the device\'s atomic boundary or break its alignment rules (the block layer then fails it, or a device tears it).',
    source: 'fs/xfs/xfs_iomap.c: xfs_bmap_hw_atomic_write_possible ("atomic writes are required to be naturally aligned for disk blocks", "xfs: add large atomic writes checks", 6.16); seed 004 (aligned allocation)',
    breaks: ['atomic/single-unsplit-bio'],
  },
  {
    name: 'ext4-atomic-no-force-commit',
    description:
      'ext4 bigalloc: an atomic write over a mixed mapping (written blocks next to holes or unwritten blocks inside one cluster) zeroes the holes and unwritten blocks into one written extent, but does not commit that change before writing the data: a crash after the REQ_ATOMIC bio landed and before the commit recovers the old mapping, where the written part reads new and the rest reads zeroes.',
    source: 'fs/ext4/inode.c: ext4_iomap_alloc (force_commit after ext4_map_blocks_atomic_write_slow, "ext4: Add multi-fsblock atomic write support with bigalloc", 6.16); Documentation/filesystems/ext4/atomic_writes.rst',
    breaks: ['atomic/no-torn-write'],
    systems: 'atomic-bigalloc',
  },
  {
    name: 'ext4-atomic-aligned-alloc-rfc',
    description:
      'The RFC of seed 004: ext4 without bigalloc does atomic writes of several blocks (up to the device\'s unit) by allocating one naturally aligned, power-of-two extent in mballoc (EXT4_MB_HINT_ALIGNED: the goal rounded down to the alignment, else the buddy of that order), and fails the write — ENOSPC when no aligned extent is free, EINVAL over a range already mapped otherwise (misaligned, mixed, or partly delayed) — rather than tear it. Checked clean.',
    source: 'seed 004: [RFC] ext4: atomic direct writes with aligned allocation in mballoc (patches 3 "add aligned allocation support in mballoc", 6 "Add aligned allocation support for atomic direct io", 7 "Support atomic write for statx")',
    breaks: [],
    systems: 'atomic-hw',
  },
  {
    name: 'ext4-rfc-mballoc-unaligned',
    implies: ['ext4-atomic-aligned-alloc-rfc'],
    description:
      'The RFC\'s atomic writes with an mballoc that has no aligned allocation: the request is served by the ordinary goal-directed search (at least the write\'s length, contiguous), which may start anywhere, so the REQ_ATOMIC bio is not naturally aligned on the device.',
    source: 'seed 004 (step 1 of the series: "Enable aligned allocation in ext4 mballoc ... needed for atomic writes"); fs/ext4/mballoc.c: ext4_mb_regular_allocator',
    breaks: ['alloc/aligned-when-required', 'atomic/single-unsplit-bio'],
    systems: 'atomic-hw',
  },
  {
    name: 'ext4-rfc-prealloc-unaligned',
    implies: ['ext4-atomic-aligned-alloc-rfc'],
    description:
      'The RFC\'s aligned allocation is served first from a preallocation — the locality group\'s, whose next free block follows the last small allocation — without checking that the block the write gets there is aligned (the RFC\'s first TODO: normalized and preallocated requests for aligned allocations).',
    source: 'seed 004 (TODO 1: "Fallback to original request size when normalized request size (due to preallocation) allocation is not possible"; patch 4 "allow inode preallocation for aligned alloc"); fs/ext4/mballoc.c: ext4_mb_use_preallocated, ext4_mb_normalize_request',
    breaks: ['alloc/aligned-when-required', 'atomic/single-unsplit-bio'],
    systems: 'atomic-hw',
  },
  {
    name: 'ext4-rfc-aligned-no-fallback',
    implies: ['ext4-atomic-aligned-alloc-rfc'],
    description:
      'The RFC\'s aligned allocation as posted, without its first TODO: an aligned request is normalized to the file\'s predicted size (a power of two, aligned, for the inode preallocation patch 4 allows) and, when no free extent of that size is naturally aligned, fails with ENOSPC — although an aligned extent of the write\'s own length is free. An atomic write fails on a file system with room for it.',
    source: 'seed 004 (TODO 1: "Fallback to original request size when normalized request size (due to preallocation) allocation is not possible"); fs/ext4/mballoc.c: ext4_mb_normalize_request, ext4_mb_regular_allocator',
    breaks: ['alloc/aligned-fails-only-when-none-free'],
    systems: 'atomic-hw',
  },
  {
    name: 'ext4-mb-normalize-no-adjust',
    description:
      'ext4_mb_normalize_request grows a request to the predicted size without trimming it to the blocks the file already has on either side or to its other preallocations (ext4_mb_pa_adjust_overlap): the new preallocation covers file blocks that are already mapped or preallocated, which the kernel guards with BUG_ON (ext4_mb_pa_assert_overlap).',
    source: 'fs/ext4/mballoc.c: ext4_mb_normalize_request ("don\'t cover already allocated blocks in selected range"), ext4_mb_pa_adjust_overlap, ext4_mb_pa_assert_overlap (the rb-tree rework of 6.4 and its fixes)',
    breaks: ['alloc/mb-normalize-bounds'],
  },
  {
    name: 'ext4-mb-discard-leak',
    description:
      'Discarding an inode preallocation gives back pa_free blocks from its start instead of the blocks no file took (ext4_mb_release_inode_pa walks the bitmap for them): blocks the file uses become free while it maps them, and the unused ones are lost until the next mount.',
    source: 'fs/ext4/mballoc.c: ext4_mb_release_inode_pa (the "free %u, pa_free %u" consistency message), ext4_discard_preallocations',
    breaks: ['alloc/prealloc-accounted', 'alloc/no-double-allocation'],
  },
  {
    name: 'atomic-split-max-sectors',
    description:
      'The block layer sizes a REQ_ATOMIC bio against the soft max_sectors (max_sectors_kb, which an administrator may set below the atomic unit) instead of atomic_write_max_sectors, and splits it like any other bio instead of failing it: the two halves are separate writes to the device, and a crash can keep one without the other.',
    source: 'block/blk-merge.c: get_max_io_size (atomic_write_max_sectors for REQ_ATOMIC, "block: Add core atomic write support", 6.11), bio_split ("block: Error an attempt to split an atomic write bio", 6.13); block/blk-settings.c: blk_atomic_writes_update_limits (max_hw_sectors)',
    breaks: ['atomic/single-unsplit-bio', 'atomic/no-torn-write'],
    systems: 'atomic-hw',
  },
  {
    name: 'crypto-dio-lbs-memory',
    description:
      'Direct I/O on an inline-encrypted file accepts user memory aligned only to the logical block size (file position and length still block aligned): a data unit then spans two bvecs, and a bio split at a bvec boundary (segment limits) cuts it.',
    source: 'seed 000: fscrypt direct I/O cover letter ("memory aligned only to the logical block size" is rejected: a crypto data unit could span bvecs, and the block layer may split a bio at any bvec boundary); fs/ext4/file.c: ext4_should_use_dio',
    breaks: ['crypto/dio-alignment-enforced'],
    // Direct I/O on an encrypted file needs an inline engine.
    systems: 'inline-crypto',
  },
  {
    name: 'crypto-split-ignores-du',
    description:
      'The block layer splits a bio with a crypt context at any logical block, as it splits other bios, instead of between data units: with max_sectors_kb not a multiple of the data unit size, a data unit is cut in two.',
    source: 'block/blk-merge.c: bio_split_alignment ("if (bio_has_crypt_ctx(bio)) return data_unit_size"); seed 000',
    breaks: ['crypto/no-split-data-unit'],
    // Only a bio with a crypt context (an inline engine) is split differently.
    systems: 'inline-crypto',
  },
  {
    name: 'crypto-dun-not-advanced',
    description:
      'When the block layer splits a bio with a crypt context, the remainder keeps the DUN of the original first data unit instead of advancing it by the data units split off: the second part is encrypted with the wrong DUNs.',
    source: 'block/blk-crypto.c: bio_crypt_advance (called from bio_split / bio_advance); seed 000',
    breaks: ['crypto/dun-matches-position'],
    systems: 'inline-crypto',
  },
  {
    name: 'crypto-dio-without-engine',
    description:
      'Direct I/O is allowed on an encrypted file that has no inline encryption (no -o inlinecrypt, or an engine without its data unit size): the bios carry no crypt context and the file system cannot encrypt user memory in place, so the plaintext goes to the disk.',
    source: 'fs/crypto/inline_crypt.c: fscrypt_dio_supported ("direct I/O is only supported with inline encryption"); fs/ext4/inode.c: ext4_dio_alignment; seed 000',
    breaks: ['crypto/no-plaintext-on-disk'],
  },
  {
    name: 'crypto-no-dun-wrap-limit',
    description:
      'ext4 maps a direct I/O on an IV_INO_LBLK_32 file without fscrypt_limit_io_blocks: a bio may span the point where the 32-bit DUN (hashed inode number plus block number) wraps from 0xffffffff to 0. blk-crypto counts DUNs on within a bio, so the data units after the wrap are encrypted under DUN 2^32, 2^32+1, ... while every later read of them uses 0, 1, ...: they decrypt to garbage.',
    source: 'fs/crypto/inline_crypt.c: fscrypt_limit_io_blocks ("the DUN wraps around ... blk-crypto requires that the DUN be contiguous within a bio"); fs/ext4/inode.c: ext4_iomap_begin; block/blk-crypto.c: bio_crypt_dun_increment',
    breaks: ['crypto/no-dun-wrap-in-bio', 'data/no-stale-exposure'],
    systems: 'inline-crypto',
  },
  {
    name: 'crypto-merge-ignores-dun',
    description:
      'The block layer merges a bio into the request before it when the two are contiguous on disk and use the same key, without checking that their DUNs are contiguous: the engine encrypts the whole request from the first bio\'s DUN on, so the second bio\'s data units get the wrong DUNs (two blocks of one file, or of two IV_INO_LBLK_64 files, that lie side by side on disk).',
    source: 'block/blk-crypto.c: bio_crypt_ctx_mergeable, bio_crypt_dun_is_contiguous; block/blk-merge.c: blk_rq_merge_ok (blk_crypto_rq_bio_mergeable); fs/crypto/inline_crypt.c: fscrypt_mergeable_bio',
    breaks: ['crypto/dun-matches-position'],
    systems: 'inline-crypto',
  },
  {
    name: 'crypto-all-blk-crypto',
    description:
      'The newer design in which fscrypt always encrypts file contents through blk-crypto: without an inline engine (or without -o inlinecrypt) blk-crypto-fallback encrypts each bio in software, into bounce pages, with the same crypt context an engine would get. Direct I/O is then possible on every encrypted file (block-aligned, as with an engine), and writeback no longer encrypts in the file system. The checker finds no invariant this design breaks.',
    source: 'block/blk-crypto-fallback.c: blk_crypto_fallback_bio_prep, blk_crypto_fallback_encrypt_bio; fs/crypto/inline_crypt.c: fscrypt_select_encryption_impl; seed 000 (direct I/O on encrypted files through blk-crypto)',
    breaks: [],
  },
  {
    name: 'writethrough-rfc',
    description:
      'Buffered RWF_WRITETHROUGH (flag 0x200) as the RFC designs it, wired up in XFS: each folio\'s part of the write is copied in and dirtied, writeback is waited for, folio_mkclean write-protects it (re-dirtying the folio if a mapping had dirtied it), the dirty bits of the written-through blocks are cleared and the folio\'s dirty flag only if no dirty block is left, writeback starts and an asynchronous direct write from the folio is sent; its completion records any error on the mapping and ends writeback. Other file systems answer EOPNOTSUPP; with RWF_NOWAIT or RWF_DONTCACHE it is EINVAL. The checker finds no invariant this design breaks.',
    source: 'seed 003: [RFC 1/3] iomap: Support buffered RWF_WRITETHROUGH via async dio backend (iomap_file_writethrough_write, iomap_writethrough_iter, iomap_writethrough_begin, folio_prepare_writethrough, iomap_writethrough_endio)',
    breaks: [],
  },
  {
    name: 'wt-partial-folio-clean',
    implies: ['writethrough-rfc'],
    description:
      'RWF_WRITETHROUGH clears the folio\'s dirty flag after writing through part of it, without looking for other dirty blocks: a block dirtied by an earlier buffered write elsewhere in the folio is left dirty in a clean folio, so neither writeback nor fsync ever writes it, and reclaim drops it.',
    source: 'seed 003: RFC 1/3 design note 1 ("We might be writing through a partial folio so we need to be careful to not clear the folio dirty bit unless there are no dirty blocks in the folio after the writethrough"); iomap_writethrough_begin (iomap_find_dirty_range)',
    breaks: ['folio/dirty-iff-dirty-blocks', 'folio/no-clean-while-block-dirty', 'data/no-lost-write'],
  },
  {
    name: 'wt-no-mkclean',
    implies: ['writethrough-rfc'],
    description:
      'RWF_WRITETHROUGH starts writeback of a folio without folio_mkclean: a page mapped writable by an earlier store stays writable, so the next store through the mapping changes the folio under writeback without a fault — nothing marks the folio dirty again: fsync does not write the stored bytes (only the unmap at exit finds the dirty PTE), and a crash loses them (durability/fsync: store, write-through, store, fsync, crash, a shape among the templates the checker draws).',
    source: 'seed 003: RFC 1/3 folio_prepare_writethrough ("We are trying to avoid folio_mkclean() usages but we need it here to serialize against mmap writes"); mm/page-writeback.c: folio_clear_dirty_for_io (folio_mkclean)',
    breaks: ['folio/no-clean-while-block-dirty', 'folio/stable-under-writeback', 'durability/fsync'],
    systems: 'stable-writes',
  },
  {
    name: 'wt-direct-iomap-ops',
    implies: ['writethrough-rfc'],
    description:
      'RWF_WRITETHROUGH on XFS uses the direct-write ->iomap_begin as it is for the buffered copy as well as for the direct write (the RFC calls it twice, design note 2: "the second call should just return whatever the first call allocated"). Where a COW fork preallocation covers a hole, that mapping is a written, shared extent with a hole as source, so iomap_write_begin reads the partial block from the never-written staging extent instead of zeroing it, and the write-through sends those stale bytes to disk.',
    source: 'seed 003: RFC 1/3 design note 2 and iomap_writethrough_iter (iomap_write_begin with the allocating mapping); fs/xfs/xfs_iomap.c: xfs_direct_write_iomap_begin (out_found_cow), fs/xfs/xfs_reflink.c: xfs_find_trim_cow; fs/iomap/buffered-io.c: iomap_block_needs_zeroing (iomap_iter_srcmap)',
    breaks: ['data/no-stale-exposure'],
  },
  {
    name: 'wt-endio-drops-error',
    implies: ['writethrough-rfc'],
    description:
      'The completion of a RWF_WRITETHROUGH write ends writeback on the folio but does not record a failed write on the mapping (no mapping_set_error): the write(2) already returned success, the folio is clean, and fsync returns 0 for data that never reached the disk.',
    source: 'seed 003: RFC 1/3 iomap_writethrough_endio ("record any errors and clear writeback on folio"; mapping_set_error); include/linux/pagemap.h: mapping_set_error',
    breaks: ['errors/fsync-reports-writeback-error', 'folio/no-clean-while-block-dirty'],
  },
  {
    name: 'dio-no-bounce',
    description:
      'On a device that needs stable pages (it checksums each sector, T10 PI style) XFS sends direct I/O from the user\'s pages instead of a bounce buffer: a user thread changing its buffer while the write is in flight changes the data after the protection checksum was computed, and the device rejects the write (a guard tag error, EILSEQ) — or, without verification, stores data its checksum does not match.',
    source: 'seed 001: [PATCH] iomap: add a flag to bounce buffer direct I/O ("needed to provide the stable pages requirement requested by devices that need to calculate checksums or parity over the data"); fs/xfs/xfs_file.c (IOMAP_DIO_BOUNCE when mapping_stable_writes)',
    breaks: ['integrity/checksum-matches-data'],
    systems: 'stable-writes',
  },
  {
    name: 'bounce-read-copyback-on-error',
    description:
      'A bounced direct read copies the bounce buffer back to the user even when the read failed: the buffer\'s pages were never filled by the device, so the user receives whatever kernel memory they held.',
    source: 'seed 001: __iomap_dio_bio_end_io -> bio_iov_iter_unbounce(bio, !!dio->error, ...) (copy back only on success); block/bio.c: bio_iov_iter_unbounce',
    breaks: ['data/no-stale-exposure'],
    systems: 'stable-writes',
  },
  {
    name: 'writeback-range-clears-folio',
    description:
      'Writeback of a byte range (fsync of a range, RWF_DONTCACHE, sync_file_range) writes only the dirty blocks of a large folio that fall inside the range, but clears the dirty bits of all the folio\'s blocks: the dirty blocks outside the range are never written.',
    source: 'fs/iomap/buffered-io.c: iomap_writeback_folio (every dirty range of the folio, ifs_find_dirty_range; the whole folio\'s bits cleared); mm/page-writeback.c: writeback_iter (folio granularity)',
    breaks: ['data/no-lost-write', 'folio/no-clean-while-block-dirty'],
  },
  {
    name: 'btrfs-dio-zero-copy-csum',
    description:
      'btrfs before v6.14: a direct write to a file with data checksums is done as direct I/O from the user\'s pages, its checksums computed from the bytes at submission. A thread that changes its buffer while the write is in flight makes the device store bytes the checksum was not computed over: a later read of the block fails with EIO (a checksum error) although nothing went wrong on the device.',
    source: 'fs/btrfs/direct-io.c: btrfs_direct_write ("btrfs: always fallback to buffered write if the inode requires checksum", 968f19c5b1b7, v6.14: the fallback this variant removes); fs/btrfs/bio.c: btrfs_csum_one_bio; seed 001 (stable pages for checksums)',
    breaks: ['integrity/no-false-checksum-error', 'integrity/checksum-matches-data', 'data/read-your-writes'],
  },
  {
    name: 'btrfs-dio-bounce',
    description:
      'The seed 001 design for btrfs: a direct write to a file with data checksums goes through bounce buffers (IOMAP_DIO_BOUNCE) instead of falling back to a buffered write; the checksum and the device see the same bytes, copied at submission, whatever the user does with the buffer meanwhile.',
    source: 'seed 001: [PATCH] iomap: add a flag to bounce buffer direct I/O ("btrfs uses it instead of falling back to buffered I/O"); fs/btrfs/direct-io.c: btrfs_direct_write',
    breaks: [],
  },
  {
    name: 'fix-atomic-append-revalidate',
    description:
      'Proposed fix for the finding atomic-append-unaligned: when an appending write (O_APPEND or RWF_APPEND) is moved to EOF, an RWF_ATOMIC write is validated again at that position (generic_atomic_write_valid: naturally aligned to its length) and fails with EINVAL if EOF is not aligned, before the file system maps or allocates anything. An atomic append at an aligned EOF still works. Checked clean.',
    source: 'fs/read_write.c: generic_write_checks_count (iocb->ki_pos = i_size_read(inode) for IOCB_APPEND, no atomic check after it); fs/read_write.c: generic_atomic_write_valid; docs/findings/atomic-append-unaligned.md',
    breaks: [],
  },
  {
    name: 'fix-xfs-dio-append-unaligned',
    description:
      'Proposed fix for the finding xfs-dio-append-unaligned-cow: xfs_file_dio_write judges whether a direct write is aligned to the file system block at the position it will land — EOF for an appending write — so that an unaligned append to a reflinked file falls back to the page cache (-ENOTBLK), as the same write at an explicit offset does, instead of writing part of a fresh COW block. Checked clean.',
    source: 'fs/xfs/xfs_file.c: xfs_file_dio_write (xfs_is_falloc_aligned / the unaligned check on iocb->ki_pos before xfs_file_write_checks moves it); docs/findings/xfs-dio-append-unaligned-cow.md',
    breaks: [],
  },
  {
    name: 'fix-xfs-unshare-before-commit',
    description:
      'Proposed fix for the finding xfs-unshared-overwrite-before-commit: a block whose other owners were dropped (a truncate, punch, unlink or overwrite of a reflink copy decreased its reference count to one) in a transaction that is not in the log yet is still shared on disk, so an overwrite of the remaining owner goes through the COW fork until that transaction commits (or the log is forced first), as a freed block stays busy until then. Checked clean.',
    source: 'fs/xfs/xfs_reflink.c: xfs_reflink_trim_around_shared, xfs_reflink_find_shared (the in-core refcount btree); fs/xfs/libxfs/xfs_refcount.c: xfs_refcount_decrease_extent; fs/xfs/xfs_extent_busy.c (the same rule for freed extents); docs/findings/xfs-unshared-overwrite-before-commit.md',
    breaks: [],
  },
  {
    name: 'fix-xfs-cow-ondisk-size',
    description:
      'Proposed fix for the finding xfs-atomic-cow-ondisk-size: the completion of a direct write done through the COW fork (xfs_reflink_end_cow and xfs_reflink_end_atomic_cow) moves the on-disk size up to the end of the write (xfs_setfilesize, capped at the in-core size by xfs_new_eof) when the write ends past it, as buffered writeback\'s ioend completion does (xfs_ioend_is_append), not only when it ends past the in-core size. Checked clean.',
    source: 'fs/xfs/xfs_file.c: xfs_dio_write_end_io (xfs_setfilesize only when offset + size > i_size_read); fs/xfs/xfs_aops.c: xfs_end_ioend (xfs_ioend_is_append); docs/findings/xfs-atomic-cow-ondisk-size.md',
    breaks: [],
  },
  {
    name: 'fix-xfs-clone-ondisk-size',
    description:
      'Proposed fix for the finding xfs-sync-clone-ondisk-size: each remap transaction (xfs_reflink_remap_extent) moves the on-disk size up to the end of what it mapped, capped at the in-core size, when it ends past the on-disk size, not only when it ends past the in-core size; the log force of an O_(D)SYNC clone then makes the cloned range readable after a crash. Checked clean.',
    source: 'fs/xfs/xfs_reflink.c: xfs_reflink_remap_extent ("Update dest isize if needed": newlen > i_size_read only), xfs_file_remap_range (xfs_log_force_inode when either file is O_(D)SYNC, commit 5ffce3cc22a0); docs/findings/xfs-sync-clone-ondisk-size.md',
    breaks: [],
  },
  {
    name: 'fix-xfs-sync-zero-eof',
    description:
      'Proposed fix for the finding xfs-sync-extend-eof-zeroing-not-durable: a write that starts past EOF writes back and waits for the range xfs_file_write_zero_eof zeroed (filemap_write_and_wait_range of [old EOF, write)) before the write, as xfs_setattr_size does after its zeroing, so that no log force (the sync of a synchronous write\'s own range, whose completion moves the on-disk size past the old EOF block, or another file\'s fsync) makes that size durable while the zeroed block is dirty in memory only. Checked clean.',
    source: 'fs/xfs/xfs_file.c: xfs_file_write_zero_eof (xfs_zero_range into the page cache only), xfs_file_buffered_write / xfs_file_dio_write_aligned (generic_write_sync of the write\'s range); fs/xfs/xfs_aops.c: xfs_end_ioend -> xfs_setfilesize; docs/findings/xfs-sync-extend-eof-zeroing-not-durable.md',
    breaks: [],
  },
  {
    name: 'fix-dio-read-stop-at-eof',
    description:
      'Proposed fix for the finding xfs-dio-read-delalloc-eio: iomap_dio_rw stops a direct read at the end of the block holding EOF (the completion already cuts what it returns at i_size), so the read never maps the speculative preallocation past EOF, which may still be delalloc after a flush that wrote the EOF block through the COW fork. Checked clean.',
    source: 'fs/iomap/direct-io.c: __iomap_dio_rw (a read iterates over the whole request past i_size), iomap_dio_iter (IOMAP_DELALLOC: "Direct I/O collision with buffered writes!", -EIO); fs/xfs/xfs_aops.c: xfs_map_blocks (the COW fork first); docs/findings/xfs-dio-read-delalloc-eio.md',
    breaks: [],
  },
  {
    name: 'fix-ext4-dio-extend-zero-tail',
    description:
      'Proposed fix for the finding ext4-dio-extend-stale-tail: a direct write that starts beyond EOF first does what ext4_da_do_write_end does for a buffered write: write-protect the page straddling the old EOF and zero it from the old size to the write (pagecache_isize_extended, with blocks smaller than a page), and zero the tail of the old EOF block (ext4_zero_partial_blocks; xfs_file_write_zero_eof for XFS), so that neither a store through mmap past EOF nor bytes a crash left beyond the recovered EOF become file data, and a store through a kept mapping into the part the write brought inside EOF faults and is kept. Checked clean.',
    source: 'fs/ext4/file.c: ext4_dio_write_iter / ext4_dio_write_checks (no zeroing of the old EOF block), ext4_handle_inode_extension (no pagecache_isize_extended); fs/ext4/inode.c: ext4_da_do_write_end (pagecache_isize_extended + ext4_zero_partial_blocks); mm/truncate.c: pagecache_isize_extended (returns at once when the block size is the page size); docs/findings/ext4-dio-extend-stale-tail.md',
    breaks: [],
  },
  {
    name: 'fix-ext4-truncate-zeroing-error',
    description:
      'Proposed fix for the finding ext4-truncate-ignores-zeroing-error: ext4_truncate checks what ext4_block_truncate_page returns (the zeroed length, or an error) and, when zeroing the tail of the new EOF block failed (the block could not be read), stops before the orphan add and the extent removal and returns the error, which ext4_setattr returns: the ftruncate fails with EIO instead of succeeding over a tail that still holds the old bytes. As in Zhang Yi\'s series "ext4: use iomap for regular file\'s buffered I/O path" ([PATCH -next v2 02/22] and 03/22, February 2026), with zero_len an int (v2 declares it unsigned, which makes the check dead: the smatch warning the kernel test robot sent). The new size is already set by then (ext4_setattr sets i_size and i_disksize before calling ext4_truncate) and the blocks past it stay allocated. Checked clean.',
    source: 'fs/ext4/inode.c: ext4_truncate (the result of ext4_block_truncate_page is ignored in 6.18), ext4_block_truncate_page, __ext4_block_zero_page_range (ext4_read_bh_lock: -EIO), ext4_setattr (i_size/i_disksize set before ext4_truncate; "rc = ext4_truncate(inode); if (rc) error = rc;"); lore: 20260203062523.3869120-3-yi.zhang@huawei.com, 20260203062523.3869120-4-yi.zhang@huawei.com; docs/findings/ext4-truncate-ignores-zeroing-error.md',
    breaks: [],
  },
] as const satisfies readonly VariantDecl[];

/** A variant's name, which is also the name of its knob. */
export type VariantName = (typeof DECLARED)[number]['name'];

export interface VariantInfo extends VariantDecl {
  readonly name: VariantName;
  readonly implies?: readonly VariantName[];
  /**
   * The file systems (registered type names) whose harness lists the
   * variant (FsHarness.variants): generated scenarios use only those;
   * undefined when none does (generic code every file system runs).
   */
  readonly fs: readonly string[] | undefined;
}

/** The registered file systems that run a variant's changed code, by their own declaration. */
function variantFs(name: VariantName): readonly string[] | undefined {
  const fss = fs_types().filter((t) => t.harness.variants.includes(name)).map((t) => t.name);
  return fss.length > 0 ? fss : undefined;
}

export const VARIANTS: readonly VariantInfo[] = DECLARED.map((d): VariantInfo => ({
  ...d,
  // Read from the registry when asked (file systems register after this module loads).
  get fs() {
    return variantFs(d.name);
  },
}));

/** Each variant's coverage point (model/lib/coverage.ts), by name: the code the variant changes ran. */
const VARIANT_POINTS: ReadonlyMap<string, string> = new Map(declareVariantPoints(VARIANTS.map((v) => v.name)).map((p, i) => [VARIANTS[i]!.name, p]));

/**
 * The variants switched on for a run, as model code consults them: `on(name)`
 * at the point where the variant diverges from upstream.  `reached` counts
 * the reads of a knob that is on — how often the variant's changed code
 * was consulted.
 */
export class Knobs {
  private readonly set: ReadonlySet<VariantName>;
  reached = 0;

  constructor(names: Iterable<VariantName> = []) {
    this.set = new Set(names);
  }

  on(name: VariantName): boolean {
    cover(VARIANT_POINTS.get(name)!);
    if (this.set.size === 0 || !this.set.has(name)) return false;
    this.reached++;
    return true;
  }

  /** Whether a variant is switched on, for a caller outside the model (not counted as reached). */
  has(name: VariantName): boolean {
    return this.set.has(name);
  }

  /** The variants switched on, in declaration order. */
  names(): VariantName[] {
    return VARIANTS.filter((v) => this.set.has(v.name)).map((v) => v.name);
  }

  get upstream(): boolean {
    return this.set.size === 0;
  }
}

/** Upstream: no variant. */
export const UPSTREAM = new Knobs();

/**
 * Upstream, noting every variant whose knob the model consulted: a run that
 * consulted none of a variant's knobs runs the same on that variant, step
 * for step (model code diverges only where it asks `on(name)`), which lets a
 * search reuse upstream's runs for every variant (checker/exhaustive.ts:
 * ExhaustiveOptions.upstream).
 */
export class ProbeKnobs extends Knobs {
  readonly consulted = new Set<VariantName>();

  override on(name: VariantName): boolean {
    this.consulted.add(name);
    return false;
  }
}

export function findVariant(name: string): VariantInfo | undefined {
  return VARIANTS.find((v) => v.name === name);
}

/** The knobs of one variant (its own and those it implies). */
export function variantKnobs(v: VariantInfo): Knobs {
  return new Knobs([v.name, ...(v.implies ?? [])]);
}

/** Knobs for a scenario's `variant` object ({"name": true, ...}); unknown names were rejected when it was loaded. */
export function knobsFor(variant: Readonly<Record<string, unknown>>): Knobs {
  const names: VariantName[] = [];
  for (const [name, on] of Object.entries(variant)) {
    const v = findVariant(name);
    if (v === undefined || on === false) continue;
    names.push(v.name, ...(v.implies ?? []));
  }
  return new Knobs(names);
}

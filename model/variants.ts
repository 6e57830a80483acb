/**
 * Design variants: named alternatives to upstream behaviour (a rejected
 * approach, a bug found in review, a mount option with weaker guarantees).
 * Upstream is the default; a scenario's `variant` object or `iospec check
 * --variant NAME` switches one on.  Each variant says where it comes from
 * and which invariants it is known to break — the tests prove that claim.
 */

/** The knobs model code consults at the point where a variant diverges. */
export interface Knobs {
  dioNoInvalidate: boolean;
  fsyncNoFlush: boolean;
  journalNoPreflush: boolean;
  allocSplitTransactions: boolean;
  ext4NoDioreadNolock: boolean;
  writebackEndAtSubmit: boolean;
  writeEndNoDirtyBits: boolean;
  freeWithoutUnmap: boolean;
  srcmapIgnoredOnNewCow: boolean;
  writethrough: boolean;
  allocReuseBusy: boolean;
  cowTypeOverwritten: boolean;
  bufferedWriteNoDsync: boolean;
  cowRemapBeforeIo: boolean;
  dioReadNoFallback: boolean;
}

export const UPSTREAM: Knobs = {
  dioNoInvalidate: false,
  fsyncNoFlush: false,
  journalNoPreflush: false,
  allocSplitTransactions: false,
  ext4NoDioreadNolock: false,
  writebackEndAtSubmit: false,
  writeEndNoDirtyBits: false,
  freeWithoutUnmap: false,
  srcmapIgnoredOnNewCow: false,
  writethrough: false,
  allocReuseBusy: false,
  cowTypeOverwritten: false,
  bufferedWriteNoDsync: false,
  cowRemapBeforeIo: false,
  dioReadNoFallback: false,
};

export interface VariantInfo {
  readonly name: string;
  readonly knob: keyof Knobs;
  readonly description: string;
  readonly source: string;
  /** Invariants the checker is proven (by tests) to catch on this variant. */
  readonly breaks: readonly string[];
  /** Restrict generated scenarios to these file systems (the variant only exists there). */
  readonly fs?: ReadonlyArray<'ext4' | 'xfs'>;
}

export const VARIANTS: readonly VariantInfo[] = [
  {
    name: 'dio-no-invalidate',
    knob: 'dioNoInvalidate',
    description:
      'A direct write neither writes back and invalidates the page cache over its range before the I/O nor invalidates it after, so a later buffered read returns the cached pre-write data.',
    source: 'mm/filemap.c: kiocb_invalidate_pages, kiocb_invalidate_post_direct_write; fs/iomap/direct-io.c: __iomap_dio_rw, iomap_dio_complete',
    breaks: ['data/read-your-writes'],
  },
  {
    name: 'fsync-no-flush',
    knob: 'fsyncNoFlush',
    description:
      'fsync/fdatasync that has no journal transaction to commit returns without flushing the device write cache (blkdev_issue_flush), so an fsynced overwrite can be lost at power failure — what mounting with nobarrier does to fsync.',
    source: 'fs/ext4/fsync.c: ext4_sync_file; fs/xfs/xfs_file.c: xfs_file_fsync (blkdev_issue_flush when no log force happened)',
    breaks: ['durability/fsync'],
  },
  {
    name: 'journal-no-preflush',
    knob: 'journalNoPreflush',
    description:
      'The journal commit record is written without REQ_PREFLUSH, so metadata (an unwritten-to-written conversion, a size update) can be durable while the data it points at is still in the volatile cache: after a crash the file exposes whatever the blocks held before.',
    source: 'fs/jbd2/commit.c: jbd2_journal_commit_transaction (REQ_PREFLUSH|REQ_FUA commit block); ext4 barrier/nobarrier mount option',
    breaks: ['data/no-stale-exposure'],
  },
  {
    name: 'alloc-split-transactions',
    knob: 'allocSplitTransactions',
    description:
      'Block allocation commits the free-space update and the extent insertion in separate transactions; a crash between them leaks the blocks (allocated on disk, mapped by nobody).',
    source: 'fs/xfs/libxfs/xfs_bmap.c: xfs_bmapi_write (allocation and bmap update in one transaction); fs/ext4/mballoc.c: ext4_mb_new_blocks under the caller\'s handle',
    breaks: ['alloc/no-leak-after-remount'],
  },
  {
    name: 'alloc-reuse-busy',
    knob: 'allocReuseBusy',
    description:
      'Blocks freed by a truncate or hole punch go back to the allocator at once instead of staying busy until the freeing transaction commits; another file (or the same one) reuses them, writes its data, and a crash before the commit leaves the old owner mapping the new data.',
    source: 'fs/xfs/xfs_extent_busy.c (busy extents); fs/ext4/mballoc.c: ext4_mb_free_metadata, ext4_process_freed_data',
    breaks: ['data/no-stale-exposure'],
  },
  {
    name: 'ext4-no-dioread-nolock',
    knob: 'ext4NoDioreadNolock',
    description:
      'ext4 buffered writeback allocates written (not unwritten) extents and commits them without waiting for the data, as data=writeback does: a crash after the commit and before the data lands exposes stale block contents.',
    source: 'fs/ext4/inode.c: mpage_map_one_extent (EXT4_GET_BLOCKS_IO_CREATE_EXT with dioread_nolock); Documentation/filesystems/ext4.rst (data=writeback)',
    breaks: ['data/no-stale-exposure'],
    fs: ['ext4'],
  },
  {
    name: 'writeback-end-at-submit',
    knob: 'writebackEndAtSubmit',
    description:
      'Writeback ends folio writeback when it submits the bios instead of when they complete, so a folio looks idle while its I/O is in flight (truncate and fsync stop waiting for it).',
    source: 'fs/iomap/buffered-io.c: iomap_finish_folio_write / folio_end_writeback; mm/filemap.c: folio_end_writeback',
    breaks: ['folio/writeback-iff-io-in-flight', 'data/read-your-writes'],
  },
  {
    name: 'write-end-no-dirty-bits',
    knob: 'writeEndNoDirtyBits',
    description:
      'A buffered write marks the folio dirty but not the per-block dirty bits of iomap_folio_state; writeback writes only dirty blocks, so the data is never written back.',
    source: 'fs/iomap/buffered-io.c: __iomap_write_end (iomap_set_range_dirty), iomap_writeback_folio (ifs_find_dirty_range)',
    breaks: ['folio/dirty-iff-dirty-blocks', 'durability/fsync'],
  },
  {
    name: 'free-without-unmap',
    knob: 'freeWithoutUnmap',
    description:
      'Truncate returns the blocks past EOF to the free-space map but leaves them in the file\'s extent map, so a later allocation hands the same block to another file.',
    source: 'fs/ext4/extents.c: ext4_ext_remove_space / ext4_free_blocks; fs/xfs/xfs_inode.c: xfs_itruncate_extents (unmap and free together)',
    breaks: ['alloc/no-double-allocation', 'data/no-stale-exposure'],
  },
];

export function findVariant(name: string): VariantInfo | undefined {
  return VARIANTS.find((v) => v.name === name);
}

/** Knobs for a scenario's `variant` object ({"name": true, ...}). */
export function knobsFor(variant: Readonly<Record<string, unknown>>): Knobs {
  const k: Knobs = { ...UPSTREAM };
  for (const [name, on] of Object.entries(variant)) {
    const v = findVariant(name);
    if (v !== undefined && on !== false) k[v.knob] = true;
  }
  return k;
}

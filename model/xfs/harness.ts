/**
 * The tools' side of XFS (model/fs/registry.ts: FsHarness): how the
 * checker generates XFS systems and scopes, how this machine's kernel
 * makes one, what is known about it (upstream findings, limitations).
 */
import type { FsHarness } from '../fs/registry.ts';
import type { KnownFinding } from '../../checker/finding.ts';
import { appendingWrite, breaks, directReadAt, directWriteAfterClone, firstClone, freesBlocks, overwriteAfterUnshareBeforeCrash, syncClone, syncWritePastRecoveredEof, writeDuringFailedWriteback } from '../../checker/finding.ts';
import { diffSystems } from '../../kernel/diff-target.ts';
import type { Limitation } from '../../kernel/limitation.ts';
import { agreesWithExtraSteps, stepsBefore } from '../../kernel/limitation.ts';

const FINDINGS: readonly KnownFinding[] = [
  {
    id: 'xfs-atomic-cow-ondisk-size',
    summary:
      'XFS: an RWF_ATOMIC direct write done by the software (COW) path that ends below the in-core size but past the on-disk size (a buffered write beyond it has not been written back yet) never moves the on-disk size: xfs_dio_write_end_io updates it only for a write past the in-core size or through unwritten conversion, and xfs_reflink_end_atomic_cow does not. With O_SYNC (or fsync of its range) the write returns success, and after a crash the file is shorter than the write: its bytes cannot be read. Found by the checker; confirmed on Linux 6.18.',
    scenarios: ['test/conformance/xfs-atomic-sync-ondisk-size.json', 'test/conformance/xfs-dio-sync-cow-ondisk-size.json'],
    fix: 'fix-xfs-cow-ondisk-size',
    confirmed: true,
    // A read after the crash may see the short file first (`check --fs xfs --seed 78`);
    // only what the fix makes clean is this finding.
    invariants: ['sync/dsync-durable', 'durability/fsync', 'data/read-your-writes'],
    confirmByFix: true,
    matches(_system, steps, results, v) {
      return breaks(this, v) && (steps.some((s, i) => i < v.step && s.op === 'pwrite' && (s.flags ?? []).includes('RWF_ATOMIC') && (results[i]?.ret ?? 0) > 0) || directWriteAfterClone(steps, results, v.step));
    },
  },
  {
    id: 'xfs-dio-append-unaligned-cow',
    summary:
      'XFS: an appending direct write (O_APPEND or RWF_APPEND) to a reflinked file is checked for block alignment at the offset the caller passed (xfs_file_dio_write), then moved to EOF (xfs_file_write_checks -> generic_write_checks_count), which need not be block aligned. Taking the aligned path, it writes part of a fresh COW staging block without reading or zeroing the rest, and the completion remaps the whole block: the bytes the EOF block shared with the clone source are replaced by whatever the staging block held (zeroes on a fresh loop device, stale data on a used disk), durably. An unaligned write at the same explicit offset is bounced to the page cache (-ENOTBLK) and is fine. Found by the checker; confirmed on Linux 6.18.',
    scenarios: ['test/conformance/xfs-dio-append-reflink-unaligned.json', 'test/conformance/xfs-dio-append-reflink-copy.json'],
    fix: 'fix-xfs-dio-append-unaligned',
    confirmed: true,
    invariants: ['data/read-your-writes', 'data/no-stale-exposure', 'cow/partial-block-preserved', 'durability/fsync'],
    matches(_system, steps, results, v) {
      return breaks(this, v) && appendingWrite(steps, results, v.step, 'direct', firstClone(steps, results));
    },
  },
  {
    id: 'xfs-dio-read-delalloc-eio',
    summary:
      'XFS: a direct read that runs past EOF fails with EIO ("Direct I/O collision with buffered writes!" in the kernel log) with no device error and nothing running concurrently, when the speculative preallocation past EOF is still delalloc in the data fork: iomap_dio_rw does not stop a read at EOF, and the flush before the read wrote the EOF block through the COW fork (a cowextsize preallocation left by a software atomic write), so the data fork\'s delalloc extent was not converted. Found by the checker; confirmed on Linux 6.18.',
    scenarios: ['test/conformance/xfs-dio-read-past-eof-delalloc.json'],
    fix: 'fix-dio-read-stop-at-eof',
    confirmed: true,
    invariants: ['integrity/no-false-checksum-error'],
    matches(_system, steps, _results, v) {
      return breaks(this, v) && directReadAt(steps, v.step);
    },
  },
  {
    id: 'xfs-unshared-overwrite-before-commit',
    summary:
      'XFS: when the other owners of a shared block go (a truncate, punch or unlink of a reflink copy, or a copy-on-write that remapped the other side), its reference count drops to one in a transaction that is only in the log\'s memory, yet the next overwrite of the remaining owner goes in place: xfs_reflink_trim_around_shared reads the in-core refcount btree. A crash before that transaction reaches the log brings the dropped references back, and the copy reads bytes that were written to the other file: an O_DIRECT|O_DSYNC write that returned is enough (its FUA write needs no log force), and a deleted reflink copy comes back holding the other file\'s new data. Found by the checker; confirmed on Linux 6.18.',
    scenarios: ['test/conformance/xfs-unshared-overwrite-dsync-crash.json', 'test/conformance/xfs-unshared-overwrite-truncate-crash.json', 'test/conformance/xfs-unshared-overwrite-fdatasync-crash.json'],
    fix: 'fix-xfs-unshare-before-commit',
    confirmed: true,
    // Within one file (a block cloned to two offsets), the bytes show at the other offset.
    invariants: ['cow/source-unchanged', 'data/no-stale-exposure'],
    confirmByFix: true,
    matches(_system, steps, results, v) {
      return breaks(this, v) && overwriteAfterUnshareBeforeCrash(steps, results, v.step);
    },
  },
  {
    id: 'xfs-sync-clone-ondisk-size',
    summary:
      'XFS: a clone (FICLONERANGE) through an O_DSYNC or O_SYNC file forces the log so that the shared data survives a crash (xfs_file_remap_range, commit 5ffce3cc22a0, fstests xfs/628), but the remap moves the on-disk size only when the cloned range ends past the in-core size (xfs_reflink_remap_extent). When a buffered write beyond the range has moved the in-core size and is not written back yet, the on-disk size stays where it was: after a crash the file ends before the cloned range, and the bytes the synchronous clone returned for cannot be read. Found by the checker; confirmed on Linux 6.18.',
    scenarios: ['test/conformance/xfs-sync-clone-ondisk-size.json', 'test/conformance/xfs-sync-clone-src-dsync-ondisk-size.json'],
    fix: 'fix-xfs-clone-ondisk-size',
    confirmed: true,
    // A read after the crash that comes back short of the cloned range is the same loss (soak with fix-xfs-sync-zero-eof, seed 1).
    invariants: ['sync/dsync-durable', 'data/read-your-writes'],
    confirmByFix: true,
    matches(_system, steps, results, v) {
      return breaks(this, v) && syncClone(steps, results, v.step);
    },
  },
  {
    id: 'xfs-sync-extend-eof-zeroing-not-durable',
    summary:
      'XFS: a synchronous write (an O_SYNC or O_DSYNC file, or RWF_DSYNC; buffered or direct) that starts past an EOF inside a block zeroes the rest of the EOF block in the page cache only (xfs_file_write_checks -> xfs_file_write_zero_eof -> xfs_zero_range), then syncs only its own range (generic_write_sync): that I/O\'s completion moves the on-disk size past the EOF block (xfs_end_ioend or xfs_dio_write_end_io -> xfs_setfilesize) and the log force makes it durable while the zeroed block is still dirty in memory. When the block\'s tail on disk holds old bytes (a write over it whose size update a crash lost), a crash brings them back inside the file, where it must read zeroes. A write past EOF that does not sync is exposed the same way by any later log force that does not write the file back (an O_SYNC write or fsync of another file). Found by the checker; confirmed on Linux 6.18 (an fsync of the whole file writes the zeroed block and reads zeroes).',
    scenarios: ['test/conformance/xfs-sync-extend-eof-zeroing-not-durable.json', 'test/conformance/xfs-sync-extend-eof-zeroing-rwf-dsync.json', 'test/conformance/xfs-sync-extend-eof-zeroing-dio-dsync.json'],
    fix: 'fix-xfs-sync-zero-eof',
    confirmed: true,
    // Bytes past a recovered EOF that the oracle does not know as the file's are stale data; once a
    // durable state took them in, a later crash shows them where zeroes were made durable (by an
    // fsync, an unmount, or the synchronous write itself).
    invariants: ['data/read-your-writes', 'data/no-stale-exposure', 'durability/fsync', 'sync/dsync-durable'],
    confirmByFix: true,
    matches(system, steps, results, v) {
      return breaks(this, v) && syncWritePastRecoveredEof(system, steps, results, v.step);
    },
  },
  {
    id: 'xfs-cow-cancel-writes-shared-in-place',
    summary:
      'XFS: when a writeback through the COW fork fails, xfs_end_ioend cancels the COW fork extents of the whole ioend (xfs_reflink_cancel_cow_range(ip, offset, size, true)), without looking at the folios of that range. A buffered write (or mmap store) that redirtied one of them while the I/O was in flight (without stable pages nothing waits for writeback) found that COW extent (xfs_buffered_write_iomap_begin: found_cow) and made no reservation of its own; the next writeback of the folio finds no COW extent, and xfs_map_blocks maps the data fork\'s block, still shared, and writes it in place: the other owner of the block (another file, or another offset of the same file) reads the new bytes, durably, where a copy-on-write must leave it alone. Found by the checker; read from the source (fs/xfs/xfs_aops.c, xfs_iomap.c, xfs_reflink.c as of 6.14-6.18); needs a failing device, model only here.',
    scenarios: ['test/scenarios/xfs-cow-cancel-writes-shared-in-place.json'],
    confirmed: false,
    // With the other owner's folio cached (and clean), the block changed under it: a clean folio that is not what the disk holds.
    invariants: ['cow/source-unchanged', 'folio/no-clean-while-block-dirty', 'data/read-your-writes'],
    matches(_system, steps, results, v) {
      return breaks(this, v) && writeDuringFailedWriteback(steps, results, v.step);
    },
  },
];

const LIMITATIONS: readonly Limitation[] = [
  {
    name: 'xfs-prealloc-placement',
    reason:
      "XFS sizes speculative post-EOF preallocation from the previous extent and the extents before it that are physically contiguous with it (xfs_iomap_prealloc_size); whether they are depends on where the allocator found space in the allocation group (its btree and log blocks fragment it), which the model does not reproduce: on this kernel mkfs.xfs leaves a 6-block free extent at AG 0 blocks 10-15, before the root inode chunk, and for user data the near allocator takes a free extent before the goal from its start (xfs_alloc_compute_diff), so a file's first small extents land there and a larger one after the chunk, where the model's are contiguous. st_blocks then differs by part of a preallocation, and FIEMAP by the length of the post-EOF extent. Seen with diff --fuzz --fs xfs --count 5000 --seed 2062, scenario 1016.",
    matches: (c) => {
      if (c.d.field === 'extents') return postEofPreallocAfterGap(c.model[c.index]?.extents ?? [], c.kernel[c.index]?.extents ?? []);
      if (c.d.field !== 'statx.blocks') return false;
      // Preallocation applies to extending buffered writes once the file is 64 KiB or more.
      return stepsBefore(c).some((s) => s.op === 'pwrite' && !(s.flags ?? []).length && s.offset + (s.length ?? (s.iov ?? []).reduce((a, v) => a + v.length, 0)) > 65536);
    },
  },
  {
    name: 'xfs-busy-extent-log-force',
    reason:
      "XFS does not hand out blocks freed by a transaction that is not on disk yet (busy extents); when every free extent the near allocator examines is busy once trimmed below the minimum length, it forces the log and searches again (xfs_alloc_ag_vextent_near -> xfs_extent_busy_flush -> xfs_log_force), so every transaction so far becomes durable: a file created, truncated or sized before it survives a crash that would otherwise lose it. Which allocations do this depends on where the freed extents lie among the free-space btree records (xfs_extent_busy_trim), which the model does not follow; it forces the log only when no free block is left. Seen with diff --fuzz --fs xfs --count 5000 --seed 2061, scenario 1270 (a truncate to zero freed the file's unwritten extents, then a 3-block direct write forced the log: the xfs_alloc_near_busy and xfs_log_force trace events, caller xfs_extent_busy_flush). Matched only when the model agrees with the kernel once a journal commit is added before one step that came after blocks were freed.",
    matches: (c) => {
      let crash = -1;
      c.steps.forEach((s, i) => {
        if (i < c.index && s.op === 'crash') crash = i;
      });
      const freed = c.steps.findIndex((s, i) => i < crash && freesBlocks(s));
      if (crash < 0 || freed < 0) return false;
      for (let j = freed + 1; j < crash; j++) if (agreesWithExtraSteps(c, (_s, i) => (i === j - 1 ? [{ op: 'journal_commit' }] : []))) return true;
      return false;
    },
  },
];

interface FiemapExtent {
  readonly logical: number;
  readonly physical?: number;
  readonly length: number;
  readonly flags: readonly string[];
}

/**
 * The FIEMAP answers differ only in the length of the last extent, an
 * unwritten one (the post-EOF preallocation), and the kernel's extents
 * leading up to it have a physical gap where the model's are contiguous.
 */
function postEofPreallocAfterGap(m: readonly FiemapExtent[], k: readonly FiemapExtent[]): boolean {
  const lm = m[m.length - 1];
  const lk = k[k.length - 1];
  if (lm === undefined || lk === undefined || m.length !== k.length || lm.logical !== lk.logical || lm.length === lk.length) return false;
  if (!lk.flags.includes('FIEMAP_EXTENT_UNWRITTEN') || !lm.flags.includes('FIEMAP_EXTENT_UNWRITTEN')) return false;
  const same = (a: FiemapExtent, b: FiemapExtent) => a.logical === b.logical && a.length === b.length && a.flags.join() === b.flags.join();
  if (!m.slice(0, -1).every((e, i) => same(e, k[i]!))) return false;
  // Walk back over the logically adjacent extents before the last one.
  const gap = (es: readonly FiemapExtent[]) => {
    for (let i = es.length - 2; i > 0; i--) {
      const a = es[i - 1]!;
      const b = es[i]!;
      if (a.logical + a.length !== b.logical) return false;
      if (a.physical === undefined || b.physical === undefined) return false;
      if (a.physical + a.length !== b.physical) return true;
    }
    return false;
  };
  return gap(k) && !gap(m);
}

export const xfs_harness: FsHarness = {
  // No fscrypt and no clustered allocation here: not for inline-encryption or bigalloc systems.
  supports: (hint) => hint !== 'inline-crypto' && hint !== 'atomic-bigalloc',
  // mkfs.xfs refuses file systems under 300 MiB.
  generate: () => ({ sizeMiB: 512 }),
  scopes: [{ name: 'xfs', system: { fs: 'xfs', blockSize: 4096 }, dir: '', setup: [] }],
  diffTargets: [{ name: 'xfs', label: 'xfs', systems: diffSystems('xfs') }],
  kernel: {
    // -K: no discard, when the device's old contents must stay (device.fill).
    mkfs: (s) => ['mkfs.xfs', ['-f', '-q', ...(s.device.fill !== 0 ? ['-K'] : []), '-b', `size=${s.blockSize}`, '-m', `reflink=${s.features.includes('reflink') ? 1 : 0}`]],
    tools: [{ cmd: 'mkfs.xfs', pkg: 'xfsprogs' }],
    crash: 'shutdown',
    deviceErrorRefusal: (steps) => (steps.some((s) => s.op === 'clone')
      ? "device_error on XFS after a clone: the COW fork's blocks cannot be found on this kernel (FIEMAP shows the data fork only; GETBMAPX with BMV_IF_COWFORK answers EINVAL on 6.18)"
      : null),
  },
  findings: FINDINGS,
  // The variants whose changed code xfs runs: its own, and the iomap copy-on-write ones (xfs_buffered_write_iomap_begin with the COW fork).
  variants: [
    'cow-remap-before-io',
    'fix-xfs-dio-append-unaligned',
    'fix-xfs-cow-ondisk-size',
    'fix-xfs-clone-ondisk-size',
    'fix-xfs-sync-zero-eof',
    'fix-atomic-append-revalidate',
    'fix-dio-read-stop-at-eof',
    'dio-no-cow',
    'xfs-atomic-end-cow',
    'atomic-buffered-fallback',
    'xfs-atomic-hw-misaligned',
    'writethrough-rfc',
    'wt-partial-folio-clean',
    'wt-no-mkclean',
    'wt-direct-iomap-ops',
    'wt-endio-drops-error',
    'dio-no-bounce',
    'bounce-read-copyback-on-error',
    'cow-type-overwritten',
    'srcmap-ignored-new-cow',
  ],
  limitations: LIMITATIONS,
};

/**
 * The tools' side of btrfs (model/fs/registry.ts: FsHarness): generated
 * systems and scopes, how this machine's kernel makes one and crashes it,
 * what is known about it.
 *
 * btrfs on 6.18 has no shutdown ioctl: a crash copies the loop device's
 * backing file at that moment (with commit=3600 and nodiscard nothing runs
 * in the background) and the next remount mounts that copy, which replays
 * the log tree — a crash that keeps every write the device completed, as
 * the shutdown crash of ext4 and XFS does.
 */
import type { FsHarness } from '../fs/registry.ts';
import type { KnownFinding } from '../../checker/finding.ts';
import { breaks, fallocateAfterDeviceError } from '../../checker/finding.ts';
import type { Step } from '../../scenario/schema.ts';
import type { StepResult } from '../system.ts';
import { diffSystems } from '../../kernel/diff-target.ts';
import { agreesWithExtraSteps } from '../../kernel/limitation.ts';

/** Steps after which btrfs_sync_file runs: fsync, fdatasync, and O_DSYNC/RWF_DSYNC writes through generic_write_sync. */
function syncsFile(s: Step, dsyncFds: ReadonlySet<string>): boolean {
  if (s.op === 'fsync' || s.op === 'fdatasync') return true;
  return s.op === 'pwrite' && (dsyncFds.has(s.fd) || (s.flags ?? []).some((f) => f === 'RWF_DSYNC' || f === 'RWF_SYNC'));
}

/**
 * Before the violation, did a file's size go to a point inside a block (a
 * successful ftruncate), the file then grow past it (ftruncate up, a write
 * or a size-changing fallocate beyond that EOF: btrfs_cont_expand zeroes the
 * old EOF block's tail only in the page cache), a transaction commit
 * (journal_commit) follow with nothing writing that block back in between
 * (fsync, fdatasync or an O_DSYNC write of the file, sync, writeback,
 * remount), and a crash after that?  Then the crash may keep the new size
 * with the old bytes of that block's tail on disk.
 */
export function extendCommittedBeforeTailZeroed(bs: number, steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
  const paths = new Map<string, string>();
  const dsync = new Set<string>();
  /** Per path: the EOF inside a block a truncate set, and whether an extension past it, then a commit, followed. */
  const st = new Map<string, { eof: number; extended: boolean; committed: boolean }>();
  for (let i = 0; i < upTo - 1 && i < steps.length; i++) {
    const s = steps[i]!;
    const r = results[i];
    if (s.op === 'open') {
      paths.set(s.fd, s.path);
      if (s.flags.includes('O_DSYNC') || s.flags.includes('O_SYNC')) dsync.add(s.fd);
      else dsync.delete(s.fd);
      continue;
    }
    if (s.op === 'crash') {
      if ([...st.values()].some((f) => f.committed)) return true;
      st.clear();
      continue;
    }
    if (s.op === 'sync' || s.op === 'remount') {
      for (const f of st.values()) f.extended = false;
      continue;
    }
    if (s.op === 'journal_commit') {
      for (const f of st.values()) if (f.extended) f.committed = true;
      continue;
    }
    if (!('fd' in s) || r?.errno !== undefined) continue;
    const path = paths.get(s.fd);
    if (path === undefined) continue;
    const f = st.get(path);
    if (s.op === 'writeback' || syncsFile(s, dsync)) {
      if (f !== undefined) f.extended = false;
      if (s.op === 'writeback' || s.op === 'fsync' || s.op === 'fdatasync') continue;
    }
    if (s.op === 'ftruncate') {
      if (f !== undefined && s.length > f.eof) f.extended = true;
      else if (s.length % bs !== 0) st.set(path, { eof: s.length, extended: false, committed: false });
      else st.delete(path);
    } else if (f !== undefined && s.op === 'pwrite' && (r?.ret ?? 0) > 0) {
      if (s.offset > f.eof) f.extended = true;
      else if (s.offset + (r?.ret ?? 0) > f.eof) st.delete(path);
    } else if (f !== undefined && s.op === 'fallocate' && (s.mode === 0 || !s.mode.includes('FALLOC_FL_KEEP_SIZE')) && s.offset + s.length > f.eof) {
      f.extended = true;
    }
  }
  return false;
}

/** A directory d made NODATACOW (chattr +C): files created in it are NODATACOW and NODATASUM. */
const NOCOW_DIR: Step[] = [
  { op: 'mkdir', path: 'd' },
  { op: 'open', path: 'd', fd: 'X', flags: ['O_RDONLY', 'O_DIRECTORY'] },
  { op: 'setflags', fd: 'X', flags: ['FS_NOCOW_FL'] },
  { op: 'close', fd: 'X' },
];

/** Kernel bugs the checker runs into on btrfs (counted, not reported again). */
const FINDINGS: readonly KnownFinding[] = [
  {
    id: 'btrfs-nocow-dio-no-bounce',
    summary:
      "btrfs sends a direct write to a NODATACOW (chattr +C) file straight from the user's pages even when the device needs stable pages (it checksums what it receives, T10 PI style): btrfs_dio_write passes no IOMAP_DIO_BOUNCE (XFS bounce buffers there), and a NODATASUM file has no btrfs checksum that would have made it fall back to a buffered write. A thread that changes its buffer while the write is in flight makes the protection information generated at submission stale, and the device fails the write with a guard tag error (EILSEQ). Found by the checker; read from the source (fs/btrfs/direct-io.c); this machine has no device with protection information.",
    scenarios: ['test/scenarios/btrfs-nocow-dio-no-bounce-stable.json'],
    confirmed: false,
    invariants: ['integrity/checksum-matches-data'],
    matches(system, _steps, _results, v) {
      return breaks(this, v) && system.device?.stableWrites === true;
    },
  },
  {
    id: 'btrfs-punch-hole-after-writeback-error',
    summary:
      'btrfs: a hole punch over a block whose writeback failed succeeds but leaves the written bytes readable. The failed ordered extent never inserts its file extent, so on disk the block is a hole while the page cache still holds the bytes (uptodate, clean); btrfs_punch_hole asks find_first_non_hole first, finds a hole, and returns 0 without zeroing the partial block in the page cache (btrfs_truncate_block) or dropping it, so the punched range reads the old bytes until the cache is reclaimed. Found by the checker; read from the source (fs/btrfs/file.c: btrfs_punch_hole); needs a failing device, model only here.',
    scenarios: ['test/scenarios/btrfs-punch-hole-after-writeback-error.json'],
    confirmed: false,
    invariants: ['data/read-your-writes'],
    matches(_system, steps, _results, v) {
      return breaks(this, v) && fallocateAfterDeviceError(steps, v.step, 'FALLOC_FL_PUNCH_HOLE');
    },
  },
  {
    id: 'btrfs-zero-range-prealloc-after-writeback-error',
    summary:
      'btrfs: a ZERO_RANGE inside one block of a preallocated extent whose writeback failed succeeds but leaves the written bytes readable. The failed ordered extent never converts the extent, so on disk the block is still preallocated while the page cache holds the written bytes (uptodate, clean: a write error no longer clears uptodate); btrfs_zero_range sees a range within one block of a PREALLOC extent map, takes it as already reading zeroes and returns 0 without zeroing the page cache (btrfs_truncate_block), so the zeroed range reads the old bytes until the cache is reclaimed. The sibling of btrfs-punch-hole-after-writeback-error. Found by the checker (`check --fs btrfs --seed 79`, and `--seed 7` with 64 KiB folios); read from the source (fs/btrfs/file.c: btrfs_zero_range); needs a failing device, model only here.',
    scenarios: ['test/scenarios/btrfs-zero-range-prealloc-after-writeback-error.json', 'test/scenarios/btrfs-folio64k-failed-fsync-zero-range-read-your-writes.json'],
    confirmed: false,
    invariants: ['data/read-your-writes'],
    matches(_system, steps, _results, v) {
      return breaks(this, v) && fallocateAfterDeviceError(steps, v.step, 'FALLOC_FL_ZERO_RANGE');
    },
  },
  {
    id: 'btrfs-truncate-tail-after-crash',
    summary:
      "btrfs (NO_HOLES, the default): a truncate to a size inside a block zeroes the rest of that block only in the page cache (truncate_setsize; btrfs_truncate_inode_items trims the extent item, the block on disk keeps its bytes). When the file grows again, btrfs_cont_expand zeroes that tail once more through the page cache (btrfs_truncate_block, a delalloc range) and puts the new size in the inode item, and with NO_HOLES maybe_insert_hole inserts nothing. The periodic transaction commit makes the new size durable without writing back delalloc (no flushoncommit), so after a crash between that commit and the flusher (the default 30 s windows of both) the file has the new size and the bytes the truncate cut off, even when the truncate was durable, read again past the old EOF where the file must read zeroes; a later fsync makes them durable. XFS writes the zeroed range back before it logs the size (xfs_setattr_size), ext4 makes it ordered data of the transaction (ext4_block_truncate_page). Found by the checker; reproduced on Linux 6.18 with a shell script (mount -o commit=1, a copy of the mounted image as the crash; with a sync before the copy the tail reads zeroes), not by the kernel runner, which has no periodic commit step.",
    scenarios: ['test/scenarios/btrfs-truncate-tail-after-crash.json'],
    confirmed: false,
    invariants: ['data/read-your-writes', 'durability/fsync'],
    matches(system, steps, results, v) {
      return breaks(this, v) && extendCommittedBeforeTailZeroed(system.blockSize ?? 4096, steps, results, v.step);
    },
  },
  {
    id: 'btrfs-clone-inline-zeroes-folio-start',
    summary:
      "btrfs: a clone whose source is an inline extent, to a destination offset past 0, copies the inline bytes into the destination block (copy_inline_to_page: memcpy_to_folio at offset_in_folio(folio, file_offset)) and then zeroes the rest of the block with folio_zero_range(folio, datal, block_size - datal), an offset counted from the start of the folio, not of the block. With one-page folios and 4 KiB pages the two are the same; with a folio larger than a block (btrfs large data folios, CONFIG_BTRFS_EXPERIMENTAL; or a sector size smaller than the page, where btrfs now creates inline extents as well) it zeroes bytes of an earlier block of the destination and leaves the cloned block's tail with what it held, which writeback then puts on disk: the clone's range reads old data where it must read zeroes. Found by the checker (check --seed 1, a 16 KiB folio); read from the source (fs/btrfs/reflink.c); model only here: this kernel has neither btrfs large folios nor pages larger than 4 KiB.",
    scenarios: ['test/scenarios/btrfs-folio16k-clone-inline-stale-tail.json'],
    confirmed: false,
    invariants: ['data/read-your-writes', 'data/no-stale-exposure'],
    matches(system, steps, _results, v) {
      return breaks(this, v) && (system.folioSize ?? 0) > (system.blockSize ?? 4096) && cloneToLaterBlock(steps, v.step);
    },
    // With one-page folios the zeroes land in the cloned block: the same steps must be clean there.
    cleanWithout: (system) => ({ ...system, folioSize: 0 }),
  },
];

/** A clone from offset 0 of a file (where an inline extent lives) to a later offset, before step `upTo` (1-based). */
function cloneToLaterBlock(steps: readonly Step[], upTo: number): boolean {
  for (let i = 0; i < upTo - 1 && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'clone' && s.srcOffset === 0 && s.offset > 0) return true;
  }
  return false;
}

export const btrfs_harness: FsHarness = {
  // No fscrypt, no clustered allocation, no atomic writes here.
  supports: (hint) => hint === undefined || hint === 'stable-writes',
  // Sector size 4096 only; mkfs.btrfs needs 109 MiB.
  generate: () => ({ sizeMiB: 512, blockSize: 4096 }),
  scopes: [
    { name: 'btrfs', system: { fs: 'btrfs', blockSize: 4096 }, dir: '', setup: [] },
    { name: 'btrfs nodatacow', system: { fs: 'btrfs', blockSize: 4096 }, dir: 'd/', setup: NOCOW_DIR },
  ],
  diffTargets: [
    { name: 'btrfs', label: 'btrfs', systems: diffSystems('btrfs', { blockSizes: [4096] }) },
    { name: 'btrfs-nocow', label: 'btrfs (NODATACOW files)', systems: diffSystems('btrfs', { blockSizes: [4096] }), paths: ['d/f', 'd/g', 'd/h'], prefix: NOCOW_DIR },
  ],
  kernel: {
    // -K: no discard, when the device's old contents must stay (device.fill).
    mkfs: (s) => ['mkfs.btrfs', ['-f', '-q', ...(s.device.fill !== 0 ? ['-K'] : [])]],
    tools: [{ cmd: 'mkfs.btrfs', pkg: 'btrfs-progs' }],
    crash: 'image-copy',
    mountOptions: ['commit=3600', 'nodiscard'],
    deviceErrorRefusal: () => "device_error on btrfs: FIEMAP's physical addresses are btrfs logical addresses (its chunk tree maps them to the device), not device offsets",
  },
  findings: FINDINGS,
  // The variants whose changed code btrfs runs: its own, the iomap copy-on-write ones (every overwrite is copy-on-write) and the direct read fallback (btrfs_file_read_iter).
  variants: [
    'btrfs-dio-zero-copy-csum',
    'btrfs-dio-bounce',
    'cow-type-overwritten',
    'srcmap-ignored-new-cow',
    'dio-read-no-fallback',
  ],
  limitations: [
    {
      name: 'btrfs-fsync-full-commit',
      reason:
        'btrfs_sync_file commits the whole transaction instead of syncing the log tree when btrfs_need_log_full_commit() holds — observed on Linux 6.18 when the transaction allocated a new data block group (the first allocation of another size class: up to 128 KiB, up to 8 MiB, larger; or the block group filling up), which the model does not track (it allocates from one flat data area). Then every metadata change of the transaction is durable, not only the synced file: after a crash, files created or sized since the last commit exist. Matched only when the model agrees with the kernel once such an fsync is followed by a transaction commit (journal_commit).',
      matches: (c) => {
        if (!c.steps.slice(0, c.index).some((s) => s.op === 'crash')) return false;
        const dsync = new Set<string>();
        return agreesWithExtraSteps(c, (s) => {
          if (s.op === 'open' && (s.flags.includes('O_DSYNC') || s.flags.includes('O_SYNC'))) dsync.add(s.fd);
          return syncsFile(s, dsync) ? [{ op: 'journal_commit' }] : [];
        });
      },
    },
  ],
};

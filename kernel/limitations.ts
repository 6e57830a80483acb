/**
 * Known differences between the model and this machine's kernel, each with
 * its reason.  `iospec diff --fuzz` reports a disagreement that matches one
 * as that limitation (counted, listed, never silently dropped); anything
 * else is a new disagreement to fix or to list here.  These are the
 * generic ones; each file system's harness lists its own
 * (model/<fs>/harness.ts).
 */
import { get_fs_type } from '../model/filesystems.ts';
import type { DisagreementContext, Limitation } from './limitation.ts';
import { agreesWithExtraSteps, stepsBefore } from './limitation.ts';

export type { DisagreementContext, Limitation } from './limitation.ts';

export const LIMITATIONS: readonly Limitation[] = [
  {
    name: 'fiemap-extent-boundaries',
    reason:
      'FIEMAP reports extent records as the file system stores them; the model merges physically contiguous extents of one type into one record and splits only at the maximum extent length, while ext4 and XFS may keep (or split into) separate records depending on allocation history. Logical coverage and flags are compared; record boundaries are not specified.',
    matches: (c) => {
      if (c.d.field !== 'extents') return false;
      const cover = (es: unknown) => {
        const list = es as Array<{ logical: number; length: number; flags: string[] }>;
        const out: Array<[number, number, string]> = [];
        for (const e of list) {
          const f = e.flags.filter((x) => x !== 'FIEMAP_EXTENT_LAST' && x !== 'FIEMAP_EXTENT_MERGED').join(',');
          const last = out[out.length - 1];
          if (last !== undefined && last[1] === e.logical && last[2] === f) last[1] = e.logical + e.length;
          else out.push([e.logical, e.logical + e.length, f]);
        }
        return JSON.stringify(out);
      };
      return cover(c.d.model) === cover(c.d.kernel);
    },
  },
  {
    name: 'nowait-timestamps',
    reason:
      'A RWF_NOWAIT write fails with EAGAIN when it would have to update c/mtime (kiocb_modified cannot block), which depends on whether the coarse clock ticked since the last update; the model has no clock and assumes the timestamps are current.',
    matches: (c) => {
      const s = c.steps[c.index];
      return s !== undefined && s.op === 'pwrite' && (s.flags ?? []).includes('RWF_NOWAIT') && c.d.field === 'result' && c.d.kernel === 'EAGAIN';
    },
  },
  {
    name: 'timestamp-tick',
    reason:
      'A read updates atime (touch_atime with relatime: once atime is not newer than c/mtime) and a write, truncate or fallocate updates c/mtime (file_update_time), but only when the coarse clock ticked since the last update: then ext4 (ext4_dirty_inode) and XFS (xfs_vn_update_time) log the inode in the running transaction, and a later fsync (not fdatasync) of the file commits that transaction, with every other change in it (a file created since survives a crash). The model has no clock and takes the timestamps as current, so its fsync commits only what changed the file itself. Seen with diff --fuzz --fs ext4 --count 5000 --seed 2063, scenario 3092 (a read of a new file, a create, an fsync of the first: the created file survives the crash on the kernel); the same on XFS, not on btrfs (its fsync logs the one inode). Matched only when a crash came before and the model agrees with the kernel once a journal commit is added right after one fsync.',
    matches: (c) => {
      if (!stepsBefore(c).some((s) => s.op === 'crash')) return false;
      const fsyncs = stepsBefore(c).flatMap((s, i) => (s.op === 'fsync' ? [i] : []));
      return fsyncs.some((j) => agreesWithExtraSteps(c, (_s, i) => (i === j ? [{ op: 'journal_commit' }] : [])));
    },
  },
  {
    name: 'dontcache-drop-timing',
    reason:
      'Folios written with RWF_DONTCACHE leave the page cache when their writeback completes (folio_end_dropbehind, from the bio completion, which may defer it to a workqueue); how much of a range a later RWF_NOWAIT read still finds cached, and so how many bytes it returns before EAGAIN would block it, depends on when those completions ran. The model drops them when the writeback completes at the step\'s end. Seen with diff --fuzz --fs ext4-bigalloc --count 5000 --seed 2061, scenario 1927: the kernel answered 16384 bytes in one run and 24577 in two others.',
    matches: (c) => {
      const s = c.steps[c.index];
      if (s === undefined || s.op !== 'pread' || !(s.flags ?? []).includes('RWF_NOWAIT') || c.d.field !== 'result') return false;
      return stepsBefore(c).some((p) => p.op === 'pwrite' && (p.flags ?? []).includes('RWF_DONTCACHE'));
    },
  },
  {
    name: 'nowait-read-io-timing',
    reason:
      'A buffered RWF_NOWAIT read (or a direct read the file system sends to the page cache) that finds no folio starts readahead (page_cache_sync_ra), then returns what is uptodate: folios over holes are zeroed at once, folios with data on the device are locked until their read bio completes, and filemap_update_page gives up at the first locked one (EAGAIN, or the bytes copied so far). On a fast loop device the bio sometimes completes first, so the kernel returns more; the model returns the bytes before the first folio that needs device I/O. Seen with diff --fuzz --fs btrfs-nocow --count 5000 --seed 2061, scenario 2427: 57,244 and 65,536 bytes in runs of the same scenario; and --fs xfs --seed 2063, scenario 2853: EAGAIN, 12,287 and 458,751 bytes.',
    matches: (c) => {
      const s = c.steps[c.index];
      if (s === undefined || s.op !== 'pread' || !(s.flags ?? []).includes('RWF_NOWAIT')) return false;
      // EAGAIN: the model stopped at the first folio.
      const m = c.model[c.index]?.errno === 'EAGAIN' ? 0 : c.model[c.index]?.ret;
      const k = c.kernel[c.index]?.ret;
      // The kernel read further than the model, which stopped short of the request, and the bytes both read agree.
      if (c.d.field !== 'result' || m === undefined || k === undefined || !(k > m && m < (s.length ?? 0))) return false;
      return differingRanges(s.offset, c.model[c.index]?.data, c.kernel[c.index]?.data).every(([a]) => a >= s.offset + m);
    },
  },
  {
    name: 'readahead-folio-order',
    reason:
      'Readahead on a mapping with large folios (ext4 without encryption, XFS) grows the folio order as a sequential read goes on: the first window (page_cache_sync_ra) is read in single pages, the next ones (page_cache_async_ra, from the page marked PG_readahead) with ra->order raised by 2 each time, so later parts of the file are cached in 16 KiB, 64 KiB, ... folios. A store through a shared mapping makes the whole folio dirty (page_mkwrite, folio_mark_dirty), and its writeback allocates blocks for all of it. The model reads single pages (no async readahead state, struct file_ra_state), so a store dirties one page: after writeback the kernel has more blocks allocated around the stored range (FIEMAP, st_blocks). Seen with diff --fuzz --fs ext4 --count 5000 --seed 3102, scenario 4982 (2 KiB blocks: a 1 KiB read, a 48 KiB read, a 14 KiB store at 14336: the kernel allocated 12288..32768, the folio 16384..32768 being one order-2 folio; the model 12288..28672). Matched only when a read came before a store through a mapping, and the kernel\'s blocks cover the model\'s and more.',
    matches: (c) => {
      const before = stepsBefore(c);
      const store = before.findIndex((s) => s.op === 'mmap_write');
      if (store < 0 || !before.slice(0, store).some((s) => s.op === 'pread')) return false;
      if (c.d.field === 'statx.blocks') return Number(c.d.kernel) > Number(c.d.model);
      if (c.d.field !== 'extents') return false;
      const cover = (es: unknown) => (es as Array<{ logical: number; length: number }>).map((e) => [e.logical, e.logical + e.length] as const);
      const m = cover(c.d.model);
      const k = cover(c.d.kernel);
      const inside = (a: number, b: number) => k.some(([x, y]) => x <= a && b <= y);
      const total = (r: ReadonlyArray<readonly [number, number]>) => r.reduce((n, [a, b]) => n + b - a, 0);
      return m.every(([a, b]) => inside(a, b)) && total(k) > total(m);
    },
  },
  {
    name: 'enospc-accounting',
    reason:
      'Free space is modelled as data blocks minus a fixed metadata share; the real file systems reserve metadata, journal, per-AG and root-reserved space with their own rules, so the exact point where a nearly full device returns ENOSPC (or a short write) differs, and so does how much a request that ran out of space had allocated (ext4 keeps it and moves the size over it).',
    matches: (c) => c.d.model === 'ENOSPC' || c.d.kernel === 'ENOSPC' || stepsBefore(c).some((s) => s.op === 'pwrite' && (s.length ?? 0) > 64 * 1024 * 1024) || c.kernel.slice(0, c.index).some((r) => r.errno === 'ENOSPC'),
  },
  {
    name: 'dio-einval-prefix',
    reason:
      'A direct write that fails with EINVAL after it started (a misaligned iovec inside a multi-segment request, or a misaligned length in a later mapping: bio_split_io_at, iomap_dio_bio_iter) has already submitted the bios before the failing one. Which bytes those cover depends on how the kernel merged the user pages into bvecs (their physical contiguity) and on where the extents end, neither of which is specified: the content of the failed write\'s range is unspecified (docs/kernel/generic.md, 1.2).',
    matches: (c) => {
      if (c.d.field !== 'data') return false;
      const s = c.steps[c.index];
      if (s === undefined || s.op !== 'pread') return false;
      let path: string | undefined;
      for (const p of c.steps.slice(0, c.index)) if (p.op === 'open' && p.fd === s.fd) path = p.path;
      if (path === undefined) return false;
      const failed = failedDirectWrites(c, path);
      const diff = differingRanges(s.offset, c.d.model, c.d.kernel);
      return diff.length > 0 && diff.every(([a, b]) => failed.some(([x, y]) => x <= a && b <= y));
    },
  },
];

/** Byte ranges [start, end) of file `path` where two reads (runs of [value, count]) from `pos` differ. */
function differingRanges(pos: number, a: unknown, b: unknown): Array<[number, number]> {
  const expand = (runs: unknown): Array<[number, number, number]> => {
    const out: Array<[number, number, number]> = [];
    let at = pos;
    for (const r of (runs ?? []) as Array<[number, number]>) {
      out.push([at, at + r[1], r[0]]);
      at += r[1];
    }
    return out;
  };
  const ra = expand(a);
  const rb = expand(b);
  const cuts = [...new Set([...ra.flatMap((r) => [r[0], r[1]]), ...rb.flatMap((r) => [r[0], r[1]])])].sort((x, y) => x - y);
  const at = (rs: Array<[number, number, number]>, x: number) => rs.find((r) => r[0] <= x && x < r[1])?.[2];
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 1 < cuts.length; i++) if (at(ra, cuts[i]!) !== at(rb, cuts[i]!)) out.push([cuts[i]!, cuts[i + 1]!]);
  return out;
}

/** Ranges of O_DIRECT writes to `path` that failed with EINVAL on both sides before step `index`. */
function failedDirectWrites(c: DisagreementContext, path: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const fdPath = new Map<string, { path: string; direct: boolean }>();
  c.steps.slice(0, c.index).forEach((s, i) => {
    if (s.op === 'open') fdPath.set(s.fd, { path: s.path, direct: s.flags.includes('O_DIRECT') });
    if (s.op !== 'pwrite' || c.kernel[i]?.errno !== 'EINVAL' || c.model[i]?.errno !== 'EINVAL') return;
    const f = fdPath.get(s.fd);
    if (f === undefined || f.path !== path || !f.direct) return;
    const len = s.length ?? (s.iov ?? []).reduce((a, v) => a + v.length, 0);
    out.push([s.offset, s.offset + len]);
  });
  return out;
}

/** The limitation that explains a disagreement: one of the file system's (the more specific), or a generic one. */
export function explain(c: DisagreementContext): Limitation | null {
  return get_fs_type(c.system.fs)?.harness.limitations.find((l) => l.matches(c)) ?? LIMITATIONS.find((l) => l.matches(c)) ?? null;
}

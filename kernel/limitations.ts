/**
 * Known differences between the model and this machine's kernel, each with
 * its reason.  `iospec diff --fuzz` reports a disagreement that matches one
 * as that limitation (counted, listed, never silently dropped); anything
 * else is a new disagreement to fix or to list here.
 */
import type { StepResult } from '../model/system.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import type { Step } from '../scenario/schema.ts';
import type { Disagreement } from './compare.ts';

export interface DisagreementContext {
  readonly system: ResolvedSystem;
  readonly steps: readonly Step[];
  /** 0-based index of the step that disagrees. */
  readonly index: number;
  readonly d: Disagreement;
  readonly model: readonly StepResult[];
  readonly kernel: readonly StepResult[];
}

export interface Limitation {
  readonly name: string;
  readonly reason: string;
  readonly matches: (c: DisagreementContext) => boolean;
}

function stepsBefore(c: DisagreementContext): readonly Step[] {
  return c.steps.slice(0, c.index);
}

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
    name: 'ext4-extent-count',
    reason:
      'ext4 places blocks with mballoc (goal blocks, locality-group and per-inode preallocation), so the same writes can end up in more or fewer physical extents than in the model; with more than four extents the inode needs an extent tree block, which st_blocks counts. Block placement is not part of the specification; the statx block count then differs by one or two blocks.',
    matches: (c) => {
      if (c.system.fs !== 'ext4' || c.d.field !== 'statx.blocks') return false;
      const m = Number(c.d.model);
      const k = Number(c.d.kernel);
      const per = c.system.blockSize / 512;
      const diff = Math.abs(m - k);
      return diff > 0 && diff % per === 0 && diff / per <= 2;
    },
  },
  {
    name: 'xfs-prealloc-placement',
    reason:
      "XFS sizes speculative post-EOF preallocation from the previous extent and the extents before it that are physically contiguous with it (xfs_iomap_prealloc_size); whether they are depends on where the allocator found space in the allocation group (its btree and log blocks fragment it), which the model does not reproduce. st_blocks then differs by part of a preallocation.",
    matches: (c) => {
      if (c.system.fs !== 'xfs' || c.d.field !== 'statx.blocks') return false;
      // Preallocation applies to extending buffered writes once the file is 64 KiB or more.
      return stepsBefore(c).some((s) => s.op === 'pwrite' && !(s.flags ?? []).length && s.offset + (s.length ?? (s.iov ?? []).reduce((a, v) => a + v.length, 0)) > 65536);
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
    name: 'enospc-accounting',
    reason:
      'Free space is modelled as data blocks minus a fixed metadata share; the real file systems reserve metadata, journal, per-AG and root-reserved space with their own rules, so the exact point where a nearly full device returns ENOSPC (or a short write) differs.',
    matches: (c) => c.d.model === 'ENOSPC' || c.d.kernel === 'ENOSPC' || stepsBefore(c).some((s) => s.op === 'pwrite' && (s.length ?? 0) > 64 * 1024 * 1024),
  },
  {
    name: 'xfs-atomic-cow-fork',
    reason:
      'Without hardware atomic writes, XFS writes RWF_ATOMIC data out of place through the COW fork (xfs_atomic_write_cow_iomap_begin), preallocating COW blocks aligned to the CoW extent size hint (32 blocks) around the write; later writeback of any block the COW fork covers goes out of place too (xfs_map_blocks), remapped only when its transaction commits, and st_blocks counts the COW preallocation. The model writes atomic data in place and has no COW fork yet (it comes with copy-on-write and atomic writes, issues 4 and 5).',
    matches: (c) => c.system.fs === 'xfs' && atomicWriteBefore(c),
  },
];

/** Did an earlier step of this scenario succeed as an RWF_ATOMIC write on the kernel? */
function atomicWriteBefore(c: DisagreementContext): boolean {
  return stepsBefore(c).some((s, i) => s.op === 'pwrite' && (s.flags ?? []).includes('RWF_ATOMIC') && (c.kernel[i]?.ret ?? 0) > 0);
}

export function explain(c: DisagreementContext): Limitation | null {
  return LIMITATIONS.find((l) => l.matches(c)) ?? null;
}

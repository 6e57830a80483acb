/**
 * Allocation invariants: blocks are owned once, and nothing is lost.
 */
import type { CheckContext, Invariant } from './invariant.ts';
import type { System } from '../model/system.ts';

interface Owner {
  readonly pblk: number;
  readonly len: number;
  readonly who: string;
}

function inMemoryOwners(sys: System): Owner[] {
  const out: Owner[] = [];
  for (const inode of sys.sb.inodes.values()) {
    for (const e of inode.extents.entries()) {
      if (e.v.pblk < 0) continue;
      out.push({ pblk: e.v.pblk, len: e.end - e.start, who: `inode ${inode.ino} block ${e.start}` });
    }
  }
  return out;
}

function firstOverlap(owners: Owner[]): [Owner, Owner] | null {
  const sorted = owners.slice().sort((a, b) => a.pblk - b.pblk);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.pblk + a.len > b.pblk) return [a, b];
  }
  return null;
}

export const noDoubleAllocation: Invariant = {
  id: 'alloc/no-double-allocation',
  statement:
    'No physical block is mapped by two file blocks unless it is deliberately shared (reflink, with a reference count), and no mapped block is also in the free-space map: the allocator never hands out a block that is still in use.',
  source: 'fs/ext4/mballoc.c: ext4_mb_new_blocks, ext4_free_blocks; fs/xfs/libxfs/xfs_alloc.c: xfs_alloc_vextent, xfs_free_extent',
  oracle: false,
  events: false,
  check(ctx: CheckContext): string | null {
    const owners = inMemoryOwners(ctx.sys);
    const dup = firstOverlap(owners);
    if (dup !== null) {
      return `step ${ctx.n}: physical block ${Math.max(dup[0].pblk, dup[1].pblk)} is mapped by both ${dup[0].who} and ${dup[1].who}`;
    }
    const free = ctx.sys.sb.alloc.free;
    for (const o of owners) {
      if (free.intersects(o.pblk, o.pblk + o.len)) {
        const e = free.overlapping(o.pblk, o.pblk + o.len)[0]!;
        return `step ${ctx.n}: physical block ${e.start} is mapped by ${o.who} but is in the free-space map`;
      }
    }
    return null;
  },
};

export const noLeakAfterRemount: Invariant = {
  id: 'alloc/no-leak-after-remount',
  statement:
    'After any unmount or crash and the next mount (log recovery), every data block of the file system is either free or mapped by a file: no block is lost to a half-finished allocation or free, and none is both.',
  source: 'fs/xfs/xfs_log_recover.c (transactions replay whole); fs/jbd2/recovery.c; e2fsck/xfs_repair block accounting',
  oracle: false,
  events: false,
  check(ctx: CheckContext): string | null {
    if (ctx.step.op !== 'remount') return null;
    const sb = ctx.sys.sb;
    const img = sb.image;
    const owners: Owner[] = [];
    for (const d of img.inodes.values()) {
      for (const e of d.extents.entries()) owners.push({ pblk: e.v.pblk, len: e.end - e.start, who: `inode ${d.ino} block ${e.start}` });
    }
    const dup = firstOverlap(owners);
    if (dup !== null) return `step ${ctx.n}: after mount, physical block ${dup[1].pblk} is mapped by both ${dup[0].who} and ${dup[1].who}`;
    for (const o of owners) {
      if (img.free.intersects(o.pblk, o.pblk + o.len)) return `step ${ctx.n}: after mount, block ${o.pblk} of ${o.who} is also free on disk`;
    }
    const first = sb.alloc.firstDataBlock;
    const total = sb.alloc.totalBlocks;
    const used = owners.reduce((a, o) => a + o.len, 0);
    const free = img.free.covered(first, total);
    if (used + free !== total - first) {
      // Find the first leaked block.
      const all = owners.map((o) => [o.pblk, o.pblk + o.len] as [number, number]);
      for (const e of img.free.entries()) all.push([e.start, e.end]);
      all.sort((a, b) => a[0] - b[0]);
      let pos = first;
      for (const [a, b] of all) {
        if (a > pos) return `step ${ctx.n}: after mount, blocks ${pos}..${a - 1} are neither free nor mapped by any file (leaked)`;
        pos = Math.max(pos, b);
      }
      if (pos < total) return `step ${ctx.n}: after mount, blocks ${pos}..${total - 1} are neither free nor mapped (leaked)`;
      return `step ${ctx.n}: after mount, ${used} mapped + ${free} free blocks != ${total - first} data blocks`;
    }
    return null;
  },
};

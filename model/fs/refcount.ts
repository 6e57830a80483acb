/**
 * Physical block reference counts for shared (reflinked) blocks, as the XFS
 * refcount btree keeps them (fs/xfs/libxfs/xfs_refcount.c): only blocks
 * with two or more owners have a record; a mapped block without one has a
 * single owner.  The same functions update the in-core map and, inside a
 * logged transaction, the on-disk one.
 */
import { IntervalMap } from '../lib/interval-map.ts';
import { cover } from '../lib/coverage.ts';

export type RefcountMap = IntervalMap<number>;

export function newRefcountMap(): RefcountMap {
  return new IntervalMap<number>((v) => v, (a, b) => (a.v === b.v ? a.v : null));
}

/** Runs of [pblk, pblk+n) with their owner count (1 where there is no record). */
export function refcountRuns(map: RefcountMap, pblk: number, n: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  let p = pblk;
  const end = pblk + n;
  for (const e of map.overlapping(pblk, end)) {
    const a = Math.max(e.start, pblk);
    if (a > p) out.push([p, a, 1]);
    const b = Math.min(e.end, end);
    out.push([a, b, e.v]);
    p = b;
  }
  if (p < end) out.push([p, end, 1]);
  return out;
}

/** xfs_refcount_increase_extent: every block of [pblk, pblk+n) gains an owner. */
export function refcountIncrease(map: RefcountMap, pblk: number, n: number): void {
  for (const [a, b, c] of refcountRuns(map, pblk, n)) {
    map.set(a, b, c + 1);
    if (c + 1 === 3) cover('block: third owner');
  }
}

/**
 * xfs_refcount_decrease_extent: every block of [pblk, pblk+n) loses an
 * owner.  Returns the runs that had a single owner: those blocks are free
 * now (the caller frees them, xfs_free_extent_later).
 */
export function refcountDecrease(map: RefcountMap, pblk: number, n: number): Array<[number, number]> {
  const freed: Array<[number, number]> = [];
  for (const [a, b, c] of refcountRuns(map, pblk, n)) {
    if (c <= 1) freed.push([a, b]);
    else if (c === 2) map.remove(a, b);
    else map.set(a, b, c - 1);
  }
  return freed;
}

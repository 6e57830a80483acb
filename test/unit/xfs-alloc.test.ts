/**
 * XFS's choice of a free extent (model/xfs/xfs_alloc.ts): the last-block
 * algorithm of xfs_alloc_ag_vextent_near and the exact try at EOF of
 * xfs_bmap_btalloc_at_eof.  test/conformance/xfs-near-alloc-prefers-whole-extent.json
 * shows the first on Linux 6.18.
 */
import { describe, expect, it } from 'vitest';
import { IntervalMap } from '../../model/lib/interval-map.ts';
import { xfs_alloc_ag_vextent_near, xfs_alloc_compute_diff, xfs_alloc_search, xfs_bmap_select_minlen } from '../../model/xfs/xfs_alloc.ts';

/** A free map of [start, end) ranges. */
function free(...ranges: Array<[number, number]>): IntervalMap<true> {
  const m = new IntervalMap<true>((v) => v, () => true);
  for (const [a, b] of ranges) m.set(a, b, true);
  return m;
}

describe('xfs_alloc_ag_vextent_near (one-leaf by-size btree)', () => {
  it('takes an extent that holds the whole request over a closer, shorter one', () => {
    // Goal 100: a 1-block hole at 110, a large extent from 200.
    expect(xfs_alloc_ag_vextent_near(free([110, 111], [200, 1000]), { goal: 100, len: 2, minLen: 1 })).toEqual({ pblk: 200, len: 2 });
  });
  it('among those that hold it, the closest to the goal; inside one, the goal itself', () => {
    expect(xfs_alloc_ag_vextent_near(free([50, 60], [130, 140], [500, 600]), { goal: 120, len: 4 })).toEqual({ pblk: 130, len: 4 });
    expect(xfs_alloc_ag_vextent_near(free([0, 1000]), { goal: 120, len: 4 })).toEqual({ pblk: 120, len: 4 });
  });
  it('user data before the goal is taken from the start of its extent (xfs_alloc_compute_diff)', () => {
    expect(xfs_alloc_compute_diff(100, 4, 80, 10)).toEqual({ bnew: 80, diff: 20 });
    expect(xfs_alloc_compute_diff(100, 4, 90, 20)).toEqual({ bnew: 100, diff: 0 });
  });
  it('when no extent holds the request, the shorter ones that hold the minimum', () => {
    expect(xfs_alloc_ag_vextent_near(free([10, 13], [300, 302]), { goal: 0, len: 8, minLen: 1 })).toEqual({ pblk: 10, len: 3 });
    expect(xfs_alloc_ag_vextent_near(free([10, 11]), { goal: 0, len: 8, minLen: 2 })).toBeNull();
  });
});

describe('xfs_alloc_search', () => {
  it('at EOF tries the goal exactly first, for as much as the longest free extent holds (xfs_bmap_btalloc_at_eof, xfs_bmap_select_minlen)', () => {
    // A free extent holds the whole request: a shorter run at the goal is not taken.
    expect(xfs_alloc_search(free([100, 101], [200, 1000]), { goal: 100, len: 2, atEof: true })).toEqual({ pblk: 200, len: 2 });
    expect(xfs_alloc_search(free([100, 103], [200, 1000]), { goal: 100, len: 2, atEof: true })).toEqual({ pblk: 100, len: 2 });
    // None does: the minimum is the longest free extent's length, and the goal's run has it.
    expect(xfs_alloc_search(free([100, 101], [200, 201]), { goal: 100, len: 2, atEof: true })).toEqual({ pblk: 100, len: 1 });
    expect(xfs_alloc_search(free([100, 101], [200, 1000]), { goal: 100, len: 2, atEof: false })).toEqual({ pblk: 200, len: 2 });
  });
  it('xfs_bmap_select_minlen: the request minimum when nothing longer is free, else as much of the request as the longest free extent holds', () => {
    expect(xfs_bmap_select_minlen(4, 16, 2)).toBe(4);
    expect(xfs_bmap_select_minlen(1, 16, 8)).toBe(8);
    expect(xfs_bmap_select_minlen(1, 16, 100)).toBe(16);
  });
  it('refuses an aligned request, which no XFS path of the model makes', () => {
    expect(() => xfs_alloc_search(free([0, 100]), { goal: 0, len: 2, align: 4 })).toThrow(/not modelled/);
  });
});

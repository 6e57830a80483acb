/**
 * fs/xfs/libxfs/xfs_alloc.c: how XFS chooses a free extent near a goal
 * block for file data (xfs_alloc_vextent_near_bno -> xfs_alloc_ag_vextent_near).
 *
 * The model has one free map, not allocation groups with their free-space
 * btrees; what it takes from the kernel is the choice XFS makes when the
 * by-size btree (cntbt) is one leaf block, as on the small file systems
 * the checker and the kernel runner make (xfs_btree_islastblock: "the
 * first algorithm"): the free extents are walked in cntbt order (length,
 * then block number) from the first that holds the whole request, and the
 * best is the closest to the goal (xfs_alloc_cur_check); only when none
 * holds the whole request does the walk start at the first that holds the
 * minimum.  The combined bnobt/cntbt locality search of a fragmented AG
 * (xfs_alloc_ag_vextent_locality) is not modelled.
 */
import type { IntervalMap } from '../lib/interval-map.ts';
import type { AllocRequest, Allocation } from '../fs/alloc.ts';
import type { ExtentMap } from '../fs/extent.ts';

/**
 * libxfs/xfs_bmap.c: xfs_bmap_isaeof: is file block `lblk` at or past the
 * end of the fork's last extent, or inside that extent while it is still
 * delalloc?  (An empty fork: yes.)
 */
export function xfs_bmap_isaeof(fork: ExtentMap, lblk: number): boolean {
  const es = fork.entries();
  const last = es[es.length - 1];
  return last === undefined || lblk >= last.end || (lblk >= last.start && last.v.type === 'delalloc');
}

/**
 * xfs_alloc_compute_diff for file data (XFS_ALLOC_USERDATA), unaligned:
 * where in the free extent [bno, bno+len) an allocation of `want` blocks
 * near `goal` goes, and its distance from the goal.  User data is taken
 * from the start of an extent past the goal, and of an extent ending before
 * the goal's end (room to grow after it); else from the goal itself.
 */
export function xfs_alloc_compute_diff(goal: number, want: number, bno: number, len: number): { bnew: number; diff: number } {
  const bnew = bno >= goal || bno + len < goal + want ? bno : goal;
  return { bnew, diff: Math.abs(bnew - goal) };
}

/**
 * xfs_bmap_select_minlen, after xfs_bmap_btalloc_select_lengths found the
 * longest free extent `blen` (pagf_longest, one AG here): the request's
 * minimum if nothing longer is free, else as much of the request as the
 * longest free extent holds — the whole request when one holds it.
 */
export function xfs_bmap_select_minlen(minlen: number, maxlen: number, blen: number): number {
  if (blen < minlen) return minlen;
  return Math.min(blen, maxlen);
}

/**
 * xfs_bmap_btalloc_best_length: the minimum length is what
 * xfs_bmap_select_minlen makes of the longest free extent; an allocation
 * at EOF first tries the goal itself (xfs_bmap_btalloc_at_eof ->
 * xfs_alloc_vextent_exact_bno: from the goal, as much of the free extent
 * holding it as is wanted, if at least that minimum), then the near search
 * (xfs_alloc_vextent_start_ag) with the same minimum; should that fail, the
 * request's own minimum (xfs_bmap_btalloc_low_space).  The FsOps.alloc_search
 * of XFS.  No XFS allocation of the model is aligned (no extent size hint,
 * no stripe unit), so alignment is not modelled here.
 */
export function xfs_alloc_search(free: IntervalMap<true>, req: AllocRequest): Allocation | null {
  if ((req.align ?? 1) > 1) throw new Error(`model bug: an aligned XFS allocation (align ${req.align}) is not modelled`);
  const reqMin = Math.max(1, req.minLen ?? 1);
  let blen = 0;
  for (const e of free.entries()) blen = Math.max(blen, e.end - e.start);
  const minLen = xfs_bmap_select_minlen(reqMin, Math.max(reqMin, req.len), blen);
  if (req.atEof === true) {
    const at = free.find(req.goal);
    if (at !== undefined && at.end - req.goal >= minLen) return { pblk: req.goal, len: Math.min(req.len, at.end - req.goal) };
  }
  return xfs_alloc_ag_vextent_near(free, { goal: req.goal, len: req.len, minLen }) ?? (minLen > reqMin ? xfs_alloc_ag_vextent_near(free, { goal: req.goal, len: req.len, minLen: reqMin }) : null);
}

/**
 * xfs_alloc_ag_vextent_near, the last-block algorithm (with
 * xfs_alloc_cur_setup's maxlen lookup and xfs_alloc_ag_vextent_small's
 * fallback).
 */
export function xfs_alloc_ag_vextent_near(free: IntervalMap<true>, req: AllocRequest): Allocation | null {
  const minLen = Math.max(1, req.minLen ?? 1);
  const maxLen = Math.max(minLen, req.len);
  // The cntbt: free extents by length, then block number.
  const recs = free.entries().map((e) => ({ bno: e.start, len: e.end - e.start }));
  recs.sort((a, b) => a.len - b.len || a.bno - b.bno);
  // xfs_alloc_cur_setup: lookup_ge(maxlen); none that long: start at the first holding minlen.
  let from = recs.findIndex((r) => r.len >= maxLen);
  if (from < 0) from = recs.findIndex((r) => r.len >= minLen);
  if (from < 0) return null;
  let best: { pblk: number; len: number; diff: number } | null = null;
  for (let i = from; i < recs.length; i++) {
    const r = recs[i]!;
    // xfs_alloc_cur_check: at least minlen, at least the best's length, no farther than it.
    if (r.len < minLen) continue;
    const len = Math.min(r.len, maxLen);
    if (best !== null && len < best.len) continue;
    const d = xfs_alloc_compute_diff(req.goal, len, r.bno, r.len);
    if (best !== null && d.diff > best.diff) continue;
    best = { pblk: d.bnew, len, diff: d.diff };
  }
  return best === null ? null : { pblk: best.pblk, len: best.len };
}

/**
 * Free-space management shared by the ext4-like and XFS-like personalities:
 * a map of free block ranges, goal-directed allocation and delayed
 * allocation reservations.  ext4 (fs/ext4/mballoc.c: ext4_mb_new_blocks)
 * and XFS (fs/xfs/libxfs/xfs_alloc.c: xfs_alloc_vextent_near_bno) both
 * search near a goal block first; this model's search is: the free extent
 * containing the goal, else the first one after it, else the first one
 * before it, returning fewer blocks than asked when no extent is big enough
 * (both allocators may return a shorter extent, and the caller loops).
 */
import { IntervalMap } from '../lib/interval-map.ts';
import type { ExtentMap } from './extent.ts';
import { roundUp } from '../lib/math.ts';

/**
 * The goal both allocators start from when the file has allocated blocks
 * (ext4_ext_find_goal, xfs_bmap_adjacent): the physical block continuing
 * the previous extent at the same distance, else the one the next extent
 * would back off to; null when the file has none (or backing off falls
 * before the data area).
 */
export function adjacentGoal(extents: ExtentMap, lblk: number, firstDataBlock: number): number | null {
  let prev: { start: number; v: { pblk: number } } | undefined;
  let next: { start: number; v: { pblk: number } } | undefined;
  for (const e of extents.entries()) {
    if (e.v.pblk < 0) continue;
    if (e.start <= lblk) prev = e;
    else {
      next = e;
      break;
    }
  }
  if (prev !== undefined) return prev.v.pblk + (lblk - prev.start);
  if (next !== undefined && next.v.pblk - (next.start - lblk) >= firstDataBlock) return next.v.pblk - (next.start - lblk);
  return null;
}

export interface AllocRequest {
  /** Preferred first block. */
  goal: number;
  /** Blocks wanted. */
  len: number;
  /** Fewest blocks acceptable in one extent (default 1). */
  minLen?: number;
  /** Physical alignment of the first block, in blocks (default 1). */
  align?: number;
  /**
   * The blocks extend the file's last extent (XFS's bma->aeof): a search
   * may try the goal block exactly first.
   */
  atEof?: boolean;
}

export interface Allocation {
  readonly pblk: number;
  readonly len: number;
}

/** A free-space search: the extent to allocate for `req` from the free ranges, or null (nothing is taken yet). */
export type AllocSearch = (free: IntervalMap<true>, req: AllocRequest) => Allocation | null;

/**
 * The default search (see the file comment): the free extent holding the
 * goal from the goal on, else the first after it, else the first before
 * it, shortened to what it holds.
 */
export function nearGoalSearch(free: IntervalMap<true>, req: AllocRequest): Allocation | null {
  const align = req.align ?? 1;
  const minLen = Math.max(1, req.minLen ?? 1);
  const want = req.len;
  const es = free.entries();
  const fit = (start: number, end: number, from: number): Allocation | null => {
    let s = Math.max(start, from);
    if (align > 1) s = roundUp(s, align);
    const n = Math.min(want, end - s);
    return n >= minLen ? { pblk: s, len: n } : null;
  };
  let got: Allocation | null = null;
  const at = free.find(req.goal);
  if (at !== undefined) got = fit(at.start, at.end, req.goal);
  if (got === null) {
    for (const e of es) {
      if (e.start < req.goal) continue;
      got = fit(e.start, e.end, e.start);
      if (got !== null) break;
    }
  }
  if (got === null) {
    for (const e of es) {
      if (e.start >= req.goal) break;
      got = fit(e.start, e.end, e.start);
      if (got !== null) break;
    }
  }
  return got;
}

export class BlockAllocator {
  /** Free block ranges (block numbers). */
  readonly free: IntervalMap<true>;
  /** Blocks promised to delayed allocations (ext4 s_dirtyclusters_counter, XFS m_fdblocks reservation). */
  reserved = 0;
  /**
   * Blocks out of the free map but held for later by the allocator (ext4's
   * preallocations): free as far as the free-space counters go.
   */
  preallocated = 0;

  constructor(
    readonly firstDataBlock: number,
    readonly totalBlocks: number,
    free?: IntervalMap<true>,
  ) {
    this.free = free ?? new IntervalMap<true>((v) => v, () => true);
    if (free === undefined && totalBlocks > firstDataBlock) this.free.set(firstDataBlock, totalBlocks, true);
  }

  freeBlocks(): number {
    return this.free.total();
  }

  /** Blocks available for new reservations or allocations. */
  available(): number {
    return this.freeBlocks() + this.preallocated - this.reserved;
  }

  /** Reserve `n` blocks for delalloc; false on ENOSPC. */
  reserve(n: number): boolean {
    if (n <= 0) return true;
    if (this.available() < n) return false;
    this.reserved += n;
    return true;
  }

  unreserve(n: number): void {
    this.reserved = Math.max(0, this.reserved - n);
  }

  /**
   * Allocate one extent near `goal` and take it out of the free map; null
   * when nothing fits.  `search` chooses the extent (a file system's own
   * search, FsOps.alloc_search); by default nearGoalSearch.
   */
  alloc(req: AllocRequest, search: AllocSearch = nearGoalSearch): Allocation | null {
    const got = search(this.free, req);
    if (got === null) return null;
    this.free.remove(got.pblk, got.pblk + got.len);
    return got;
  }

  /** Return blocks to the free map. */
  release(pblk: number, len: number): void {
    this.free.set(pblk, pblk + len, true);
  }

  /** True when every block of [pblk, pblk+len) is free. */
  isFree(pblk: number, len: number): boolean {
    return this.free.covered(pblk, pblk + len) === len;
  }

  clone(): BlockAllocator {
    const a = new BlockAllocator(this.firstDataBlock, this.totalBlocks, this.free.clone());
    a.reserved = this.reserved;
    a.preallocated = this.preallocated;
    return a;
  }
}

/**
 * In-core file block mappings.  The types are the iomap mapping types a
 * file system's ->iomap_begin reports (include/linux/iomap.h): a block is a
 * HOLE (absent from the map), DELALLOC (reserved, no block yet), MAPPED
 * (allocated and written) or UNWRITTEN (allocated, reads as zeroes).  ext4
 * keeps these in its extent status tree, XFS in the data fork's in-core
 * extent list; `shared` marks a block whose physical block other files map
 * too (reflink).
 */
import { IntervalMap } from '../lib/interval-map.ts';

export type ExtType = 'delalloc' | 'mapped' | 'unwritten';

export interface Extent {
  readonly type: ExtType;
  /** First physical block; -1 for delalloc. */
  readonly pblk: number;
}

export function cutExtent(e: Extent, delta: number): Extent {
  return e.pblk < 0 ? e : { type: e.type, pblk: e.pblk + delta };
}

function mergeExtent(a: { start: number; end: number; v: Extent }, b: { start: number; v: Extent }): Extent | null {
  if (a.v.type !== b.v.type) return null;
  if (a.v.pblk < 0 && b.v.pblk < 0) return a.v;
  if (a.v.pblk >= 0 && a.v.pblk + (a.end - a.start) === b.v.pblk) return a.v;
  return null;
}

/** A file's block map: file block number -> extent. */
export function newExtentMap(): IntervalMap<Extent> {
  return new IntervalMap<Extent>(cutExtent, mergeExtent);
}

export type ExtentMap = IntervalMap<Extent>;

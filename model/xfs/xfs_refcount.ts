/**
 * fs/xfs/libxfs/xfs_refcount.c, the CoW staging records: blocks allocated
 * to an in-core COW fork are recorded in the refcount btree (durably, with
 * the allocation), so that log recovery can free those a crash left
 * behind (xfs_refcount_recover_cow_leftovers).  Shared-block counts use
 * the generic reference count map (model/fs/refcount.ts).
 */
import type { DiskImage } from '../fs/journal.ts';
import { IntervalMap } from '../lib/interval-map.ts';

/** What XFS keeps on disk beyond the generic image. */
class XfsDiskState {
  /** CoW staging extents (physical blocks). */
  readonly cowStaging = new IntervalMap<true>(() => true, () => true);
}

/** The CoW staging records of an image. */
export function xfs_refcount_cow_records(image: DiskImage): IntervalMap<true> {
  const p = image.s_priv;
  if (p instanceof XfsDiskState) return p.cowStaging;
  const st = new XfsDiskState();
  image.s_priv = st;
  return st.cowStaging;
}

/**
 * xfs_reflink_recover_cow (xfs_mountfs, after log recovery): CoW staging
 * blocks a crash left behind are freed; the COW forks were in-core only.
 */
export function xfs_refcount_recover_cow_leftovers(image: DiskImage): void {
  const rec = xfs_refcount_cow_records(image);
  for (const e of rec.entries()) image.free.set(e.start, e.end, true);
  rec.clear();
}

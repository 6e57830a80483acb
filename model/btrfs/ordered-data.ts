/**
 * fs/btrfs/ordered-data.c: waiting for ordered extents.  The ordered
 * extents themselves (BTRFS_I(inode).ordered) are made at writeback
 * (inode.ts: btrfs_writepages_map) and completed at bio end
 * (btrfs_finish_ordered / btrfs_cancel_ordered).
 */

import type { Inode } from '../fs/inode.ts';
import { filemap_fdatawait_range, filemap_fdatawrite_range, filemap_write_and_wait_range } from '../mm/filemap.ts';
import { BTRFS_I } from './btrfs_inode.ts';

/**
 * btrfs_wait_ordered_range: write out the dirty data of [start, end]
 * (bytes, inclusive), wait for its ordered extents, and return -EIO if a
 * write there failed (filemap_fdatawait_range's error, or
 * BTRFS_ORDERED_IOERR).
 */
export function btrfs_wait_ordered_range(inode: Inode, start: number, end: number): number {
  return filemap_write_and_wait_range(inode.mapping, start, end);
}

/**
 * btrfs_start_ordered_extent for the ordered extent at file block `lblk`,
 * if there is one: its folios "can be dirty, clean or writeback" — the
 * dirty ones are written (filemap_fdatawrite_range over the extent), then
 * the extent's completion is waited for (wait_event on
 * BTRFS_ORDERED_COMPLETE: nothing is returned, a write error stays on the
 * mapping and the ordered extent).  The model's ordered extents are the
 * blocks of BTRFS_I(inode).ordered (and .nocowOrdered, written in place);
 * the one at lblk is its run there.
 * Returns whether there was one.
 */
export function btrfs_start_ordered_extent(inode: Inode, lblk: number): boolean {
  const bi = BTRFS_I(inode);
  const oe = bi.ordered.find(lblk) ?? bi.nocowOrdered.find(lblk);
  if (oe === undefined) return false;
  const bs = inode.blockSize;
  filemap_fdatawrite_range(inode.mapping, oe.start * bs, oe.end * bs - 1, 'all');
  filemap_fdatawait_range(inode.mapping, oe.start * bs, oe.end * bs - 1);
  return true;
}

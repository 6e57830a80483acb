/**
 * fs/btrfs/ordered-data.c: waiting for ordered extents.  The ordered
 * extents themselves (BTRFS_I(inode).ordered) are made at writeback
 * (inode.ts: btrfs_writepages_map) and completed at bio end
 * (btrfs_finish_ordered / btrfs_cancel_ordered).
 */

import type { Inode } from '../fs/inode.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';

/**
 * btrfs_wait_ordered_range: write out the dirty data of [start, end]
 * (bytes, inclusive), wait for its ordered extents, and return -EIO if a
 * write there failed (filemap_fdatawait_range's error, or
 * BTRFS_ORDERED_IOERR).
 */
export function btrfs_wait_ordered_range(inode: Inode, start: number, end: number): number {
  return filemap_write_and_wait_range(inode.mapping, start, end);
}

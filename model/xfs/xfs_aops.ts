/**
 * fs/xfs/xfs_aops.c: writeback mapping and ioend completion.
 */
import type { Inode } from '../fs/inode.ts';
import type { Iomap } from '../iomap/iomap.ts';
import type { Ioend } from '../iomap/ioend.ts';
import { xfs_bmapi_convert_delalloc, xfs_iomap_write_unwritten, xfs_read_iomap_begin } from './xfs_iomap.ts';

/**
 * xfs_map_blocks: the mapping of the block at `pos` for writeback; a
 * delalloc extent is allocated whole, as unwritten extents.
 */
export function xfs_map_blocks(inode: Inode, pos: number, len: number): Iomap | number {
  const bs = inode.blockSize;
  const lblk = Math.floor(pos / bs);
  const at = inode.extents.find(lblk);
  if (at !== undefined && at.v.type === 'delalloc') {
    const r = xfs_bmapi_convert_delalloc(inode, lblk);
    if (r < 0) return r;
  }
  return xfs_read_iomap_begin(inode, pos, len);
}

/**
 * xfs_end_ioend: convert what the I/O wrote (the on-disk size moves with
 * it, to at most the in-core size), else just move the on-disk size
 * (xfs_setfilesize).
 */
export function xfs_end_ioend(inode: Inode, io: Ioend): number {
  if (inode.sb.shutdown) return -5;
  const end = Math.min(io.offset + io.size, inode.i_size);
  if (io.unwritten) return xfs_iomap_write_unwritten(inode, io.offset, io.size, false);
  if (end > inode.disksize) inode.sb.setDisksize(inode, end);
  return 0;
}

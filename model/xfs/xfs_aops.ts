/**
 * fs/xfs/xfs_aops.c: writeback mapping and ioend completion.
 */
import type { Inode } from '../fs/inode.ts';
import type { Iomap } from '../iomap/iomap.ts';
import { IOMAP_F_SHARED } from '../iomap/iomap.ts';
import type { Ioend } from '../iomap/ioend.ts';
import { EIO } from '../lib/errno.ts';
import { xfs_cow_fork, xfs_inode_has_cow_data } from './xfs_inode.ts';
import { xfs_bmapi_convert_delalloc, xfs_iomap_write_unwritten, xfs_read_iomap_begin } from './xfs_iomap.ts';
import { xfs_cow_convert_delalloc, xfs_cow_lookup, xfs_reflink_cancel_cow_range, xfs_reflink_convert_cow, xfs_reflink_end_cow } from './xfs_reflink.ts';

/**
 * xfs_map_blocks: the mapping of the block at `pos` for writeback.  A
 * COW-fork extent there wins whenever the inode has COW data (its delalloc
 * is allocated whole as staging, and the blocks about to be written are
 * converted, xfs_reflink_convert_cow); otherwise the data fork, stopping at
 * the next COW extent, with a delalloc extent allocated whole as unwritten.
 */
export function xfs_map_blocks(inode: Inode, pos: number, len: number): Iomap | number {
  const bs = inode.blockSize;
  const lblk = Math.floor(pos / bs);
  const want = Math.max(lblk + 1, Math.ceil((pos + len) / bs));
  const cowAt = xfs_inode_has_cow_data(inode) ? xfs_cow_lookup(inode, lblk) : null;
  if (cowAt !== null && cowAt.e !== undefined) {
    if (cowAt.e.type === 'delalloc') {
      const r = xfs_cow_convert_delalloc(inode, lblk);
      if (r < 0) return r;
    }
    const at = xfs_cow_fork(inode)!.find(lblk)!;
    const end = Math.min(at.end, want);
    xfs_reflink_convert_cow(inode, lblk, end);
    const m: Iomap = { addr: (at.v.pblk + (lblk - at.start)) * bs, offset: lblk * bs, length: (end - lblk) * bs, type: 'mapped', flags: IOMAP_F_SHARED };
    // Variant cow-remap-before-io: the remap is logged before the data is written.
    if (inode.sb.k.v.on('cow-remap-before-io')) xfs_reflink_end_cow(inode, lblk * bs, (end - lblk) * bs);
    return m;
  }
  const at = inode.extents.find(lblk);
  if (at !== undefined && at.v.type === 'delalloc') {
    const r = xfs_bmapi_convert_delalloc(inode, lblk);
    if (r < 0) return r;
  }
  const m = xfs_read_iomap_begin(inode, pos, len);
  if (cowAt !== null && cowAt.end < Number.MAX_SAFE_INTEGER && m.offset + m.length > cowAt.end * bs) m.length = cowAt.end * bs - m.offset;
  return m;
}

/**
 * xfs_end_ioend: convert what the I/O wrote (the on-disk size moves with
 * it, to at most the in-core size), else just move the on-disk size
 * (xfs_setfilesize).
 */
export function xfs_end_ioend(inode: Inode, io: Ioend): number {
  if (inode.sb.shutdown) return -EIO;
  if (io.error !== 0) {
    // The write failed: nothing is converted or remapped, and the COW staging blocks are
    // given back, so that a rewrite allocates new ones (xfs_reflink_cancel_cow_range).
    if (io.shared) {
      const bs = inode.blockSize;
      xfs_reflink_cancel_cow_range(inode, Math.floor(io.offset / bs), Math.ceil((io.offset + io.size) / bs), true);
    }
    return io.error;
  }
  if (io.shared && !inode.sb.k.v.on('cow-remap-before-io')) {
    const r = xfs_reflink_end_cow(inode, io.offset, io.size);
    if (r < 0) return r;
  }
  const end = Math.min(io.offset + io.size, inode.i_size);
  if (io.unwritten) return xfs_iomap_write_unwritten(inode, io.offset, io.size, false);
  if (end > inode.disksize) inode.sb.setDisksize(inode, end);
  return 0;
}

/**
 * fs/xfs/xfs_iops.c: getattr (st_blocks, DIO alignment, atomic write
 * limits) and the size change of setattr.
 */
import type { Inode } from '../fs/inode.ts';
import type { Kstat } from '../fs/super.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import { EFBIG, EIO } from '../lib/errno.ts';
import { XFS_I, xfs_cow_blocks, xfs_inode_has_cow_data } from './xfs_inode.ts';
import { XFS_M } from './xfs_mount.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';
import { truncate_setsize } from '../mm/truncate.ts';
import { STATX_BASIC_STATS, STATX_DIOALIGN, STATX_DIO_READ_ALIGN, STATX_WRITE_ATOMIC } from '../vfs/fcntl.ts';
import { xfs_truncate_page, xfs_zero_range } from './xfs_iomap.ts';
import { xfs_is_cow_inode, xfs_reflink_cancel_cow_range } from './xfs_reflink.ts';

/** Data fork extent records that fit in the inode literal area (512-byte v5 inode, no xattrs). */
const XFS_INLINE_EXTENTS = 21;

/** bmbt blocks charged to the inode once its extents no longer fit in the inode. */
function xfs_bmbt_blocks(inode: Inode): number {
  let n = 0;
  for (const e of inode.extents.entries()) if (e.v.type !== 'delalloc') n++;
  if (n <= XFS_INLINE_EXTENTS) return 0;
  const perLeaf = Math.floor((inode.blockSize - 72) / 16);
  return Math.ceil(n / perLeaf);
}

/**
 * xfs_get_atomic_write_min / _max: software (COW-based) atomic writes need
 * reflink; the maximum comes from the per-AG limit computed at mount
 * (m_groups[AG].awu_max), here the values this machine's kernel reports.
 */
export function xfs_atomic_limits(inode: Inode): { min: number; max: number } {
  const sb = inode.sb;
  const hw = sb.k.disk.limits.atomic_write_unit_min > 0 && sb.blockSize >= sb.k.disk.limits.atomic_write_unit_min && sb.blockSize <= sb.k.disk.limits.atomic_write_unit_max;
  const sw = sb.hasFeature('reflink');
  if (!hw && !sw) return { min: 0, max: 0 };
  const min = sb.blockSize;
  if (!sw) return { min, max: sb.blockSize };
  return { min, max: XFS_M(sb).awu_max };
}

/** xfs_vn_getattr: a shut-down file system answers EIO. */
export function xfs_vn_getattr(inode: Inode, mask: number): Kstat | number {
  const sb = inode.sb;
  if (sb.shutdown) return -EIO;
  const bs = inode.blockSize;
  const st: Kstat = {
    size: inode.i_size,
    // i_nblocks + i_delayed_blks: the COW fork (reservations and staging) is in the latter.
    blocks: (inode.allocatedBlocks() + xfs_bmbt_blocks(inode) + inode.delayed + xfs_cow_blocks(inode)) * (bs / 512),
    blksize: Math.max(PAGE_SIZE, bs),
    result_mask: STATX_BASIC_STATS,
  };
  const lim = sb.k.disk.limits;
  if ((mask & (STATX_DIOALIGN | STATX_DIO_READ_ALIGN)) !== 0 && inode.kind === 'reg') {
    // xfs_report_dioalign
    st.result_mask |= STATX_DIOALIGN | STATX_DIO_READ_ALIGN;
    st.dio_mem_align = lim.dma_alignment + 1;
    st.dio_read_offset_align = lim.logical_block_size;
    st.dio_offset_align = xfs_is_cow_inode(inode) ? bs : lim.logical_block_size;
  }
  if ((mask & STATX_WRITE_ATOMIC) !== 0 && inode.kind === 'reg') {
    st.result_mask |= STATX_WRITE_ATOMIC;
    const { min, max } = xfs_atomic_limits(inode);
    st.atomic_write_unit_min = min;
    st.atomic_write_unit_max = min > 0 ? max : 0;
    st.atomic_write_segments_max = min > 0 ? 1 : 0;
    // xfs_get_atomic_write_max_opt: beyond one block, the hardware limit is the fast ceiling.
    st.atomic_write_unit_max_opt = min > 0 && max > sb.blockSize ? Math.min(max, lim.atomic_write_unit_max) : 0;
  }
  return st;
}

/**
 * xfs_setattr_size: zero the partial block at the size boundary through the
 * page cache, set the size and drop the page cache beyond it, flush what a
 * size change must not lose, log the new on-disk size, and free every
 * block past the new EOF block when shrinking (or keeping the size).
 */
export function xfs_setattr_size(inode: Inode, newsize: number): number {
  const sb = inode.sb;
  const oldsize = inode.i_size;
  if (newsize > sb.s_maxbytes) return -EFBIG;
  if (newsize === 0 && oldsize === 0 && inode.extents.isEmpty()) return 0;
  const did = { v: false };
  const zeroed = newsize > oldsize ? xfs_zero_range(inode, oldsize, newsize - oldsize, did) : xfs_truncate_page(inode, newsize, did);
  if (zeroed < 0) return zeroed;
  truncate_setsize(inode.mapping, inode.blockSize, (v) => (inode.i_size = v), oldsize, newsize);
  if (did.v || (newsize > inode.disksize && oldsize !== inode.disksize)) {
    filemap_write_and_wait_range(inode.mapping, inode.disksize, newsize - 1);
  }
  sb.setDisksize(inode, newsize);
  if (newsize <= oldsize) {
    // xfs_itruncate_extents_flags: both forks past the new EOF block.
    const eofFsb = Math.ceil(newsize / inode.blockSize);
    sb.unmapBlocks(inode, eofFsb, Number.MAX_SAFE_INTEGER - eofFsb, 'truncate');
    xfs_reflink_cancel_cow_range(inode, eofFsb, Number.MAX_SAFE_INTEGER, true);
    // xfs_itruncate_clear_reflink_flags: nothing left in either fork.
    if (inode.extents.isEmpty() && !xfs_inode_has_cow_data(inode)) sb.clearInodeFlag(inode, 'reflink');
    XFS_I(inode).itruncated = true;
  }
  return 0;
}

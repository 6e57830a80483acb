/**
 * fs/xfs/xfs_super.c and the XFS operation tables.
 */
import type { FsOps, SuperBlock } from '../fs/super.ts';
import { makeAops } from '../fs/aops.ts';
import { iomap_fiemap } from '../fs/fiemap.ts';
import { iomap_page_mkwrite } from '../iomap/buffered-io.ts';
import { EIO } from '../lib/errno.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';
import { xfs_end_ioend, xfs_map_blocks } from './xfs_aops.ts';
import {
  xfs_evict,
  xfs_file_fallocate,
  xfs_remap_file_range,
  xfs_file_fsync,
  xfs_file_open,
  xfs_file_read_iter,
  xfs_file_release,
  xfs_file_write_iter,
} from './xfs_file.ts';
import { xfs_buffered_write_iomap_ops, xfs_read_iomap_begin } from './xfs_iomap.ts';
import { xfs_setattr_size, xfs_vn_getattr } from './xfs_iops.ts';

/**
 * The per-AG software atomic write limit (m_groups[XG_TYPE_AG].awu_max),
 * which the kernel derives from the AG size and the log reservation at
 * mount.  These are the values this machine's kernel reports for the
 * default mkfs geometry (see docs/kernel/xfs.md §7).
 */
function xfs_awu_max_blocks(sb: SuperBlock, sizeMiB: number): number {
  if (sb.blockSize <= 1024) return 128;
  return sizeMiB >= 4096 ? 512 : 256;
}

function xfs_fs_fill_super(sb: SuperBlock): void {
  sb.info['maxbytes'] = Number.MAX_SAFE_INTEGER;
  const sizeMiB = sb.k.disk.sizeBytes / (1024 * 1024);
  sb.info['awu_max'] = xfs_awu_max_blocks(sb, sizeMiB) * sb.blockSize;
}

export const xfs_ops: FsOps = {
  name: 'xfs',
  large_folios: () => true,
  fill_super: xfs_fs_fill_super,
  recover() {},
  open: xfs_file_open,
  write_iter: xfs_file_write_iter,
  read_iter: xfs_file_read_iter,
  fsync: xfs_file_fsync,
  fallocate: xfs_file_fallocate,
  remap_file_range: xfs_remap_file_range,
  setattr_size(file, size) {
    if (file.inode.sb.shutdown) return -EIO;
    return xfs_setattr_size(file.inode, size);
  },
  getattr: xfs_vn_getattr,
  fiemap(inode, start, len) {
    if (inode.sb.shutdown) return -EIO;
    filemap_write_and_wait_range(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
    return iomap_fiemap(inode, start, len, inode.sb.refcount);
  },
  page_mkwrite(inode, folio, pos) {
    return iomap_page_mkwrite(inode.sb.k, inode, folio, xfs_buffered_write_iomap_ops(inode), pos);
  },
  sync_fs(sb) {
    sb.journal.commit();
  },
  release: xfs_file_release,
  evict: xfs_evict,
  aops: makeAops(() => xfs_ops, false),
  map_blocks: xfs_map_blocks,
  end_ioend: xfs_end_ioend,
  read_iomap_begin: (inode, pos, len) => xfs_read_iomap_begin(inode, pos, len),
};

/**
 * fs/sync.c and include/linux/fs.h: fsync entry points and generic_write_sync.
 */
import type { File, Kiocb } from './file.ts';
import { IOCB_DONTCACHE, IOCB_DSYNC, IOCB_SYNC } from './fcntl.ts';
import { filemap_fdatawrite_range } from '../mm/filemap.ts';

/** fs/sync.c: vfs_fsync_range */
export function vfs_fsync_range(file: File, start: number, end: number, datasync: boolean): number {
  return file.inode.sb.ops.fsync(file, start, end, datasync);
}

/**
 * include/linux/fs.h: generic_write_sync — after a successful O_DSYNC/O_SYNC
 * write of `count` bytes ending at iocb->ki_pos, sync that range; after an
 * RWF_DONTCACHE write, kick writeback of it (filemap_fdatawrite_range_kick).
 * Returns `count` or the sync error.
 */
export function generic_write_sync(iocb: Kiocb, count: number): number {
  if ((iocb.ki_flags & IOCB_DSYNC) !== 0) {
    const ret = vfs_fsync_range(iocb.file, iocb.ki_pos - count, iocb.ki_pos - 1, (iocb.ki_flags & IOCB_SYNC) === 0);
    if (ret !== 0) return ret;
  } else if ((iocb.ki_flags & IOCB_DONTCACHE) !== 0) {
    // RWF_DONTCACHE: start writeback of the range (WB_SYNC_NONE, not waited for).
    filemap_fdatawrite_range(iocb.file.inode.mapping, iocb.ki_pos - count, iocb.ki_pos - 1, 'none');
  }
  return count;
}

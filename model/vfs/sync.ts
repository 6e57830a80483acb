/**
 * fs/sync.c and include/linux/fs.h: fsync entry points and generic_write_sync.
 */
import type { File, Kiocb } from './file.ts';
import { IOCB_DSYNC, IOCB_SYNC } from './fcntl.ts';

/** fs/sync.c: vfs_fsync_range */
export function vfs_fsync_range(file: File, start: number, end: number, datasync: boolean): number {
  return file.inode.sb.ops.fsync(file, start, end, datasync);
}

/**
 * include/linux/fs.h: generic_write_sync — after a successful O_DSYNC/O_SYNC
 * write of `count` bytes ending at iocb->ki_pos, sync that range; returns
 * `count` or the sync error.
 */
export function generic_write_sync(iocb: Kiocb, count: number): number {
  if ((iocb.ki_flags & IOCB_DSYNC) !== 0) {
    const ret = vfs_fsync_range(iocb.file, iocb.ki_pos - count, iocb.ki_pos - 1, (iocb.ki_flags & IOCB_SYNC) === 0);
    if (ret !== 0) return ret;
  }
  return count;
}

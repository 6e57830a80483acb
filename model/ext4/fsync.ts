/**
 * fs/ext4/fsync.c: ext4_sync_file.
 */
import { blkdev_issue_flush } from '../block/blk-flush.ts';
import { EIO } from '../lib/errno.ts';
import { file_check_and_advance_wb_err, file_write_and_wait_range } from '../mm/filemap.ts';
import type { File } from '../vfs/file.ts';

/**
 * ext4_sync_file: write back and wait for the range, commit the transaction
 * that last changed the inode (i_datasync_tid for fdatasync), and flush the
 * device cache when no commit did it.
 */
export function ext4_sync_file(file: File, start: number, end: number, datasync: boolean): number {
  const inode = file.inode;
  const sb = inode.sb;
  if (sb.shutdown) return -EIO;
  const [err, cursor] = file_write_and_wait_range(inode.mapping, file.f_wb_err, start, end);
  file.f_wb_err = cursor;
  let ret = err;
  if (ret === 0) {
    const tid = datasync ? inode.datasyncTid : inode.syncTid;
    const committed = sb.journal.commitUpTo(tid);
    if (!committed && !sb.k.v.on('fsync-no-flush')) {
      const e = blkdev_issue_flush(sb.k, inode.ino);
      if (e !== 0) ret = e;
    }
  }
  const [err2, cursor2] = file_check_and_advance_wb_err(inode.mapping, file.f_wb_err);
  file.f_wb_err = cursor2;
  if (ret === 0) ret = err2;
  return ret;
}

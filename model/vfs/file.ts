/**
 * struct file and struct kiocb (include/linux/fs.h).
 */
import type { Inode } from '../fs/inode.ts';

export class File {
  /** The scenario's name for this file descriptor. */
  readonly fd: string;
  readonly inode: Inode;
  readonly path: string;
  /** O_* flags as given to open (O_ACCMODE, O_DIRECT, O_DSYNC, O_SYNC, O_APPEND, ...). */
  f_flags: number;
  /** FMODE_* bits. */
  f_mode: number;
  /** errseq cursor (file->f_wb_err). */
  f_wb_err: number;
  /** File position for read/write with offset -1. */
  f_pos = 0;

  constructor(fd: string, inode: Inode, path: string, flags: number, mode: number, wbErr: number) {
    this.fd = fd;
    this.inode = inode;
    this.path = path;
    this.f_flags = flags;
    this.f_mode = mode;
    this.f_wb_err = wbErr;
  }
}

export interface Kiocb {
  readonly file: File;
  ki_pos: number;
  ki_flags: number;
}

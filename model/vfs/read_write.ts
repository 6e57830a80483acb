/**
 * fs/read_write.c: preadv2/pwritev2 and the per-call flag handling
 * (kiocb_set_rw_flags in include/linux/fs.h).
 */
import { EBADF, EINVAL, EOPNOTSUPP } from '../lib/errno.ts';
import { isPowerOf2 } from '../lib/math.ts';
import type { File, Kiocb } from './file.ts';
import type { IovIter } from './uio.ts';
import {
  FMODE_CAN_ATOMIC_WRITE,
  FOP_DONTCACHE,
  FOP_WRITETHROUGH,
  FMODE_NOWAIT,
  FMODE_READ,
  FMODE_WRITE,
  IOCB_APPEND,
  IOCB_ATOMIC,
  IOCB_DIRECT,
  IOCB_DONTCACHE,
  IOCB_DSYNC,
  IOCB_HIPRI,
  IOCB_NOSIGNAL,
  IOCB_NOWAIT,
  IOCB_SYNC,
  IOCB_WRITETHROUGH,
  O_APPEND,
  O_DIRECT,
  O_DSYNC,
  RWF_APPEND,
  RWF_ATOMIC,
  RWF_DONTCACHE,
  RWF_DSYNC,
  RWF_HIPRI,
  RWF_NOAPPEND,
  RWF_NOSIGNAL,
  RWF_NOWAIT,
  RWF_SUPPORTED,
  RWF_SYNC,
  RWF_WRITETHROUGH,
  __O_SYNC,
} from './fcntl.ts';

/** iocb_flags: the kiocb flags an open file implies. */
export function iocb_flags(file: File): number {
  let res = 0;
  if ((file.f_flags & O_APPEND) !== 0) res |= IOCB_APPEND;
  if ((file.f_flags & O_DIRECT) !== 0) res |= IOCB_DIRECT;
  if ((file.f_flags & O_DSYNC) !== 0) res |= IOCB_DSYNC;
  if ((file.f_flags & __O_SYNC) !== 0) res |= IOCB_SYNC;
  return res;
}

/**
 * kiocb_set_rw_flags: apply RWF_* flags to a kiocb; unknown flags,
 * RWF_NOWAIT without FMODE_NOWAIT, RWF_ATOMIC on a read or on a file
 * without atomic support, and RWF_DONTCACHE where the file system has no
 * FOP_DONTCACHE give -EOPNOTSUPP.  RWF_WRITETHROUGH (the RFC) is known
 * only where the file system sets FOP_WRITETHROUGH.
 */
export function kiocb_set_rw_flags(ki: Kiocb, flags: number, write: boolean): number {
  if (flags === 0) return 0;
  const fop = ki.file.inode.sb.ops.fop_flags(ki.file.inode.sb);
  const supported = (fop & FOP_WRITETHROUGH) !== 0 ? RWF_SUPPORTED | RWF_WRITETHROUGH : RWF_SUPPORTED;
  if ((flags & ~supported) !== 0) return -EOPNOTSUPP;
  // Asking for both is a contradiction (include/linux/fs.h, 6.18).
  if ((flags & RWF_APPEND) !== 0 && (flags & RWF_NOAPPEND) !== 0) return -EINVAL;
  let kf = 0;
  if ((flags & RWF_NOWAIT) !== 0) {
    if ((ki.file.f_mode & FMODE_NOWAIT) === 0) return -EOPNOTSUPP;
    kf |= IOCB_NOWAIT;
  }
  if ((flags & RWF_ATOMIC) !== 0) {
    if (!write) return -EOPNOTSUPP;
    if ((ki.file.f_mode & FMODE_CAN_ATOMIC_WRITE) === 0) return -EOPNOTSUPP;
    kf |= IOCB_ATOMIC;
  }
  if ((flags & RWF_DONTCACHE) !== 0) {
    if ((fop & FOP_DONTCACHE) === 0) return -EOPNOTSUPP;
    kf |= IOCB_DONTCACHE;
  }
  if ((flags & RWF_WRITETHROUGH) !== 0) {
    if (!write) return -EOPNOTSUPP;
    if ((flags & (RWF_NOWAIT | RWF_DONTCACHE)) !== 0) return -EINVAL;
    kf |= IOCB_WRITETHROUGH;
  }
  if ((flags & RWF_HIPRI) !== 0) kf |= IOCB_HIPRI;
  if ((flags & RWF_DSYNC) !== 0) kf |= IOCB_DSYNC;
  if ((flags & RWF_SYNC) !== 0) kf |= IOCB_DSYNC | IOCB_SYNC;
  if ((flags & RWF_APPEND) !== 0) kf |= IOCB_APPEND;
  if ((flags & RWF_NOSIGNAL) !== 0) kf |= IOCB_NOSIGNAL;
  ki.ki_flags |= kf;
  if ((flags & RWF_NOAPPEND) !== 0) ki.ki_flags &= ~IOCB_APPEND;
  return 0;
}

/**
 * fs/read_write.c: generic_atomic_write_valid — one iovec, a power-of-two
 * length, a naturally aligned position, and direct I/O.
 */
export function generic_atomic_write_valid(iocb: Kiocb, iter: IovIter): number {
  const len = iter.count;
  if (!iter.isUbuf) return -EINVAL;
  if (!isPowerOf2(len)) return -EINVAL;
  if (iocb.ki_pos % len !== 0) return -EINVAL;
  if ((iocb.ki_flags & IOCB_DIRECT) === 0) return -EOPNOTSUPP;
  return 0;
}

/**
 * do_pwritev -> vfs_writev -> do_iter_readv_writev: a pwritev2 on `file`.
 * pos -1 means the file position (and advances it).
 */
export function vfs_pwritev2(file: File, iter: IovIter, pos: number, flags: number, posOut?: { v: number }): number {
  if ((file.f_mode & FMODE_WRITE) === 0) return -EBADF;
  const usePos = pos === -1;
  if (!usePos && pos < 0) return -EINVAL;
  const p = usePos ? file.f_pos : pos;
  if (iter.count === 0) return 0;
  // rw_verify_area refuses loff_t overflow (2^63).  The model stops at 2^53,
  // where it stops computing exactly: scenarios cannot ask for more, so only
  // a write at the file position or appending from a size near it gets here.
  if (p + iter.count > Number.MAX_SAFE_INTEGER) return -EINVAL;
  const iocb: Kiocb = { file, ki_pos: p, ki_flags: iocb_flags(file) };
  const r = kiocb_set_rw_flags(iocb, flags, true);
  if (r < 0) return r;
  // generic_write_checks_count: an appending write starts at i_size, where it lands even if it then fails.
  const appendAt = (iocb.ki_flags & IOCB_APPEND) !== 0 ? file.inode.i_size : -1;
  const ret = file.inode.sb.ops.write_iter(iocb, iter);
  if (usePos && ret > 0) file.f_pos = iocb.ki_pos;
  if (posOut !== undefined && ret > 0) posOut.v = iocb.ki_pos - ret;
  else if (posOut !== undefined && ret < 0 && appendAt >= 0) posOut.v = appendAt;
  return ret;
}

/** do_preadv -> vfs_readv: a preadv2 on `file`. */
export function vfs_preadv2(file: File, iter: IovIter, pos: number, flags: number): number {
  if ((file.f_mode & FMODE_READ) === 0) return -EBADF;
  const usePos = pos === -1;
  if (!usePos && pos < 0) return -EINVAL;
  const p = usePos ? file.f_pos : pos;
  if (iter.count === 0) return 0;
  const iocb: Kiocb = { file, ki_pos: p, ki_flags: iocb_flags(file) & (IOCB_DIRECT | IOCB_APPEND) };
  const r = kiocb_set_rw_flags(iocb, flags, false);
  if (r < 0) return r;
  const ret = file.inode.sb.ops.read_iter(iocb, iter);
  if (usePos && ret > 0) file.f_pos = iocb.ki_pos;
  return ret;
}

/**
 * Linux errno values (include/uapi/asm-generic/errno-base.h, errno.h and
 * include/linux/errno.h for the kernel-internal ones).  Model functions
 * return `-EINVAL` and friends exactly as kernel functions do, so a
 * reviewer can read them side by side with the C.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const EIO = 5;
export const ENXIO = 6;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ETXTBSY = 26;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EROFS = 30;
export const ERANGE = 34;
export const ENOTTY = 25;
export const ENODATA = 61;
export const EOVERFLOW = 75;
export const EOPNOTSUPP = 95;
/** BLK_STS_PROTECTION (blk_status_to_errno). */
export const EILSEQ = 84;
export const ESHUTDOWN = 108;
export const EUCLEAN = 117;
export const ENOKEY = 126;
export const ENOTEMPTY = 39;
/** Kernel-internal: "fall back to buffered I/O" (include/linux/errno.h). */
export const ENOTBLK = 15;
/** Kernel-internal (include/linux/errno.h). */
export const EIOCBQUEUED = 529;
export const ENOPROTOOPT = 92;

const NAMES: ReadonlyMap<number, string> = new Map([
  [EPERM, 'EPERM'], [ENOENT, 'ENOENT'], [EIO, 'EIO'], [ENXIO, 'ENXIO'], [EBADF, 'EBADF'],
  [EAGAIN, 'EAGAIN'], [ENOMEM, 'ENOMEM'], [EFAULT, 'EFAULT'], [EACCES, 'EACCES'], [EBUSY, 'EBUSY'],
  [EEXIST, 'EEXIST'], [EXDEV, 'EXDEV'], [ENOTDIR, 'ENOTDIR'], [EISDIR, 'EISDIR'],
  [EINVAL, 'EINVAL'], [ETXTBSY, 'ETXTBSY'], [EFBIG, 'EFBIG'], [ENOSPC, 'ENOSPC'],
  [ESPIPE, 'ESPIPE'], [EROFS, 'EROFS'], [ERANGE, 'ERANGE'], [ENOTTY, 'ENOTTY'],
  [ENODATA, 'ENODATA'], [EOVERFLOW, 'EOVERFLOW'], [EOPNOTSUPP, 'EOPNOTSUPP'], [EILSEQ, 'EILSEQ'],
  [ESHUTDOWN, 'ESHUTDOWN'], [ENOTEMPTY, 'ENOTEMPTY'], [EUCLEAN, 'EUCLEAN'], [ENOKEY, 'ENOKEY'], [ENOTBLK, 'ENOTBLK'],
  [EIOCBQUEUED, 'EIOCBQUEUED'], [ENOPROTOOPT, 'ENOPROTOOPT'],
]);

/** Symbolic name of a (positive or negative) errno value. */
export function errnoName(err: number): string {
  const e = Math.abs(err);
  return NAMES.get(e) ?? `E${e}`;
}

/** IS_ERR_VALUE-style test for the model's `number | -errno` returns. */
export function isErr(ret: number): boolean {
  return ret < 0;
}

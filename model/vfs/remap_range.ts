/**
 * fs/remap_range.c and fs/ioctl.c: FICLONERANGE.  The generic checks and
 * the page cache flushes come first, in the kernel's order; the file
 * system's ->remap_file_range does the sharing.
 */
import { EBADF, EINVAL, EISDIR, EOPNOTSUPP } from '../lib/errno.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';
import type { File } from './file.ts';
import { FMODE_READ, FMODE_WRITE, O_APPEND } from './fcntl.ts';
import { roundDown, roundUp } from '../lib/math.ts';

/** What generic_remap_file_range_prep leaves for the file system: the length to share. */
export interface RemapRequest {
  readonly src: File;
  readonly posIn: number;
  readonly dst: File;
  readonly posOut: number;
  readonly len: number;
}

/**
 * ioctl_file_clone -> vfs_clone_file_range -> ->remap_file_range, with the
 * checks of generic_file_rw_checks, __generic_remap_file_range_prep and
 * generic_remap_checks, in the kernel's order: the file modes, whether the
 * file system can clone at all, negative ranges (remap_verify_area); then
 * the file system's `checks` come before the other range checks (xfs_file_remap_range: reflink support, shutdown;
 * btrfs_remap_file_range_prep: NODATASUM on both sides, then writeback of
 * both ranges).
 * Returns 0 or -errno.
 */
export function vfs_clone_file_range(
  src: File,
  posIn: number,
  dst: File,
  posOut: number,
  length: number,
  fs: { checks(r: RemapRequest): number; remap(r: RemapRequest): number } | null,
): number {
  const si = src.inode;
  const di = dst.inode;
  // generic_file_rw_checks
  if (si.kind === 'dir' || di.kind === 'dir') return -EISDIR;
  if ((src.f_mode & FMODE_READ) === 0 || (dst.f_mode & FMODE_WRITE) === 0 || (dst.f_flags & O_APPEND) !== 0) return -EBADF;
  // No ->remap_file_range.
  if (fs === null) return -EOPNOTSUPP;
  // remap_verify_area: negative ranges (overflow past 2^63 cannot be given: scenarios stop at 2^53).
  if (posIn < 0 || posOut < 0 || length < 0) return -EINVAL;
  // The request as the caller made it (len 0: to the source's EOF).
  const c = fs.checks({ src, posIn, dst, posOut, len: length });
  if (c < 0) return c;
  // __generic_remap_file_range_prep: a length of 0 means "to EOF".
  let len = length;
  const isize = si.i_size;
  if (len === 0) {
    if (posIn === isize) return 0;
    if (posIn > isize) return -EINVAL;
    len = isize - posIn;
  }
  // generic_remap_checks
  const bs = di.blockSize;
  if (posIn % bs !== 0 || posOut % bs !== 0) return -EINVAL;
  if (posIn >= isize) return -EINVAL;
  let count = Math.min(len, isize - posIn);
  const maxbytes = di.sb.s_maxbytes;
  if (posOut + count > maxbytes) return -EINVAL;
  const bcount = posIn + count === isize ? roundUp(isize, bs) - posIn : (count = roundDown(count, bs));
  if (si === di && posOut < posIn + bcount && posIn < posOut + bcount) return -EINVAL;
  if (count !== len) return -EINVAL;
  // Both ranges are written back (dirty source data is part of the clone).
  const e1 = filemap_write_and_wait_range(si.mapping, posIn, posIn + len - 1);
  if (e1 < 0) return e1;
  const e2 = filemap_write_and_wait_range(di.mapping, posOut, posOut + len - 1);
  if (e2 < 0) return e2;
  // generic_remap_check_len: a partial EOF block may only land at or past the destination's EOF.
  if (len % bs !== 0 && posOut + len < di.i_size) return -EINVAL;
  return fs.remap({ src, posIn, dst, posOut, len });
}

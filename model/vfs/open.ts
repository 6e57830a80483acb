/**
 * fs/open.c and fs/namei.c: open/close, truncate, fallocate entry checks,
 * mkdir — over a flat namespace of paths relative to the mount.
 */
import type { SuperBlock } from '../fs/super.ts';
import type { Inode } from '../fs/inode.ts';
import { EBADF, EEXIST, EFBIG, EINVAL, EIO, EISDIR, ENOENT, ENOTDIR, ENOTTY, EOPNOTSUPP } from '../lib/errno.ts';
import { File } from './file.ts';
import type { FscryptPolicy } from '../crypto/policy.ts';
import { fscrypt_inherit, fscrypt_ioctl_set_policy } from '../crypto/policy.ts';
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_NO_HIDE_STALE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_WRITE_ZEROES,
  FALLOC_FL_ZERO_RANGE,
  FMODE_CAN_READ,
  FMODE_CAN_WRITE,
  FMODE_READ,
  FMODE_WRITE,
  O_ACCMODE,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
} from './fcntl.ts';

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Does the parent directory of `path` exist (the root always does)? */
function parentOk(sb: SuperBlock, path: string): number {
  const parent = parentOf(path);
  if (parent === '') return 0;
  const p = sb.lookup(parent);
  if (p === undefined) return -ENOENT;
  if (p.kind !== 'dir') return -ENOTDIR;
  return 0;
}

/** do_sys_openat2 -> path_openat -> do_open: returns the new File or -errno. */
export function do_sys_open(sb: SuperBlock, fd: string, path: string, flags: number): File | number {
  if (sb.shutdown) return -EIO;
  const acc = flags & O_ACCMODE;
  let inode: Inode | undefined = sb.lookup(path);
  const created = inode === undefined;
  if (inode === undefined) {
    const pe = parentOk(sb, path);
    if (pe < 0) return pe;
    if ((flags & O_CREAT) === 0) return -ENOENT;
    if ((flags & O_DIRECTORY) !== 0) return -EINVAL;
    inode = sb.createInode(path, 'reg');
    fscrypt_inherit(sb, sb.lookup(parentOf(path)), inode);
  } else {
    if ((flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0) return -EEXIST;
    if ((flags & O_DIRECTORY) !== 0 && inode.kind !== 'dir') return -ENOTDIR;
    if (inode.kind === 'dir' && (acc !== O_RDONLY || (flags & (O_TRUNC | O_CREAT)) === O_TRUNC)) return -EISDIR;
  }
  let mode = 0;
  if (acc === O_RDONLY || acc === O_RDWR) mode |= FMODE_READ | FMODE_CAN_READ;
  if (acc === O_WRONLY || acc === O_RDWR) mode |= FMODE_WRITE | FMODE_CAN_WRITE;
  const file = new File(fd, inode, path, flags, mode, inode.mapping.wb_err.sample());
  const r = sb.ops.open(inode, file);
  if (r < 0) return r;
  // do_open -> handle_truncate: an existing regular file is truncated even at
  // size 0 (the file system drops blocks preallocated beyond EOF); a new one is not.
  if ((flags & O_TRUNC) !== 0 && inode.kind === 'reg' && !created) {
    const t = sb.ops.setattr_size(file, 0);
    if (t < 0) return t;
  }
  return file;
}

/** mkdir -p */
export function do_mkdir(sb: SuperBlock, path: string): number {
  if (sb.shutdown) return -EIO;
  const parts = path.split('/').filter((p) => p !== '');
  let cur = '';
  for (const part of parts) {
    cur = cur === '' ? part : `${cur}/${part}`;
    const have = sb.lookup(cur);
    if (have !== undefined) {
      if (have.kind !== 'dir') return cur === path ? -EEXIST : -ENOTDIR;
      continue;
    }
    const d = sb.createInode(cur, 'dir');
    fscrypt_inherit(sb, sb.lookup(parentOf(cur)), d);
    const err = sb.ops.mkdir?.(d) ?? 0;
    if (err < 0) return err;
  }
  return 0;
}

/** encrypt_dir: mkdir -p, then FS_IOC_SET_ENCRYPTION_POLICY (the key is assumed added). */
export function do_encrypt_dir(sb: SuperBlock, path: string, policy: FscryptPolicy): number {
  if (sb.shutdown) return -EIO;
  const r = do_mkdir(sb, path);
  if (r < 0 && r !== -EEXIST) return r;
  const dir = sb.lookup(path);
  if (dir === undefined || dir.kind !== 'dir') return -ENOTDIR;
  return fscrypt_ioctl_set_policy(sb, dir, path, policy);
}

/** do_sys_ftruncate */
export function do_sys_ftruncate(file: File, length: number): number {
  if (length < 0) return -EINVAL;
  if ((file.f_mode & FMODE_WRITE) === 0) return -EINVAL;
  if (file.inode.kind !== 'reg') return -EINVAL;
  return file.inode.sb.ops.setattr_size(file, length);
}

/**
 * fs/file_attr.c: ioctl_setflags -> vfs_fileattr_set (FS_IOC_SETFLAGS): the
 * file system's ->fileattr_set; one without it does not know the ioctl.
 */
export function vfs_fileattr_set(file: File, flags: number): number {
  const set = file.inode.sb.ops.fileattr_set;
  if (set === undefined) return -ENOTTY;
  return set(file, flags);
}

/** fs/open.c: vfs_fallocate — the generic checks, in the kernel's order. */
export function vfs_fallocate(file: File, mode: number, offset: number, len: number): number {
  const inode = file.inode;
  if (offset < 0 || len <= 0) return -EINVAL;
  const known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_NO_HIDE_STALE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_WRITE_ZEROES;
  if ((mode & ~known) !== 0) return -EOPNOTSUPP;
  const op = mode & ~FALLOC_FL_KEEP_SIZE;
  const single = [0, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_ZERO_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_WRITE_ZEROES];
  if (!single.includes(op)) return -EOPNOTSUPP;
  if (op === FALLOC_FL_PUNCH_HOLE && (mode & FALLOC_FL_KEEP_SIZE) === 0) return -EOPNOTSUPP;
  if ((op === FALLOC_FL_COLLAPSE_RANGE || op === FALLOC_FL_INSERT_RANGE || op === FALLOC_FL_WRITE_ZEROES) && (mode & FALLOC_FL_KEEP_SIZE) !== 0) return -EOPNOTSUPP;
  if ((file.f_mode & FMODE_WRITE) === 0) return -EBADF;
  if (inode.kind === 'dir') return -EISDIR;
  if (offset + len > inode.sb.s_maxbytes) return -EFBIG;
  return inode.sb.ops.fallocate(file, mode, offset, len);
}

/**
 * Flag values of the system call interface (include/uapi/asm-generic/fcntl.h,
 * include/uapi/linux/fs.h, include/uapi/linux/falloc.h,
 * include/uapi/linux/stat.h) and the kernel-internal kiocb/fmode flags
 * (include/linux/fs.h).
 */
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const __O_SYNC = 0o4000000;
export const O_SYNC = __O_SYNC | O_DSYNC;

export const OPEN_FLAGS: Readonly<Record<string, number>> = {
  O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND, O_NONBLOCK, O_DSYNC, O_DIRECT,
  O_LARGEFILE, O_DIRECTORY, O_NOFOLLOW, O_NOATIME, O_CLOEXEC, O_SYNC,
};

/** pwritev2/preadv2 flags (include/uapi/linux/fs.h). */
export const RWF_HIPRI = 0x1;
export const RWF_DSYNC = 0x2;
export const RWF_SYNC = 0x4;
export const RWF_NOWAIT = 0x8;
export const RWF_APPEND = 0x10;
export const RWF_NOAPPEND = 0x20;
export const RWF_ATOMIC = 0x40;
export const RWF_DONTCACHE = 0x80;
export const RWF_NOSIGNAL = 0x100;
/** Proposed in the RWF_WRITETHROUGH RFC (seed 003); not in 6.18. */
export const RWF_WRITETHROUGH = 0x200;
/** RWF_SUPPORTED on 6.18. */
export const RWF_SUPPORTED =
  RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND | RWF_ATOMIC | RWF_DONTCACHE | RWF_NOSIGNAL;

export const RWF_FLAGS: Readonly<Record<string, number>> = {
  RWF_HIPRI, RWF_DSYNC, RWF_SYNC, RWF_NOWAIT, RWF_APPEND, RWF_NOAPPEND, RWF_ATOMIC, RWF_DONTCACHE, RWF_NOSIGNAL,
  RWF_WRITETHROUGH,
};

/** file_operations.fop_flags (include/linux/fs.h). */
export const FOP_BUFFER_RASYNC = 1 << 0;
export const FOP_BUFFER_WASYNC = 1 << 1;
export const FOP_MMAP_SYNC = 1 << 2;
export const FOP_DIO_PARALLEL_WRITE = 1 << 3;
export const FOP_HUGE_PAGES = 1 << 4;
export const FOP_UNSIGNED_OFFSET = 1 << 5;
export const FOP_ASYNC_LOCK = 1 << 6;
export const FOP_DONTCACHE = 1 << 7;
/** Proposed in the RWF_WRITETHROUGH RFC (seed 003): the file system can write through. */
export const FOP_WRITETHROUGH = 1 << 8;

/** struct kiocb ki_flags (include/linux/fs.h). */
export const IOCB_HIPRI = 1 << 0;
export const IOCB_DSYNC = 1 << 1;
export const IOCB_SYNC = 1 << 2;
export const IOCB_NOWAIT = 1 << 3;
export const IOCB_APPEND = 1 << 4;
export const IOCB_ATOMIC = 1 << 5;
export const IOCB_DONTCACHE = 1 << 7;
export const IOCB_NOSIGNAL = 1 << 8;
export const IOCB_WRITETHROUGH = 1 << 9;
export const IOCB_EVENTFD = 1 << 16;
export const IOCB_DIRECT = 1 << 17;
export const IOCB_WRITE = 1 << 18;

/** struct file f_mode bits (include/linux/fs.h). */
export const FMODE_READ = 1 << 0;
export const FMODE_WRITE = 1 << 1;
export const FMODE_CAN_READ = 1 << 17;
export const FMODE_CAN_WRITE = 1 << 18;
export const FMODE_NOWAIT = 1 << 21;
export const FMODE_CAN_ATOMIC_WRITE = 1 << 7;

/** fallocate modes (include/uapi/linux/falloc.h). */
export const FALLOC_FL_ALLOCATE_RANGE = 0x00;
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_NO_HIDE_STALE = 0x04;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const FALLOC_FL_UNSHARE_RANGE = 0x40;
export const FALLOC_FL_WRITE_ZEROES = 0x80;

export const FALLOC_FLAGS: Readonly<Record<string, number>> = {
  FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_NO_HIDE_STALE, FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_ZERO_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_WRITE_ZEROES,
};

/** statx mask bits (include/uapi/linux/stat.h). */
export const STATX_TYPE = 0x1;
export const STATX_MODE = 0x2;
export const STATX_NLINK = 0x4;
export const STATX_UID = 0x8;
export const STATX_GID = 0x10;
export const STATX_ATIME = 0x20;
export const STATX_MTIME = 0x40;
export const STATX_CTIME = 0x80;
export const STATX_INO = 0x100;
export const STATX_SIZE = 0x200;
export const STATX_BLOCKS = 0x400;
export const STATX_BASIC_STATS = 0x7ff;
export const STATX_BTIME = 0x800;
export const STATX_DIOALIGN = 0x2000;
export const STATX_WRITE_ATOMIC = 0x10000;
export const STATX_DIO_READ_ALIGN = 0x20000;

/** FS_IOC_GETFLAGS/SETFLAGS inode flags (include/uapi/linux/fs.h), as far as the model knows them. */
export const FS_NOCOW_FL = 0x00800000;
export const FS_FLAGS: Readonly<Record<string, number>> = { FS_NOCOW_FL };

export const STATX_FLAGS: Readonly<Record<string, number>> = {
  STATX_TYPE, STATX_MODE, STATX_NLINK, STATX_UID, STATX_GID, STATX_ATIME, STATX_MTIME, STATX_CTIME, STATX_INO,
  STATX_SIZE, STATX_BLOCKS, STATX_BASIC_STATS, STATX_BTIME, STATX_DIOALIGN, STATX_WRITE_ATOMIC, STATX_DIO_READ_ALIGN,
};

/** Parse a list of flag names against a table; unknown names are reported. */
export function flagsFrom(names: readonly string[], table: Readonly<Record<string, number>>): { value: number; unknown: string[] } {
  let value = 0;
  const unknown: string[] = [];
  for (const n of names) {
    const v = table[n];
    if (v === undefined) {
      if (/^0x[0-9a-fA-F]+$/.test(n)) value |= parseInt(n, 16);
      else unknown.push(n);
    } else value |= v;
  }
  return { value, unknown };
}

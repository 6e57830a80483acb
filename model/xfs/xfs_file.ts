/**
 * fs/xfs/xfs_file.c: read and write entry points, direct I/O paths, fsync,
 * fallocate, open and release.
 */
import type { Inode } from '../fs/inode.ts';
import { blkdev_issue_flush } from '../block/blk-flush.ts';
import { iomap_file_buffered_write, iomap_file_unshare } from '../iomap/buffered-io.ts';
import { iomap_file_writethrough_write } from '../iomap/writethrough.ts';
import { IOMAP_DIO_BOUNCE, IOMAP_DIO_COW, IOMAP_DIO_FORCE_WAIT, IOMAP_DIO_UNWRITTEN, iomap_dio_rw } from '../iomap/direct-io.ts';
import type { IomapDioOps } from '../iomap/direct-io.ts';
import type { IomapOps } from '../iomap/iomap.ts';
import { IOMAP_F_NEW, IOMAP_F_SHARED } from '../iomap/iomap.ts';
import { EAGAIN, EFBIG, EINVAL, EIO, ENOPROTOOPT, ENOTBLK, EOPNOTSUPP } from '../lib/errno.ts';
import {
  filemap_fdatawrite_range,
  filemap_read,
  file_check_and_advance_wb_err,
  file_write_and_wait_range,
  generic_write_checks,
} from '../mm/filemap.ts';
import type { File, Kiocb } from '../vfs/file.ts';
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE,
  FMODE_CAN_ATOMIC_WRITE,
  FMODE_NOWAIT,
  FMODE_WRITE,
  IOCB_APPEND,
  IOCB_ATOMIC,
  IOCB_DIRECT,
  IOCB_NOWAIT,
  IOCB_WRITETHROUGH,
  O_DSYNC,
} from '../vfs/fcntl.ts';
import { generic_write_sync } from '../vfs/sync.ts';
import type { IovIter } from '../vfs/uio.ts';
import { generic_atomic_write_valid } from '../vfs/read_write.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';
import { truncate_pagecache } from '../mm/truncate.ts';
import {
  xfs_atomic_write_cow_iomap_ops,
  xfs_buffered_write_iomap_ops,
  xfs_direct_write_iomap_ops,
  xfs_iomap_write_unwritten,
  xfs_read_iomap_ops,
  xfs_zero_range,
} from './xfs_iomap.ts';
import { xfs_atomic_limits, xfs_setattr_size } from './xfs_iops.ts';
import { xfs_is_cow_inode, xfs_reflink_cancel_cow_range, xfs_reflink_end_atomic_cow, xfs_reflink_end_cow, xfs_reflink_remap, xfs_reflink_unshare } from './xfs_reflink.ts';
import type { RemapRequest } from '../vfs/remap_range.ts';
import { xfs_alloc_file_space, xfs_can_free_eofblocks, xfs_free_eofblocks, xfs_free_file_space } from './xfs_bmap_util.ts';
import { XFS_I } from './xfs_inode.ts';
import { roundDown, roundUp } from '../lib/math.ts';
import { cover } from '../lib/coverage.ts';

/** xfs_file_open */
export function xfs_file_open(inode: Inode, file: File): number {
  if (inode.sb.shutdown) return -EIO;
  file.f_mode |= FMODE_NOWAIT;
  if (inode.kind === 'reg' && xfs_atomic_limits(inode).min > 0) file.f_mode |= FMODE_CAN_ATOMIC_WRITE;
  return 0;
}

/**
 * xfs_file_write_checks: generic checks, then zero the gap between the old
 * EOF and a write that starts beyond it (xfs_file_write_zero_eof).
 */
function xfs_file_write_checks(iocb: Kiocb, from: IovIter, direct: boolean): number {
  const inode = iocb.file.inode;
  const chk = generic_write_checks({
    pos: iocb.ki_pos,
    count: from.count,
    append: (iocb.ki_flags & IOCB_APPEND) !== 0,
    nowait: (iocb.ki_flags & IOCB_NOWAIT) !== 0,
    direct,
    bufWasync: true,
    isize: inode.i_size,
    maxbytes: inode.sb.s_maxbytes,
    atomic: (iocb.ki_flags & IOCB_ATOMIC) !== 0,
    v: inode.sb.k.v,
  });
  if (typeof chk === 'number') return chk;
  iocb.ki_pos = chk.pos;
  if (chk.count < from.count) from.truncate(chk.count);
  if (chk.count === 0) return 0;
  if (chk.pos > inode.i_size) {
    if ((iocb.ki_flags & IOCB_NOWAIT) !== 0) return -EAGAIN;
    const isize = inode.i_size;
    const r = xfs_zero_range(inode, isize, chk.pos - isize);
    if (r < 0) return r;
    // Variant fix-xfs-sync-zero-eof: the write first writes back and waits for the range it
    // zeroed (as xfs_setattr_size does after zeroing), so that no later log force, its own
    // sync of its range or any other, makes a size durable that takes in a zeroed EOF block
    // still dirty in memory.
    if (inode.sb.k.v.on('fix-xfs-sync-zero-eof')) {
      const w = filemap_write_and_wait_range(inode.mapping, isize, chk.pos - 1);
      if (w < 0) return w;
    }
  }
  // kiocb_modified under NOWAIT fails with EAGAIN only when c/mtime must
  // change; the model has no clock and takes the timestamps as current
  // (known limitation nowait-timestamps).
  return 0;
}

/** xfs_file_buffered_write */
function xfs_file_buffered_write(iocb: Kiocb, from: IovIter): number {
  const inode = iocb.file.inode;
  const r = xfs_file_write_checks(iocb, from, false);
  if (r < 0) return r;
  if (from.count === 0) return 0;
  const ret = (iocb.ki_flags & IOCB_WRITETHROUGH) !== 0
    ? iomap_file_writethrough_write(inode.sb.k, inode, iocb, from, { ops: xfs_writethrough_iomap_ops(inode), dio: (p, l) => xfs_dio_write_ops(inode, { origPos: p, origLen: l }) })
    : iomap_file_buffered_write(inode.sb.k, inode, iocb.ki_pos, from, xfs_buffered_write_iomap_ops(inode), iocb.ki_flags);
  if (ret > 0) {
    iocb.ki_pos += ret;
    // Variant buffered-write-no-dsync: the sync is forgotten.
    return inode.sb.k.v.on('buffered-write-no-dsync') ? ret : generic_write_sync(iocb, ret);
  }
  return ret;
}

/**
 * xfs_dio_write_end_io.  `writethrough`: the completion of a RWF_WRITETHROUGH
 * write (RFC; the XFS patch is not in the seed, so this is the model's
 * reading): the in-memory size is already set by the buffered copy, so the
 * on-disk size moves to the end of the caller's write (orig_pos + orig_len),
 * not to the end of the block-aligned I/O, and unwritten conversion does not
 * move the in-memory size.
 */
function xfs_dio_write_ops(inode: Inode, writethrough: { readonly origPos: number; readonly origLen: number } | null = null): IomapDioOps {
  return {
    end_io(iocb, size, error, flags) {
      if (inode.sb.shutdown) return -EIO;
      if (error !== 0) return error;
      if (size === 0) return 0;
      const pos = iocb.ki_pos;
      if ((flags & IOMAP_DIO_COW) !== 0 && !inode.sb.k.v.on('cow-remap-before-io')) {
        const r = (iocb.ki_flags & IOCB_ATOMIC) !== 0 ? xfs_reflink_end_atomic_cow(inode, pos, size) : xfs_reflink_end_cow(inode, pos, size);
        if (r < 0) return r;
      }
      if ((flags & IOMAP_DIO_UNWRITTEN) !== 0) return xfs_iomap_write_unwritten(inode, pos, size, writethrough === null);
      if (writethrough !== null) {
        const end = Math.min(pos + size, writethrough.origPos + writethrough.origLen, inode.i_size);
        if (end > inode.disksize) inode.sb.setDisksize(inode, end);
      } else if (pos + size > inode.i_size) {
        inode.i_size = pos + size;
        inode.sb.setDisksize(inode, pos + size);
      } else if ((flags & IOMAP_DIO_COW) !== 0 && pos + size > inode.disksize && inode.sb.k.v.on('fix-xfs-cow-ondisk-size')) {
        // Variant fix-xfs-cow-ondisk-size: xfs_setfilesize after the COW remap, as xfs_end_ioend does (capped at i_size: xfs_new_eof).
        inode.sb.setDisksize(inode, pos + size);
      }
      return 0;
    },
  };
}

/**
 * xfs_file_dio_read / xfs_file_dio_write_*: with stable writes
 * (mapping_stable_writes) direct I/O is bounce buffered, so the user
 * cannot change data the device checksums.  Variant dio-no-bounce: zero copy.
 */
function xfs_dio_bounce(inode: Inode): number {
  return inode.mapping.stableWrites && !inode.sb.k.v.on('dio-no-bounce') ? IOMAP_DIO_BOUNCE : 0;
}

/**
 * The allocating ->iomap_begin of a RWF_WRITETHROUGH write (RFC; the XFS
 * patch is not in the seed): XFS's direct-write mapping, which the RFC's
 * core calls twice (design note 2) — once for the buffered copy, once for
 * the direct write.  For the copy the mapping must say which blocks hold
 * nothing yet: a COW fork extent over a hole in the data fork (a cowextsize
 * preallocation) comes back as a written, shared mapping with a hole as
 * srcmap, which iomap_write_begin would read instead of zeroing, so it is
 * flagged IOMAP_F_NEW.  Variant wt-direct-iomap-ops passes the direct-write
 * mapping unchanged.
 */
function xfs_writethrough_iomap_ops(inode: Inode): IomapOps {
  const direct = xfs_direct_write_iomap_ops(inode);
  if (inode.sb.k.v.on('wt-direct-iomap-ops')) return direct;
  return {
    ...direct,
    name: 'xfs_writethrough_iomap_ops',
    begin(pos, length, flags) {
      const r = direct.begin(pos, length, flags);
      if (typeof r !== 'number' && (r.iomap.flags & IOMAP_F_SHARED) !== 0 && r.srcmap.type === 'hole') r.iomap.flags |= IOMAP_F_NEW;
      return r;
    },
  };
}

/**
 * xfs_file_dio_write_atomic: the hardware (REQ_ATOMIC) path first, unless
 * the write is longer than the device's atomic unit; when ->iomap_begin
 * says it is not possible (-ENOPROTOOPT: more than one extent, misaligned
 * disk blocks, an allocation of more than one block) retry with the
 * software path, which stages the data in the COW fork.
 */
function xfs_file_dio_write_atomic(iocb: Kiocb, from: IovIter): number {
  const inode = iocb.file.inode;
  const k = inode.sb.k;
  let sw = from.count > k.disk.limits.atomic_write_unit_max;
  for (;;) {
    const r = xfs_file_write_checks(iocb, from, true);
    if (r < 0) return r;
    const dops = sw ? xfs_atomic_write_cow_iomap_ops(inode) : xfs_direct_write_iomap_ops(inode);
    const ret = iomap_dio_rw(k, inode, iocb, from, dops, xfs_dio_write_ops(inode), xfs_dio_bounce(inode), generic_write_sync, true);
    if (ret !== -ENOPROTOOPT || sw) return ret;
    // Variant atomic-buffered-fallback: like any direct write that cannot be done, go buffered.
    if (k.v.on('atomic-buffered-fallback')) return -ENOTBLK;
    sw = true;
  }
}

/** xfs_file_dio_write (aligned and unaligned paths) */
function xfs_file_dio_write(iocb: Kiocb, from: IovIter): number {
  const inode = iocb.file.inode;
  const k = inode.sb.k;
  const lbs = k.disk.limits.logical_block_size;
  const count = from.count;
  if (iocb.ki_pos % lbs !== 0 || count % lbs !== 0) return -EINVAL;
  const bs = inode.blockSize;
  // Variant fix-xfs-dio-append-unaligned: an appending write is judged where it will land (EOF).
  const append = (iocb.ki_flags & IOCB_APPEND) !== 0 && inode.i_size !== iocb.ki_pos;
  const at = append && inode.sb.k.v.on('fix-xfs-dio-append-unaligned') ? inode.i_size : iocb.ki_pos;
  const unaligned = at % bs !== 0 || count % bs !== 0;
  if (unaligned && xfs_is_cow_inode(inode)) return -ENOTBLK;
  if ((iocb.ki_flags & IOCB_ATOMIC) !== 0) return xfs_file_dio_write_atomic(iocb, from);
  const r = xfs_file_write_checks(iocb, from, true);
  if (r < 0) return r;
  if (from.count === 0) return 0;
  const extending = iocb.ki_pos > inode.i_size || iocb.ki_pos + from.count >= inode.i_size;
  const flags = unaligned && extending ? IOMAP_DIO_FORCE_WAIT : 0;
  return iomap_dio_rw(k, inode, iocb, from, xfs_direct_write_iomap_ops(inode), xfs_dio_write_ops(inode), flags | xfs_dio_bounce(inode), generic_write_sync, true);
}

/** xfs_file_write_iter */
export function xfs_file_write_iter(iocb: Kiocb, from: IovIter): number {
  const inode = iocb.file.inode;
  if (from.count === 0) return 0;
  if (inode.sb.shutdown) return -EIO;
  if ((iocb.ki_flags & IOCB_ATOMIC) !== 0) {
    const { min, max } = xfs_atomic_limits(inode);
    const len = from.count;
    if (len < min || len > max) return -EINVAL;
    const v = generic_atomic_write_valid(iocb, from);
    if (v !== 0) return v;
  }
  if ((iocb.ki_flags & IOCB_DIRECT) !== 0) {
    const ret = xfs_file_dio_write(iocb, from);
    if (ret !== -ENOTBLK) return ret;
    // Fall back to buffered I/O (xfs_file_write_iter).
    cover('dio: write fell back to buffered');
    iocb.ki_flags &= ~IOCB_DIRECT;
  }
  return xfs_file_buffered_write(iocb, from);
}

/** xfs_file_read_iter (xfs_file_dio_read / xfs_file_buffered_read) */
export function xfs_file_read_iter(iocb: Kiocb, to: IovIter): number {
  const inode = iocb.file.inode;
  if (inode.sb.shutdown) return -EIO;
  if (to.count === 0) return 0;
  if ((iocb.ki_flags & IOCB_DIRECT) !== 0) {
    return iomap_dio_rw(inode.sb.k, inode, iocb, to, xfs_read_iomap_ops(inode), null, xfs_dio_bounce(inode), (_i, n) => n, false);
  }
  const n = filemap_read(inode.mapping, iocb.ki_pos, to.count, (d) => to.copyTo(d), iocb.ki_flags);
  if (n > 0) iocb.ki_pos += n;
  return n;
}

/**
 * xfs_file_fsync: write back and wait, then force the log up to the inode's
 * last change, or (nothing to force) flush the device cache.
 */
export function xfs_file_fsync(file: File, start: number, end: number, datasync: boolean): number {
  const inode = file.inode;
  const sb = inode.sb;
  const [err, cursor] = file_write_and_wait_range(inode.mapping, file.f_wb_err, start, end);
  file.f_wb_err = cursor;
  if (err !== 0) return err;
  if (sb.shutdown) return -EIO;
  XFS_I(inode).itruncated = false;
  const tid = datasync ? inode.datasyncTid : inode.syncTid;
  const forced = sb.journal.commitUpTo(tid);
  if (!forced && !sb.k.v.on('fsync-no-flush')) {
    const e = blkdev_issue_flush(sb.k, inode.ino);
    if (e !== 0) return e;
  }
  const [err2, cursor2] = file_check_and_advance_wb_err(inode.mapping, file.f_wb_err);
  file.f_wb_err = cursor2;
  return err2;
}

/** xfs_file_release: the first writable close trims post-EOF blocks. */
export function xfs_file_release(file: File): void {
  const inode = file.inode;
  const sb = inode.sb;
  if (sb.shutdown) return;
  const ip = XFS_I(inode);
  if (ip.itruncated) {
    ip.itruncated = false;
    ip.eofblocksReleased = false;
    if (inode.delayed > 0) filemap_fdatawrite_range(inode.mapping, 0, Number.MAX_SAFE_INTEGER, 'none');
  }
  if ((file.f_mode & FMODE_WRITE) === 0) return;
  if (ip.eofblocksReleased) return;
  if (!xfs_can_free_eofblocks(inode)) return;
  ip.eofblocksReleased = true;
  xfs_free_eofblocks(inode);
}

/** Eviction (xfs_inactive): post-EOF blocks are freed, and the whole COW fork. */
export function xfs_evict(inode: Inode): void {
  if (xfs_can_free_eofblocks(inode)) xfs_free_eofblocks(inode);
  xfs_reflink_cancel_cow_range(inode, 0, Number.MAX_SAFE_INTEGER, true);
}

/** xfs_file_fallocate */
export function xfs_file_fallocate(file: File, mode: number, offset: number, len: number): number {
  const inode = file.inode;
  const sb = inode.sb;
  if (inode.kind !== 'reg') return -EINVAL;
  const supported = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;
  if ((mode & ~supported) !== 0) return -EOPNOTSUPP;
  if (sb.shutdown) return -EIO;
  const bs = inode.blockSize;
  const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
  let ret = 0;
  if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0) {
    ret = xfs_free_file_space(inode, offset, len);
  } else if ((mode & FALLOC_FL_COLLAPSE_RANGE) !== 0) {
    if (offset % bs !== 0 || len % bs !== 0) return -EINVAL;
    if (offset + len >= inode.i_size) return -EINVAL;
    ret = xfs_collapse_range(inode, offset, len);
  } else if ((mode & FALLOC_FL_INSERT_RANGE) !== 0) {
    if (offset % bs !== 0 || len % bs !== 0) return -EINVAL;
    if (inode.sb.s_maxbytes - inode.i_size < len) return -EFBIG;
    if (offset >= inode.i_size) return -EINVAL;
    ret = xfs_insert_range(inode, offset, len);
  } else {
    const end = offset + len;
    if (!keep && end > inode.sb.s_maxbytes) return -EFBIG;
    if ((mode & FALLOC_FL_ZERO_RANGE) !== 0) {
      ret = xfs_free_file_space(inode, offset, len);
      if (ret === 0) ret = xfs_alloc_file_space(inode, roundDown(offset, bs), roundUp(end, bs) - roundDown(offset, bs));
    } else {
      // xfs_falloc_unshare_range: unshare (a no-op without the reflink flag), then preallocate like mode 0.
      if ((mode & FALLOC_FL_UNSHARE_RANGE) !== 0) {
        ret = xfs_reflink_unshare(inode, offset, len, (p, l) => iomap_file_unshare(inode.sb.k, inode, p, l, xfs_buffered_write_iomap_ops(inode)));
      }
      if (ret === 0) ret = xfs_alloc_file_space(inode, offset, len);
    }
    if (ret === 0 && !keep && end > inode.i_size) ret = xfs_setattr_size(inode, end);
  }
  if (ret === 0 && (file.f_flags & O_DSYNC) !== 0) sb.journal.commit();
  return ret;
}

/** xfs_collapse_range */
function xfs_collapse_range(inode: Inode, offset: number, len: number): number {
  const bs = inode.blockSize;
  xfs_free_eofblocks(inode);
  const start = Math.max(0, roundDown(offset, PAGE_SIZE) - PAGE_SIZE);
  filemap_write_and_wait_range(inode.mapping, start, Number.MAX_SAFE_INTEGER);
  truncate_pagecache(inode.mapping, start);
  inode.sb.unmapBlocks(inode, offset / bs, len / bs);
  inode.sb.shiftExtents(inode, (offset + len) / bs, -(len / bs));
  // xfs_falloc_collapse_range -> xfs_falloc_setsize: a truncate to the new size, which frees
  // every block past it (a preallocation beyond EOF shifted down with the rest included).
  return xfs_setattr_size(inode, inode.i_size - len);
}

/** xfs_insert_range */
function xfs_insert_range(inode: Inode, offset: number, len: number): number {
  const bs = inode.blockSize;
  xfs_free_eofblocks(inode);
  const start = Math.max(0, roundDown(offset, PAGE_SIZE) - PAGE_SIZE);
  filemap_write_and_wait_range(inode.mapping, start, Number.MAX_SAFE_INTEGER);
  truncate_pagecache(inode.mapping, start);
  const size = inode.i_size + len;
  inode.i_size = size;
  inode.sb.setDisksize(inode, size);
  inode.sb.shiftExtents(inode, offset / bs, len / bs);
  return 0;
}

export { IOCB_DIRECT };

/**
 * xfs_file_remap_range: a file system without reflink cannot share
 * (EOPNOTSUPP) and a shut-down one refuses (EIO), before any range check;
 * then xfs_reflink_remap_prep/remap_blocks, and a log force when either
 * file is O_(D)SYNC.
 */
export const xfs_remap_file_range = {
  checks(r: RemapRequest): number {
    const sb = r.src.inode.sb;
    if (!sb.hasFeature('reflink')) return -EOPNOTSUPP;
    if (sb.shutdown) return -EIO;
    return 0;
  },
  remap(r: RemapRequest): number {
    const ret = xfs_reflink_remap(r.src.inode, r.posIn, r.dst.inode, r.posOut, r.len);
    if (ret < 0) return ret;
    if ((r.src.f_flags & O_DSYNC) !== 0 || (r.dst.f_flags & O_DSYNC) !== 0) r.dst.inode.sb.journal.commit();
    return 0;
  },
};

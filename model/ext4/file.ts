/**
 * fs/ext4/file.c: read and write entry points, direct I/O dispatch and
 * completion, open.
 */
import type { Inode } from '../fs/inode.ts';
import { iomap_file_buffered_write } from '../iomap/buffered-io.ts';
import { IOMAP_DIO_FORCE_WAIT, IOMAP_DIO_UNWRITTEN, iomap_dio_rw } from '../iomap/direct-io.ts';
import type { IomapDioOps } from '../iomap/direct-io.ts';
import { EAGAIN, EINVAL, ENOTBLK, EOPNOTSUPP, EIO } from '../lib/errno.ts';
import { filemap_fdatawrite_range, filemap_read, filemap_write_and_wait_range, generic_write_checks, invalidate_inode_pages2_range } from '../mm/filemap.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import type { File, Kiocb } from '../vfs/file.ts';
import {
  FMODE_CAN_ATOMIC_WRITE,
  FMODE_NOWAIT,
  FMODE_WRITE,
  IOCB_APPEND,
  IOCB_ATOMIC,
  IOCB_DIRECT,
  IOCB_NOWAIT,
} from '../vfs/fcntl.ts';
import { generic_write_sync } from '../vfs/sync.ts';
import type { IovIter } from '../vfs/uio.ts';
import { generic_atomic_write_valid } from '../vfs/read_write.ts';
import { ext4_orphan_add, ext4_orphan_del } from './orphan.ts';
import { ext4_da_iomap_ops, ext4_dio_alignment, ext4_iomap_ops, ext4_truncate } from './inode.ts';
import { EXT4_I, EXT4_SB } from './ext4.ts';
import { ext4_discard_preallocations } from './mballoc.ts';
import { ext4_zero_partial_blocks } from './extents.ts';
import { roundUp } from '../lib/math.ts';
import { pagecache_isize_extended } from '../mm/truncate.ts';
import { cover } from '../lib/coverage.ts';

/** ext4_file_open: FMODE_CAN_ATOMIC_WRITE when ext4_inode_can_atomic_write. */
export function ext4_file_open(inode: Inode, file: File): number {
  file.f_mode |= FMODE_NOWAIT;
  // i_writecount: do_dentry_open counts a writer before ->open.
  if ((file.f_mode & FMODE_WRITE) !== 0) EXT4_I(inode).writers++;
  if (inode.kind === 'reg' && EXT4_SB(inode.sb).awu_min > 0) file.f_mode |= FMODE_CAN_ATOMIC_WRITE;
  return 0;
}

/** ext4_should_use_dio */
function ext4_should_use_dio(iocb: Kiocb, iter: IovIter): boolean {
  const a = ext4_dio_alignment(iocb.file.inode);
  if (a === 0) return false;
  if (a === 1) return true;
  // Variant crypto-dio-lbs-memory (the design seed 000 rejects): memory aligned only to the logical block size.
  if (iocb.file.inode.sb.k.v.on('crypto-dio-lbs-memory')) {
    const lbs = iocb.file.inode.sb.k.disk.limits.logical_block_size;
    return iocb.ki_pos % a === 0 && iter.count % a === 0 && iter.isAligned(lbs, lbs);
  }
  return iocb.ki_pos % a === 0 && iter.isAligned(a, a);
}

/** ext4_buffered_write_iter */
export function ext4_buffered_write_iter(iocb: Kiocb, from: IovIter): number {
  const inode = iocb.file.inode;
  const k = inode.sb.k;
  if ((iocb.ki_flags & IOCB_NOWAIT) !== 0) return -EOPNOTSUPP;
  const chk = generic_write_checks({
    pos: iocb.ki_pos,
    count: from.count,
    append: (iocb.ki_flags & IOCB_APPEND) !== 0,
    nowait: false,
    direct: false,
    bufWasync: false,
    isize: inode.i_size,
    maxbytes: inode.sb.s_maxbytes,
    atomic: (iocb.ki_flags & IOCB_ATOMIC) !== 0,
    v: inode.sb.k.v,
  });
  if (typeof chk === 'number') return chk;
  if (chk.count === 0) return 0;
  iocb.ki_pos = chk.pos;
  const oldSize = inode.i_size;
  const ret = iomap_file_buffered_write(k, inode, chk.pos, truncated(from, chk.count), ext4_da_iomap_ops(inode), iocb.ki_flags);
  if (ret > 0) {
    // ext4_da_do_write_end: a write starting past the old EOF write-protects the folio
    // straddling it and zeroes that folio from the old EOF to the write
    // (pagecache_isize_extended, when blocks are smaller than a page), then zeroes the
    // old EOF block's tail (ext4_zero_partial_blocks).
    if (chk.pos > oldSize) pagecache_isize_extended(inode.mapping, inode.blockSize, oldSize, chk.pos);
    if (chk.pos > oldSize) ext4_zero_partial_blocks(inode, oldSize, chk.pos - oldSize);
    // ext4_da_do_write_end, once per folio the write copied into: a copy
    // that ends past i_size moves i_size there, and i_disksize too when the
    // block holding its last byte is mapped, not delayed and not unwritten
    // (ext4_da_should_update_i_disksize) — so an extending write whose first
    // folio ends in an allocated block makes that much of the size durable
    // at the next commit, though the rest is delayed.  Writeback clears the
    // unwritten state of the buffers it submits (mpage_map_and_submit_buffers),
    // so a block under writeback counts.
    const end = chk.pos + ret;
    let disksize = -1;
    for (let p = chk.pos; p < end; ) {
      const folio = inode.mapping.folioAt(p);
      const copyEnd = Math.min(end, folio !== undefined ? folio.end : roundUp(p + 1, PAGE_SIZE));
      if (copyEnd > oldSize) {
        const e = inode.extents.find(Math.floor((copyEnd - 1) / inode.blockSize));
        const mapped = e !== undefined && (e.v.type === 'mapped' || (e.v.type === 'unwritten' && folio?.writeback === true));
        if (mapped) disksize = copyEnd;
      }
      p = copyEnd;
    }
    if (disksize > inode.disksize) inode.sb.setDisksize(inode, disksize);
    iocb.ki_pos = chk.pos + ret;
    // Variant buffered-write-no-dsync: the sync is forgotten.
    return k.v.on('buffered-write-no-dsync') ? ret : generic_write_sync(iocb, ret);
  }
  return ret;
}

/** iov_iter_truncate the iterator to `count` bytes (generic_write_checks may shorten a write). */
function truncated(from: IovIter, count: number): IovIter {
  if (count < from.count) from.truncate(count);
  return from;
}

/** ext4_dio_write_end_io: convert unwritten blocks, then extend the sizes. */
function ext4_dio_write_ops(inode: Inode): IomapDioOps {
  return {
    end_io(iocb, size, error, flags) {
      if (error !== 0) return error;
      const pos = iocb.ki_pos;
      const sb = inode.sb;
      const bs = inode.blockSize;
      if (size > 0 && (flags & IOMAP_DIO_UNWRITTEN) !== 0) {
        const first = Math.floor(pos / bs);
        sb.convertUnwritten(inode, first, Math.ceil((pos + size) / bs) - first);
      }
      if (pos + size > inode.disksize || pos + size > inode.i_size) {
        // ext4_handle_inode_extension -> ext4_update_inode_size: i_size and i_disksize
        // move together, and nothing more: no pagecache_isize_extended, so the folio
        // straddling the old EOF keeps what a store through mmap put past it, and
        // stays writable (the finding ext4-dio-extend-stale-tail; with 1 KiB blocks the
        // stored bytes of the old EOF block become file data, those of the blocks
        // after it stay holes that writeback never fills).
        if (pos + size > inode.i_size) inode.i_size = pos + size;
        if (pos + size > inode.disksize) sb.setDisksize(inode, pos + size);
        ext4_orphan_del(inode);
      }
      return 0;
    },
  };
}

/** ext4_dio_write_iter */
export function ext4_dio_write_iter(iocb: Kiocb, from: IovIter): number {
  const inode = iocb.file.inode;
  const k = inode.sb.k;
  if (!ext4_should_use_dio(iocb, from)) {
    cover('dio: write fell back to buffered');
    return ext4_buffered_write_iter(iocb, from);
  }
  const chk = generic_write_checks({
    pos: iocb.ki_pos,
    count: from.count,
    append: (iocb.ki_flags & IOCB_APPEND) !== 0,
    nowait: (iocb.ki_flags & IOCB_NOWAIT) !== 0,
    direct: true,
    bufWasync: false,
    isize: inode.i_size,
    maxbytes: inode.sb.s_maxbytes,
    atomic: (iocb.ki_flags & IOCB_ATOMIC) !== 0,
    v: inode.sb.k.v,
  });
  if (typeof chk === 'number') return chk;
  if (chk.count === 0) return 0;
  iocb.ki_pos = chk.pos;
  const pos = chk.pos;
  const count = chk.count;
  const bs = inode.blockSize;
  const unaligned = pos % bs !== 0 || from.alignment() % bs !== 0;
  const extend = pos + count > inode.i_size || pos + count > inode.disksize;
  // ext4_overwrite_io: every block allocated (written or unwritten) inside i_size.
  let overwrite = pos + count <= inode.i_size;
  let unwrittenFirst = false;
  if (overwrite) {
    const first = Math.floor(pos / bs);
    const last = Math.ceil((pos + count) / bs);
    const es = inode.extents.overlapping(first, last);
    let covered = 0;
    for (const e of es) if (e.v.type !== 'delalloc') covered += e.end - e.start;
    overwrite = covered === last - first;
    unwrittenFirst = es[0]?.v.type === 'unwritten';
  }
  if ((iocb.ki_flags & IOCB_NOWAIT) !== 0 && (extend || !overwrite || (unaligned && unwrittenFirst))) return -EAGAIN;
  let dioFlags = 0;
  if (unaligned || extend) dioFlags |= IOMAP_DIO_FORCE_WAIT;
  // An extending write puts the inode on the orphan list first, so that blocks
  // it allocates past EOF are truncated by recovery if a crash loses the size.
  if (extend) ext4_orphan_add(inode);
  // Variant fix-ext4-dio-extend-zero-tail: a write starting past EOF first does what
  // ext4_da_do_write_end does for a buffered one: write-protect and zero the folio straddling
  // the old EOF (pagecache_isize_extended), zero the old EOF block's tail (ext4_zero_partial_blocks).
  if (pos > inode.i_size && k.v.on('fix-ext4-dio-extend-zero-tail')) {
    const old = inode.i_size;
    pagecache_isize_extended(inode.mapping, bs, old, pos);
    ext4_zero_partial_blocks(inode, old, pos - old);
  }
  const sub = truncated(from, count);
  let ret = iomap_dio_rw(k, inode, iocb, sub, ext4_iomap_ops(inode), ext4_dio_write_ops(inode), dioFlags, generic_write_sync, true);
  if (ret === -ENOTBLK) ret = 0;
  if (extend) {
    // ext4_inode_extension_cleanup: on failure ext4_truncate_failed_write drops blocks past i_size.
    if (ret < 0) ext4_truncate(inode);
    ext4_orphan_del(inode);
  }
  if (ret >= 0 && sub.count > 0) {
    // Short DIO: the rest goes through the page cache, then is written back and dropped.
    cover('dio: write fell back to buffered');
    const bpos = iocb.ki_pos;
    const b = ext4_buffered_write_iter({ file: iocb.file, ki_pos: bpos, ki_flags: iocb.ki_flags & ~IOCB_DIRECT }, sub);
    if (b < 0) return ret > 0 ? ret : b;
    const err = filemap_write_and_wait_range(inode.mapping, bpos, bpos + b - 1);
    if (err === 0) invalidate_inode_pages2_range(inode.mapping, Math.floor(bpos / PAGE_SIZE), Math.floor((bpos + b - 1) / PAGE_SIZE));
    iocb.ki_pos = bpos + b;
    return ret + b;
  }
  return ret;
}

/** ext4_file_write_iter */
export function ext4_file_write_iter(iocb: Kiocb, from: IovIter): number {
  const inode = iocb.file.inode;
  if (inode.sb.shutdown) return -EIO;
  if ((iocb.ki_flags & IOCB_ATOMIC) !== 0) {
    const len = from.count;
    const sbi = EXT4_SB(inode.sb);
    if (len < sbi.awu_min || len > sbi.awu_max) return -EINVAL;
    const r = generic_atomic_write_valid(iocb, from);
    if (r !== 0) return r;
  }
  if ((iocb.ki_flags & IOCB_DIRECT) !== 0) return ext4_dio_write_iter(iocb, from);
  return ext4_buffered_write_iter(iocb, from);
}

/** ext4_file_read_iter / ext4_dio_read_iter */
export function ext4_file_read_iter(iocb: Kiocb, to: IovIter): number {
  const inode = iocb.file.inode;
  const k = inode.sb.k;
  if (inode.sb.shutdown) return -EIO;
  if (to.count === 0) return 0;
  if ((iocb.ki_flags & IOCB_DIRECT) !== 0 && !ext4_should_use_dio(iocb, to) && k.v.on('dio-read-no-fallback')) {
    // Variant dio-read-no-fallback: nothing read, no buffered fallback.
    return 0;
  }
  if ((iocb.ki_flags & IOCB_DIRECT) !== 0 && ext4_should_use_dio(iocb, to)) {
    return iomap_dio_rw(k, inode, iocb, to, ext4_iomap_ops(inode), null, 0, (_i, n) => n, false);
  }
  const n = filemap_read(inode.mapping, iocb.ki_pos, to.count, (d) => to.copyTo(d), iocb.ki_flags);
  if (n > 0) iocb.ki_pos += n;
  return n;
}

/**
 * ext4_release_file: after a truncate to 0 (EXT4_STATE_DA_ALLOC_CLOSE, the
 * auto_da_alloc heuristic for the replace-by-truncate pattern) the file's
 * delayed allocations are started now (ext4_alloc_da_blocks ->
 * filemap_flush), so the new data reaches the disk with the next commit.
 */
export function ext4_release_file(file: File): void {
  const inode = file.inode;
  const ei = EXT4_I(inode);
  if (ei.daAllocClose) {
    ei.daAllocClose = false;
    if (inode.delayed > 0) filemap_fdatawrite_range(inode.mapping, 0, Number.MAX_SAFE_INTEGER, 'none');
  }
  // The last writer gone and no delayed blocks reserved: the file's preallocations go.
  if ((file.f_mode & FMODE_WRITE) !== 0) {
    if (ei.writers === 1 && inode.delayed === 0) ext4_discard_preallocations(inode);
    ei.writers--;
  }
}

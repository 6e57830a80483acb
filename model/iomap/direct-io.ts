/**
 * fs/iomap/direct-io.c: direct I/O through the iomap iterator.
 */
import { fscrypt_set_bio_crypt_ctx } from '../crypto/inline_crypt.ts';
import { roundUp } from '../lib/math.ts';
import type { Span } from '../lib/content.ts';
import { SRC_GARBAGE, overlayData, span, zeroData } from '../lib/content.ts';
import { EAGAIN, EFAULT, EINVAL, EIO, ENOTBLK } from '../lib/errno.ts';
import { Bio, REQ_ATOMIC, REQ_FUA, REQ_IDLE, REQ_SYNC } from '../block/bio.ts';
import { BIO_MAX_VECS } from '../block/blk-settings.ts';
import type { Kernel } from '../kernel.ts';
import type { Inode } from '../fs/inode.ts';
import { filemap_write_and_wait_range, kiocb_invalidate_pages, kiocb_invalidate_post_direct_write } from '../mm/filemap.ts';
import type { Kiocb } from '../vfs/file.ts';
import { IOCB_ATOMIC, IOCB_DSYNC, IOCB_NOWAIT, IOCB_SYNC } from '../vfs/fcntl.ts';
import type { IovIter } from '../vfs/uio.ts';
import type { IomapOps } from './iomap.ts';
import {
  IOMAP_ATOMIC,
  IOMAP_DIRECT,
  IOMAP_F_ATOMIC_BIO,
  IOMAP_F_DIRTY,
  IOMAP_F_NEW,
  IOMAP_F_SHARED,
  IOMAP_NOWAIT,
  IOMAP_OVERWRITE_ONLY,
  IOMAP_WRITE,
  iomapAddr,
} from './iomap.ts';
import type { IomapIter } from './iter.ts';
import { iomap_iterate, iomap_length } from './iter.ts';
import { mappingObserver } from './buffered-io.ts';

/** Caller flags (dio_flags). */
export const IOMAP_DIO_FORCE_WAIT = 1 << 0;
export const IOMAP_DIO_OVERWRITE_ONLY = 1 << 1;
export const IOMAP_DIO_PARTIAL = 1 << 2;
export const IOMAP_DIO_FSBLOCK_ALIGNED = 1 << 3;
export const IOMAP_DIO_BOUNCE = 1 << 4;
/** RFC (seed 003): the direct write of a buffered RWF_WRITETHROUGH write, from the folio. */
export const IOMAP_DIO_BUF_WRITETHROUGH = 1 << 5;
/** ->end_io flags. */
export const IOMAP_DIO_UNWRITTEN = 1 << 0;
export const IOMAP_DIO_COW = 1 << 1;
/** Internal dio->flags. */
const IOMAP_DIO_WRITE = 1 << 16;
const IOMAP_DIO_NEED_SYNC = 1 << 17;
const IOMAP_DIO_WRITE_THROUGH = 1 << 18;

/** struct iomap_dio_ops */
export interface IomapDioOps {
  /** ->end_io(iocb, size, error, flags): file system completion (conversion, size). */
  end_io(iocb: Kiocb, size: number, error: number, flags: number): number;
  /**
   * ->submit_io: the file system submits the bio itself (btrfs: data
   * checksums of a write computed from the bio's bytes, a read's verified at
   * its completion).
   */
  submit_io?(bio: Bio, write: boolean): void;
}

/** What the file system does for generic_write_sync (O_DSYNC completion). */
export type WriteSync = (iocb: Kiocb, count: number) => number;

interface IomapDio {
  readonly req: number;
  readonly iocb: Kiocb;
  readonly iter: IovIter;
  /** i_size sampled at the start. */
  readonly i_size: number;
  flags: number;
  size: number;
  error: number;
  /** Every data bio was REQ_FUA. */
  allFua: boolean;
  /** Bios submitted and not completed, plus one for the submitter while it submits (dio->ref). */
  ref: number;
  /** Asynchronous caller (-EIOCBQUEUED): completion runs when the last bio completes. */
  onLastRef: (() => void) | null;
  /** IOMAP_DIO_BOUNCE reads: what each bio brought into its bounce buffer, [iterator offset, length, data]. */
  bounced: Array<{ readonly off: number; data: Span[] }>;
  readonly dops: IomapDioOps | null;
}

/** What an asynchronous caller (a kiocb with ->ki_complete) gives iomap_dio_rw. */
export interface DioAsync {
  /** The request id of the I/O, once it exists (the folio's writeback waits on it). */
  onSubmit(req: number): void;
  /** ->ki_complete(iocb, ret), after iomap_dio_complete. */
  complete(ret: number): void;
}

/** -EIOCBQUEUED: the I/O was queued; ->ki_complete reports the result. */
export const EIOCBQUEUED = -529;

/** iomap_dio_set_error: the first error wins. */
function iomap_dio_set_error(dio: IomapDio, err: number): void {
  if (dio.error === 0) dio.error = err;
}

function dioEndio(dio: IomapDio) {
  return (bio: Bio): void => {
    if (bio.status !== 0) iomap_dio_set_error(dio, bio.status);
    dioPut(dio);
  };
}

/** iomap_dio_submit_bio: the bio holds a reference on the dio until it completes; a file system with ->submit_io submits it. */
function dioSubmit(k: Kernel, dio: IomapDio, bio: Bio): void {
  dio.ref += 1;
  bio.endio = dioEndio(dio);
  if (dio.dops?.submit_io !== undefined) dio.dops.submit_io(bio, (dio.flags & IOMAP_DIO_WRITE) !== 0);
  k.submit_bio(bio);
}

/** Drop a reference; the last one of an asynchronous dio completes it (iomap_dio_bio_end_io -> iomap_dio_done). */
function dioPut(dio: IomapDio): void {
  dio.ref -= 1;
  if (dio.ref === 0 && dio.onLastRef !== null) dio.onLastRef();
}

/**
 * iomap_dio_zero: write `len` zero bytes at file position `pos` (sub-block
 * zeroing around a write into new or unwritten blocks), from the shared zero
 * folio.
 */
function iomap_dio_zero(k: Kernel, inode: Inode, dio: IomapDio, it: IomapIter, pos: number, len: number): number {
  const m = it.pair!.iomap;
  const bio = new Bio('write', REQ_SYNC | REQ_IDLE, iomapAddr(m, pos) / 512, { kind: 'dio-zero', ino: inode.ino, pos, step: k.step });
  bio.crypt = fscrypt_set_bio_crypt_ctx(inode, pos);
  bio.req = dio.req;
  // The zero folio is kernel memory: page aligned.
  bio.addVec(0, len, zeroData(len));
  dioSubmit(k, dio, bio);
  return 0;
}

/** iomap_dio_hole_iter: a read of a hole or unwritten extent zero-fills the user buffer. */
function iomap_dio_hole_iter(dio: IomapDio, it: IomapIter): number {
  const length = iomap_length(it);
  dio.iter.deliver(dio.iter.consumed, zeroData(length));
  dio.iter.advance(length);
  dio.size += length;
  if (length === 0) return -EFAULT;
  return length;
}

/** iomap_dio_bio_iter: build and submit the bios of one mapped or unwritten extent. */
function iomap_dio_bio_iter(k: Kernel, inode: Inode, dio: IomapDio, it: IomapIter): number {
  const pair = it.pair!;
  const m = pair.iomap;
  const bs = inode.blockSize;
  const length = iomap_length(it);
  let pos = it.pos;
  const alignment = (dio.flags & IOMAP_DIO_FSBLOCK_ALIGNED) !== 0 ? bs : k.disk.limits.logical_block_size;
  if (pos % alignment !== 0 || length % alignment !== 0) return -EINVAL;
  let opf = REQ_SYNC | REQ_IDLE;
  let needZeroout = false;
  const write = (dio.flags & IOMAP_DIO_WRITE) !== 0;
  if (write) {
    let needCompletionWork = true;
    if (m.type === 'mapped') needCompletionWork = false;
    else if (m.type === 'unwritten') {
      dio.flags |= IOMAP_DIO_UNWRITTEN;
      needZeroout = true;
    }
    if ((m.flags & IOMAP_F_ATOMIC_BIO) !== 0) {
      if (length !== it.len) return -EINVAL;
      opf |= REQ_ATOMIC;
    }
    if ((m.flags & IOMAP_F_SHARED) !== 0) {
      needCompletionWork = true;
      dio.flags |= IOMAP_DIO_COW;
    }
    if ((m.flags & IOMAP_F_NEW) !== 0) {
      needCompletionWork = true;
      needZeroout = true;
    }
    if ((dio.flags & IOMAP_DIO_WRITE_THROUGH) !== 0) {
      const lim = k.disk.limits;
      if (!needCompletionWork && (m.flags & IOMAP_F_DIRTY) === 0 && (!lim.write_cache || lim.fua)) opf |= REQ_FUA;
      else dio.flags &= ~IOMAP_DIO_WRITE_THROUGH;
    }
  }
  if (length === 0) return 0;
  if (needZeroout) {
    const pad = pos % bs;
    if (pad > 0) iomap_dio_zero(k, inode, dio, it, pos - pad, pad);
  }
  let copied = 0;
  let ret = 0;
  while (copied < length) {
    if (dio.error !== 0) {
      dio.iter.revert(copied);
      return 0;
    }
    // bio_iov_iter_get_pages: pin up to BIO_MAX_VECS pages, trimmed to the alignment.
    const pages = dio.iter.pages(dio.iter.consumed, length - copied).slice(0, BIO_MAX_VECS);
    let n = 0;
    for (const p of pages) n += p.len;
    const trim = n % alignment;
    n -= trim;
    if (n === 0) {
      ret = -EFAULT;
      break;
    }
    if ((opf & REQ_ATOMIC) !== 0 && n !== length) {
      ret = -EINVAL;
      break;
    }
    const kind = (dio.flags & IOMAP_DIO_BUF_WRITETHROUGH) !== 0 ? 'writethrough' : 'dio';
    const bio = new Bio(write ? 'write' : 'read', opf, iomapAddr(m, pos) / 512, { kind, ino: inode.ino, pos, step: k.step });
    // A write-through's completion fails (converts nothing) as a whole when one of its bios fails.
    if (kind === 'writethrough') bio.ioRange = { pos: dio.iocb.ki_pos, len: dio.iter.total };
    bio.crypt = fscrypt_set_bio_crypt_ctx(inode, pos);
    bio.req = dio.req;
    let left = n;
    const iterBase = dio.iter.consumed;
    // IOMAP_DIO_BOUNCE (bio_iov_iter_bounce): the I/O goes through a kernel buffer, contiguous and
    // page aligned, filled from the user's buffer now (writes) or copied back at completion (reads).
    const bounce = (dio.flags & IOMAP_DIO_BOUNCE) !== 0;
    for (const p of pages) {
      if (left <= 0) break;
      const len = Math.min(p.len, left);
      bio.addVec(bounce ? p.iterOff - iterBase : p.addr, len, write ? dio.iter.contentAt(p.iterOff, len) : null);
      left -= len;
    }
    if (write && !bounce) {
      // Zero copy: the device reads the user's pages when it transfers them.
      const iter = dio.iter;
      // Callbacks go through a local: see GC_PRETENURED_CLOSURES in scripts/v8-flags.mjs.
      const live = (rel: number, len: number): Span[] => iter.live(iterBase + rel, len);
      bio.live = live;
      bio.liveIsUserMemory = iter.liveReader === null;
    }
    if (!write && bounce) {
      // A bounce page no device read fills holds whatever kernel memory it held.
      const slot = { off: iterBase, data: [span(n, SRC_GARBAGE, 0, 0)] };
      dio.bounced.push(slot);
      const sink = (rel: number, data: Span[]): void => {
        slot.data = overlayData(slot.data, rel, data);
      };
      bio.sink = sink;
    } else if (!write) {
      const sink = (rel: number, data: Span[]): void => dio.iter.deliver(iterBase + rel, data);
      bio.sink = sink;
    }
    if ((opf & REQ_FUA) === 0) dio.allFua = false;
    dio.iter.advance(n);
    dio.size += n;
    copied += n;
    dioSubmit(k, dio, bio);
    pos += n;
  }
  // zero_tail: sub-block tail zeroing for new/unwritten blocks or a write ending past EOF.
  if (write && (needZeroout || pos >= inode.i_size)) {
    const pad = pos % bs;
    if (pad > 0) iomap_dio_zero(k, inode, dio, it, pos, bs - pad);
  }
  if (copied > 0) return copied;
  return ret;
}

/** iomap_dio_iter: dispatch on the mapping type. */
function iomap_dio_iter(k: Kernel, inode: Inode, dio: IomapDio, it: IomapIter): number {
  const m = it.pair!.iomap;
  const write = (dio.flags & IOMAP_DIO_WRITE) !== 0;
  switch (m.type) {
    case 'hole':
      if (write) return -EIO;
      return iomap_dio_hole_iter(dio, it);
    case 'unwritten':
      if (!write) return iomap_dio_hole_iter(dio, it);
      return iomap_dio_bio_iter(k, inode, dio, it);
    case 'mapped':
      return iomap_dio_bio_iter(k, inode, dio, it);
    case 'delalloc':
      // "Direct I/O collision with buffered writes!"
      return -EIO;
    case 'inline':
      return -EIO;
  }
}

/**
 * __iomap_dio_rw + iomap_dio_complete, for a synchronous caller (the model
 * waits for every bio of the request before completing it).
 */
export function iomap_dio_rw(
  k: Kernel,
  inode: Inode,
  iocb: Kiocb,
  iter: IovIter,
  ops: IomapOps,
  dops: IomapDioOps | null,
  dioFlags: number,
  writeSync: WriteSync,
  write: boolean,
  async: DioAsync | null = null,
): number {
  const count = iter.count;
  if (count === 0) return 0;
  const dio: IomapDio = {
    req: k.newReq(),
    iocb,
    iter,
    i_size: inode.i_size,
    flags: dioFlags & (IOMAP_DIO_FSBLOCK_ALIGNED | IOMAP_DIO_BOUNCE | IOMAP_DIO_BUF_WRITETHROUGH),
    size: 0,
    error: 0,
    allFua: true,
    ref: 1,
    onLastRef: null,
    bounced: [],
    dops,
  };
  const bufWritethrough = (dio.flags & IOMAP_DIO_BUF_WRITETHROUGH) !== 0;
  let iflags = IOMAP_DIRECT;
  const pos = iocb.ki_pos;
  const end = pos + count - 1;
  if ((iocb.ki_flags & IOCB_NOWAIT) !== 0) iflags |= IOMAP_NOWAIT;
  if (!write) {
    if (pos >= dio.i_size) return 0;
    // kiocb_write_and_wait
    if ((iocb.ki_flags & IOCB_NOWAIT) !== 0) {
      if (inode.mapping.hasDirtyOrWriteback(pos, end + 1)) return -EAGAIN;
    } else {
      const r = filemap_write_and_wait_range(inode.mapping, pos, end);
      if (r !== 0) return r;
    }
  } else {
    iflags |= IOMAP_WRITE;
    dio.flags |= IOMAP_DIO_WRITE;
    if ((dioFlags & IOMAP_DIO_OVERWRITE_ONLY) !== 0) {
      if (pos >= dio.i_size || pos + count > dio.i_size) return -EAGAIN;
      iflags |= IOMAP_OVERWRITE_ONLY;
    }
    if ((iocb.ki_flags & IOCB_ATOMIC) !== 0) iflags |= IOMAP_ATOMIC;
    // RFC: for a buffered write-through the buffered path does the sync.
    if ((iocb.ki_flags & IOCB_DSYNC) !== 0 && !bufWritethrough) {
      dio.flags |= IOMAP_DIO_NEED_SYNC;
      if ((iocb.ki_flags & IOCB_SYNC) === 0) dio.flags |= IOMAP_DIO_WRITE_THROUGH;
    }
    // RFC: a write-through holds the folio it writes from: no invalidation (IOMAP_DIO_NO_INVALIDATE).
    if (!k.v.on('dio-no-invalidate') && !bufWritethrough) {
      const r = kiocb_invalidate_pages(inode.mapping, pos, count, (iocb.ki_flags & IOCB_NOWAIT) !== 0);
      if (r !== 0) {
        if (r === -EAGAIN) return r;
        return (iocb.ki_flags & IOCB_ATOMIC) !== 0 ? -EAGAIN : -ENOTBLK;
      }
    }
  }
  // Variant fix-dio-read-stop-at-eof: a read maps nothing past the block holding EOF.
  const eofBlock = roundUp(dio.i_size, inode.blockSize);
  const len = !write && pos + count > eofBlock && k.v.on('fix-dio-read-stop-at-eof') ? eofBlock - pos : count;
  inode.dioCount += 1;
  const r = iomap_iterate(inode.ino, pos, len, iflags, ops, (it) => iomap_dio_iter(k, inode, dio, it), mappingObserver(k, inode));
  let ret = r.err;
  if (ret === -ENOTBLK) {
    // The file system asked to fall back to buffered I/O for the rest: a short DIO.
    ret = 0;
  }
  if (ret < 0) iomap_dio_set_error(dio, ret);
  if (write && (dio.flags & IOMAP_DIO_WRITE_THROUGH) !== 0 && dio.allFua) dio.flags &= ~IOMAP_DIO_NEED_SYNC;
  // Another thread stores into the buffer now, while the I/O is in flight (pwrite storeDuringIo).
  if (write) iter.applyStoreDuringIo();
  if (async !== null) {
    // Asynchronous: the last bio completion runs the completion and ->ki_complete.
    async.onSubmit(dio.req);
    const onLastRef = (): void => {
      inode.dioCount -= 1;
      iomap_dio_unbounce(k, dio);
      async.complete(iomap_dio_complete(inode, dio, dops, writeSync, write));
    };
    dio.onLastRef = onLastRef;
    dioPut(dio);
    return EIOCBQUEUED;
  }
  k.wait_req(dio.req);
  inode.dioCount -= 1;
  iomap_dio_unbounce(k, dio);
  return iomap_dio_complete(inode, dio, dops, writeSync, write);
}

/**
 * __iomap_dio_bio_end_io -> bio_iov_iter_unbounce(bio, !!dio->error, ...):
 * a bounced read is copied back to the user's buffer only if the whole
 * direct I/O succeeded.  Variant bounce-read-copyback-on-error copies back
 * anyway, including the pages no device read filled (kernel memory).
 */
function iomap_dio_unbounce(k: Kernel, dio: IomapDio): void {
  if (dio.bounced.length === 0) return;
  if (dio.error !== 0 && !k.v.on('bounce-read-copyback-on-error')) return;
  for (const b of dio.bounced) dio.iter.deliver(b.off, b.data);
}

/** iomap_dio_complete */
function iomap_dio_complete(inode: Inode, dio: IomapDio, dops: IomapDioOps | null, writeSync: WriteSync, write: boolean): number {
  const iocb = dio.iocb;
  const offset = iocb.ki_pos;
  let ret = dio.error;
  if (dops !== null) ret = dops.end_io(iocb, dio.size, ret, dio.flags & (IOMAP_DIO_UNWRITTEN | IOMAP_DIO_COW));
  if (ret === 0) {
    ret = dio.size;
    if (!write && offset + ret > dio.i_size) ret = dio.i_size - offset;
  }
  if (write && dio.error === 0 && dio.size > 0 && !inode.sb.k.v.on('dio-no-invalidate') && (dio.flags & IOMAP_DIO_BUF_WRITETHROUGH) === 0) {
    kiocb_invalidate_post_direct_write(inode.mapping, offset, dio.size);
  }
  if (ret > 0) {
    iocb.ki_pos += ret;
    if (write && (dio.flags & IOMAP_DIO_NEED_SYNC) !== 0) ret = writeSync(iocb, ret);
  }
  return ret;
}


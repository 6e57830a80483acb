/**
 * fs/btrfs/direct-io.c: direct I/O through iomap (btrfs_dio_iomap_ops,
 * the submit_io hook, btrfs_dio_end_io) and its silent fallbacks to
 * buffered I/O: anything not aligned to the sector size (offset, length or
 * memory) goes buffered, never EINVAL; since "btrfs: always fallback to
 * buffered write if the inode requires checksum" (968f19c5b1b7, v6.14)
 * every direct write to a file with data checksums is a buffered write
 * followed by writeback and invalidation; direct reads of inline extents
 * fall back too.
 *
 * Variants: btrfs-dio-zero-copy-csum (before v6.14: direct writes from the
 * user's pages with checksums computed at submission) and btrfs-dio-bounce
 * (seed 001: IOMAP_DIO_BOUNCE instead of the buffered fallback).
 */
import type { Inode } from '../fs/inode.ts';
import type { Bio } from '../block/bio.ts';
import type { IomapDioOps } from '../iomap/direct-io.ts';
import { IOMAP_DIO_BOUNCE, iomap_dio_rw } from '../iomap/direct-io.ts';
import type { IomapOps, IomapPair } from '../iomap/iomap.ts';
import { IOMAP_NOWAIT, iomapHole } from '../iomap/iomap.ts';
import type { Span } from '../lib/content.ts';
import { EAGAIN, EIO, ENOSPC, ENOTBLK } from '../lib/errno.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import { filemap_write_and_wait_range, invalidate_inode_pages2_range } from '../mm/filemap.ts';
import { pagecache_isize_extended } from '../mm/truncate.ts';
import type { Kiocb } from '../vfs/file.ts';
import { IOCB_DIRECT, IOCB_NOWAIT } from '../vfs/fcntl.ts';
import { generic_write_sync } from '../vfs/sync.ts';
import type { IovIter } from '../vfs/uio.ts';
import { BTRFS_I, btrfs_has_csums, btrfs_is_nodatacow, btrfs_should_nocow } from './btrfs_inode.ts';
import { btrfs_data_csum_ok } from './file-item.ts';
import { btrfs_cancel_ordered, btrfs_csum_bio_blocks, btrfs_finish_ordered, btrfs_get_extent, btrfs_reserve_extent } from './inode.ts';
import { btrfs_cross_ref_exist } from './backref.ts';
import { sliceData } from '../lib/content.ts';
import { cover } from '../lib/coverage.ts';

/** check_direct_IO: the position and every segment's address and length aligned to the sector size. */
function check_direct_IO(inode: Inode, pos: number, iter: IovIter): boolean {
  const bs = inode.blockSize;
  return pos % bs === 0 && iter.alignment() % bs === 0;
}

/** Something the direct path cannot do here: an inline extent, dirty or in-flight buffered data (lock_extent_direct). */
function needsBuffered(inode: Inode, first: number, last: number): boolean {
  const bi = BTRFS_I(inode);
  return (first === 0 && bi.inline !== null) || bi.delalloc.intersects(first, last) || bi.ordered.intersects(first, last);
}

/** btrfs_dio_iomap_begin for reads: holes and preallocated extents read as zeroes, inline extents go buffered. */
function btrfs_dio_read_iomap_ops(inode: Inode): IomapOps {
  return {
    name: 'btrfs_dio_iomap_ops',
    begin(pos, length, flags): IomapPair | number {
      const bs = inode.blockSize;
      if ((flags & IOMAP_NOWAIT) !== 0 && length > PAGE_SIZE) return -EAGAIN;
      const lblk = Math.floor(pos / bs);
      const last = Math.ceil((pos + length) / bs);
      if (needsBuffered(inode, lblk, last)) return -ENOTBLK;
      const look = btrfs_get_extent(inode, lblk, last);
      const m = look.e === undefined || look.e.type !== 'mapped'
        ? iomapHole(lblk * bs, (look.end - lblk) * bs)
        : { addr: look.e.pblk * bs, offset: lblk * bs, length: (look.end - lblk) * bs, type: 'mapped' as const, flags: 0 };
      return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
    },
  };
}

/**
 * btrfs_dio_iomap_begin for writes (btrfs_get_blocks_direct_write): a
 * preallocated extent, or a written extent of a NODATACOW file, that
 * nobody else references is written in place; anything else gets a new
 * extent (an ordered extent inserted at completion).  A write past EOF
 * moves i_size now, before any data I/O.  The mapping carries no IOMAP_F_*
 * flags.
 */
function btrfs_dio_write_iomap_ops(inode: Inode): IomapOps {
  return {
    name: 'btrfs_dio_iomap_ops',
    begin(pos, length, flags): IomapPair | number {
      const bs = inode.blockSize;
      const lblk = Math.floor(pos / bs);
      const last = Math.ceil((pos + length) / bs);
      if (inode.mapping.folioRange(pos, pos + length).length > 0 || needsBuffered(inode, lblk, last)) return (flags & IOMAP_NOWAIT) !== 0 ? -EAGAIN : -ENOTBLK;
      const look = btrfs_get_extent(inode, lblk, last);
      // A NOWAIT write must be one extent map: it cannot stop part way (it would be written and still fail).
      if ((flags & IOMAP_NOWAIT) !== 0 && look.end < last) return -EAGAIN;
      let addr: number;
      let end = look.end;
      const e = look.e;
      let nocow = false;
      if (e !== undefined && e.pblk >= 0 && (e.type === 'unwritten' ? btrfs_should_nocow(inode) : btrfs_is_nodatacow(inode))) {
        // can_nocow_extent: not while anything else references the disk extent.
        const x = btrfs_cross_ref_exist(inode, lblk, e.pblk);
        if (!x.shared) {
          nocow = true;
          end = Math.min(end, lblk + x.n);
        }
      }
      if (nocow) {
        addr = e!.pblk * bs;
      } else {
        if ((flags & IOMAP_NOWAIT) !== 0) return -EAGAIN;
        const got = btrfs_reserve_extent(inode, lblk, end - lblk);
        if (got === null) return -ENOSPC;
        BTRFS_I(inode).ordered.set(lblk, lblk + got.len, { type: 'mapped', pblk: got.pblk });
        end = lblk + got.len;
        addr = got.pblk * bs;
      }
      const mEnd = Math.min(end * bs, pos + length);
      if (mEnd > inode.i_size) {
        const old = inode.i_size;
        inode.i_size = mEnd;
        pagecache_isize_extended(inode.mapping, bs, old, mEnd);
      }
      const m = { addr, offset: lblk * bs, length: (end - lblk) * bs, type: 'mapped' as const, flags: 0 };
      return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
    },
  };
}

/**
 * The completion (btrfs_dio_end_io -> btrfs_finish_ordered_extent), and
 * btrfs_dio_submit_io: a write's checksums are computed from the bytes the
 * bio sends at submission, a read's verified when it completes (a mismatch
 * fails the whole request with EIO).
 */
function btrfs_dio_ops(inode: Inode, pos: number, count: number, write: boolean): IomapDioOps {
  const bs = inode.blockSize;
  return {
    end_io(iocb, size, error) {
      if (!write) return error;
      if (iocb.file.inode.sb.shutdown && error === 0) return -EIO;
      const first = Math.floor(pos / bs);
      const attempted = Math.ceil((pos + count) / bs);
      if (error !== 0) {
        btrfs_cancel_ordered(inode, first, attempted);
        return error;
      }
      const done = Math.ceil((pos + size) / bs);
      if (size > 0) btrfs_finish_ordered(inode, first, done);
      btrfs_cancel_ordered(inode, done, attempted);
      return 0;
    },
    submit_io(bio: Bio, write: boolean) {
      if (write) {
        btrfs_csum_bio_blocks(inode, bio.byteAddr / bs, bio.data);
        return;
      }
      if (!btrfs_has_csums(inode)) return;
      // btrfs_check_read_bio: each sector against its checksum, once the whole bio completed.
      const parts: Array<[number, Span[]]> = [];
      const sink = bio.sink;
      // Callbacks go through a local: see GC_PRETENURED_CLOSURES in scripts/v8-flags.mjs.
      const checkedSink: NonNullable<Bio['sink']> = (rel, data) => {
        parts.push([rel, data]);
        sink?.(rel, data);
      };
      bio.sink = checkedSink;
      const endio = bio.endio;
      const start = bio.byteAddr;
      const total = bio.size;
      const checkedEndio: NonNullable<Bio['endio']> = (b) => {
        if (b.status === 0) {
          parts.sort((x, y) => x[0] - y[0]);
          const all = parts.flatMap(([, d]) => d);
          for (let off = 0; off < total; off += bs) {
            if (!btrfs_data_csum_ok(inode, (start + off) / bs, sliceData(all, off, bs))) {
              b.status = -EIO;
              break;
            }
          }
        }
        endio?.(b);
      };
      bio.endio = checkedEndio;
    },
  };
}

/**
 * btrfs_direct_read: what can be read as direct I/O; 0 when the read must
 * go buffered (not aligned), or the bytes read before a mapping that must
 * (an inline extent) — the caller reads the rest through the page cache.
 */
export function btrfs_direct_read(iocb: Kiocb, to: IovIter): number {
  const inode = iocb.file.inode;
  if (!check_direct_IO(inode, iocb.ki_pos, to)) return 0;
  return iomap_dio_rw(inode.sb.k, inode, iocb, to, btrfs_dio_read_iomap_ops(inode), btrfs_dio_ops(inode, iocb.ki_pos, to.count, false), 0, (_i, n) => n, false);
}

/**
 * btrfs_direct_write after btrfs_write_check: direct I/O for aligned
 * writes to files without checksums (NODATASUM), through the page cache
 * otherwise; what the direct path leaves (-ENOTBLK) is written buffered.
 * `buffered` is btrfs_buffered_write.
 */
export function btrfs_direct_write(iocb: Kiocb, from: IovIter, buffered: (iocb: Kiocb, from: IovIter) => number): number {
  const inode = iocb.file.inode;
  const k = inode.sb.k;
  const csum = btrfs_has_csums(inode);
  const zeroCopy = k.v.on('btrfs-dio-zero-copy-csum');
  const bounce = csum && k.v.on('btrfs-dio-bounce');
  let done = 0;
  if (check_direct_IO(inode, iocb.ki_pos, from) && (!csum || zeroCopy || bounce)) {
    const r = iomap_dio_rw(k, inode, iocb, from, btrfs_dio_write_iomap_ops(inode), btrfs_dio_ops(inode, iocb.ki_pos, from.count, true), bounce ? IOMAP_DIO_BOUNCE : 0, generic_write_sync, true);
    if (r < 0 && r !== -ENOTBLK) return r;
    done = Math.max(0, r);
    if (from.count === 0) return done;
  }
  cover('dio: write fell back to buffered');
  // The buffered fallback: written, written back and dropped from the page cache.
  if ((iocb.ki_flags & IOCB_NOWAIT) !== 0) return done > 0 ? done : -EAGAIN;
  const pos = iocb.ki_pos;
  const b = buffered({ file: iocb.file, ki_pos: pos, ki_flags: iocb.ki_flags & ~IOCB_DIRECT }, from);
  // An error from the buffered write, or from writing it back (btrfs_fdatawrite_range, filemap_fdatawait_range), is what the call returns, whatever the direct part wrote.
  if (b < 0) return b;
  if (b === 0) return done;
  const err = filemap_write_and_wait_range(inode.mapping, pos, pos + b - 1);
  if (err !== 0) return err;
  invalidate_inode_pages2_range(inode.mapping, Math.floor(pos / PAGE_SIZE), Math.floor((pos + b - 1) / PAGE_SIZE));
  iocb.ki_pos = pos + b;
  return done + b;
}

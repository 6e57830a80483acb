/**
 * fs/xfs/xfs_iomap.c: the XFS ->iomap_begin implementations and speculative
 * post-EOF preallocation.
 */
import { xfs_bmap_isaeof } from './xfs_alloc.ts';
import type { Inode } from '../fs/inode.ts';
import type { Extent } from '../fs/extent.ts';
import { adjacentGoal } from '../fs/alloc.ts';
import type { Iomap, IomapOps, IomapPair } from '../iomap/iomap.ts';
import {
  IOMAP_ATOMIC,
  IOMAP_F_ATOMIC_BIO,
  IOMAP_F_DIRTY,
  IOMAP_F_NEW,
  IOMAP_F_SHARED,
  IOMAP_NOWAIT,
  IOMAP_NULL_ADDR,
  IOMAP_OVERWRITE_ONLY,
  IOMAP_UNSHARE,
  IOMAP_ZERO,
  iomapHole,
} from '../iomap/iomap.ts';
import { xfs_bmap_trim_cow, xfs_cow_convert_delalloc, xfs_cow_lookup, xfs_is_cow_inode, xfs_reflink_allocate_cow, xfs_reflink_convert_cow, xfs_reflink_end_cow, xfs_reflink_fill_cow_range, xfs_reflink_reserve_cow } from './xfs_reflink.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import { EAGAIN, EINVAL, ENOPROTOOPT, ENOSPC } from '../lib/errno.ts';
import { roundDownPowOf2 } from '../lib/math.ts';
import { truncate_pagecache } from '../mm/truncate.ts';
import { xfs_cow_fork } from './xfs_inode.ts';
import { iomap_truncate_page, iomap_zero_range } from '../iomap/buffered-io.ts';

/** XFS_MAX_BMBT_EXTLEN: 2^21 - 1 blocks. */
export const MAX_EXTLEN = 2 ** 21 - 1;
/** m_allocsize_log default (xfs_super.c): 64 KiB. */
const ALLOCSIZE_BYTES = 65536;
/** Each buffered-write hole iteration maps at most 1024 pages (XFS_MAX_BMBT... / write_iomap). */
const XFS_WRITE_IO_MAX = 1024 * PAGE_SIZE;

function allocsizeBlocks(inode: Inode): number {
  return Math.max(1, ALLOCSIZE_BYTES / inode.blockSize);
}

/**
 * The goal block for allocating at file block `lblk` (xfs_bmap_adjacent):
 * continue the previous allocated extent at the same distance; with none,
 * back off from the next one; with neither, the inode's allocation group.
 */
export function xfs_alloc_goal(inode: Inode, lblk: number): number {
  return adjacentGoal(inode.extents, lblk, inode.sb.alloc.firstDataBlock) ?? inode.sb.alloc.firstDataBlock + (inode.ino % 4) * Math.floor(inode.sb.alloc.totalBlocks / 4);
}

/**
 * xfs_bmbt_to_iomap (a hole: xfs_hole_to_iomap). A mapping of an inode pinned
 * in the log with more than timestamps to sync is IOMAP_F_DIRTY: an O_DSYNC
 * direct write then cannot complete by FUA alone and forces the log.
 */
function toIomap(inode: Inode, start: number, end: number, e: Extent | undefined, flags = 0): Iomap {
  const bs = inode.blockSize;
  if (e === undefined) return iomapHole(start * bs, (end - start) * bs, flags);
  if (inode.datasyncTid > inode.sb.journal.committedTid) flags |= IOMAP_F_DIRTY;
  if (e.type === 'delalloc') return { addr: IOMAP_NULL_ADDR, offset: start * bs, length: (end - start) * bs, type: 'delalloc', flags };
  return { addr: e.pblk * bs, offset: start * bs, length: (end - start) * bs, type: e.type, flags };
}

function pair(m: Iomap): IomapPair {
  return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
}

/** The data fork extent (re-based to `lblk`) at `lblk`, with its end; or the hole up to the next extent. */
export function xfs_bmapi_read(inode: Inode, lblk: number, maxEnd: number): { e: Extent | undefined; end: number } {
  const at = inode.extents.find(lblk);
  if (at !== undefined) {
    const e = at.v.pblk >= 0 ? { type: at.v.type, pblk: at.v.pblk + (lblk - at.start) } : at.v;
    return { e, end: Math.min(at.end, maxEnd) };
  }
  const nx = inode.extents.next(lblk);
  return { e: undefined, end: nx === undefined ? maxEnd : Math.min(nx.start, maxEnd) };
}

/**
 * xfs_iomap_prealloc_size: speculative preallocation for an extending
 * buffered write past the last extent, with default mount options.
 */
export function xfs_iomap_prealloc_size(inode: Inode, offsetFsb: number): number {
  const bs = inode.blockSize;
  const allocsize = allocsizeBlocks(inode);
  if (inode.i_size < allocsize * bs) return 0;
  const es = inode.extents.entries();
  const prevIdx = es.length - 1;
  const prev = es[prevIdx];
  if (prev === undefined || prev.end < offsetFsb) return allocsize;
  let plen = prev.end - prev.start;
  for (let i = prevIdx - 1; i >= 0 && plen <= MAX_EXTLEN / 2; i--) {
    const a = es[i]!;
    const b = es[i + 1]!;
    if (a.end !== b.start || a.v.type === 'delalloc' || b.v.type === 'delalloc') break;
    if (a.v.pblk + (a.end - a.start) !== b.v.pblk) break;
    plen += a.end - a.start;
  }
  let alloc = 2 * plen;
  if (alloc > MAX_EXTLEN) alloc = offsetFsb;
  alloc = Math.min(alloc, 2 ** 21);
  // Low free space throttling (xfs_iomap_prealloc_size: 5/4/3/2/1 % watermarks).
  const freeFrac = inode.sb.alloc.available() / inode.sb.alloc.totalBlocks;
  let shift = 0;
  if (freeFrac < 0.05) shift = 2;
  if (freeFrac < 0.04) shift = 3;
  if (freeFrac < 0.03) shift = 4;
  if (freeFrac < 0.02) shift = 5;
  if (freeFrac < 0.01) shift = 6;
  alloc = Math.floor(alloc / 2 ** shift);
  alloc = roundDownPowOf2(alloc);
  alloc = Math.min(alloc, MAX_EXTLEN);
  const freesp = inode.sb.alloc.available();
  while (alloc > 0 && alloc >= freesp) alloc = Math.floor(alloc / 16);
  return Math.max(alloc, allocsize);
}

/**
 * xfs_bmapi_convert_delalloc (via xfs_map_blocks / zeroing): allocate the
 * whole delalloc extent containing `lblk`, from its start, as unwritten
 * extents.  Returns 0 or -ENOSPC.
 */
export function xfs_bmapi_convert_delalloc(inode: Inode, lblk: number): number {
  const at = inode.extents.find(lblk);
  if (at === undefined || at.v.type !== 'delalloc') return 0;
  const start = at.start;
  const end = at.end;
  let pos = start;
  while (pos < end) {
    const got = inode.sb.allocBlocks(inode, pos, Math.min(end - pos, MAX_EXTLEN), 'unwritten', xfs_alloc_goal(inode, pos), { fromReservation: true, atEof: xfs_bmap_isaeof(inode.extents, pos) });
    if (typeof got === 'number') return got;
    inode.delayed = Math.max(0, inode.delayed - got.len);
    pos += got.len;
  }
  return 0;
}

/**
 * The COW part of xfs_buffered_write_iomap_begin for a reflink inode: a
 * COW-fork extent at the position wins (found_cow); a shared written data
 * extent gets a COW reservation; null means "use the data fork", with the
 * mapping capped at `cap` (the next COW extent or sharing boundary).
 */
function xfs_buffered_write_cow(inode: Inode, offsetFsb: number, look: { e: Extent | undefined; end: number }, flags: number): IomapPair | number | { cap: number } {
  // We never need to allocate blocks for zeroing or unsharing a hole (the
  // data fork is looked up first, a COW fork extent there does not matter).
  if (look.e === undefined && (flags & (IOMAP_UNSHARE | IOMAP_ZERO)) !== 0) return pair(toIomap(inode, offsetFsb, look.end, undefined));
  const cowAt = xfs_cow_lookup(inode, offsetFsb);
  if (cowAt.e !== undefined) return foundCow(inode, offsetFsb, 0);
  if (look.e === undefined) return { cap: cowAt.end };
  // When zeroing, holes, delalloc and unwritten extents need no COW.
  if ((flags & IOMAP_ZERO) !== 0 && look.e.type !== 'mapped') return { cap: cowAt.end };
  const t = xfs_bmap_trim_cow(inode, offsetFsb, Math.min(look.end, cowAt.end), look.e);
  if (!t.shared) return { cap: t.end };
  // Fork all the shared blocks from the write offset to the end of the shared run.
  const r = xfs_reflink_reserve_cow(inode, offsetFsb, t.end);
  if (typeof r === 'number') return r;
  return foundCow(inode, offsetFsb, IOMAP_F_NEW);
}

/**
 * found_cow: the COW-fork extent is the destination (IOMAP_F_SHARED); the
 * data fork extent, when one covers the position, is the source map the
 * untouched bytes of partial blocks are read from; over a data-fork hole
 * the COW mapping ends where the next data extent starts.
 */
function foundCow(inode: Inode, offsetFsb: number, extra: number): IomapPair {
  const at = xfs_cow_fork(inode)!.find(offsetFsb)!;
  const e = at.v.pblk >= 0 ? { type: at.v.type, pblk: at.v.pblk + (offsetFsb - at.start) } : at.v;
  const data = xfs_bmapi_read(inode, offsetFsb, Number.MAX_SAFE_INTEGER);
  const end = data.e === undefined ? Math.min(at.end, data.end) : at.end;
  const k = inode.sb.k;
  if (k.v.on('cow-type-overwritten')) {
    // Variant: the COW type is overwritten by DELALLOC, the srcmap unused (seed 002, patch 05).
    return pair(toIomap(inode, offsetFsb, end, { type: 'delalloc', pblk: -1 }, extra));
  }
  const srcmap = data.e === undefined ? iomapHole(offsetFsb * inode.blockSize, (end - offsetFsb) * inode.blockSize) : toIomap(inode, offsetFsb, data.end, data.e);
  return { iomap: toIomap(inode, offsetFsb, end, e, IOMAP_F_SHARED | extra), srcmap };
}

/** xfs_buffered_write_iomap_begin (xfs_buffered_write_iomap_ops); IOMAP_ZERO is the zeroing variant. */
export function xfs_buffered_write_iomap_ops(inode: Inode): IomapOps {
  return {
    name: 'xfs_buffered_write_iomap_ops',
    begin(pos, length, flags): IomapPair | number {
      const bs = inode.blockSize;
      const offsetFsb = Math.floor(pos / bs);
      const count = Math.min(length, XFS_WRITE_IO_MAX);
      let endFsb = Math.ceil((pos + count) / bs);
      let look = xfs_bmapi_read(inode, offsetFsb, endFsb);
      if (xfs_is_cow_inode(inode)) {
        const c = xfs_buffered_write_cow(inode, offsetFsb, look, flags);
        if (typeof c === 'number' || !('cap' in c)) return c;
        if (c.cap < endFsb) {
          endFsb = Math.max(offsetFsb + 1, c.cap);
          look = xfs_bmapi_read(inode, offsetFsb, endFsb);
        }
      }
      if (look.e !== undefined) {
        if ((flags & IOMAP_ZERO) !== 0 && look.e.type === 'delalloc') {
          // Zeroing at or past the EOF block (XFS_B_TO_FSB rounds up): the
          // delalloc extent there (post-EOF preallocation) becomes unwritten.
          const eofFsb = Math.ceil(inode.i_size / bs);
          if (offsetFsb >= eofFsb) {
            // Zeroing past EOF: convert the post-EOF delalloc to a real unwritten extent.
            truncate_pagecache(inode.mapping, pos);
            const r = xfs_bmapi_convert_delalloc(inode, offsetFsb);
            if (r < 0) return r;
            const again = xfs_bmapi_read(inode, offsetFsb, endFsb);
            return pair(toIomap(inode, offsetFsb, again.end, again.e));
          }
        }
        let end = look.end;
        if ((flags & IOMAP_ZERO) !== 0) {
          // For zeroing, a mapping that straddles the EOF block is trimmed at it.
          const eofFsb = Math.ceil(inode.i_size / bs);
          if (offsetFsb < eofFsb && end > eofFsb) end = eofFsb;
        }
        return pair(toIomap(inode, offsetFsb, end, look.e));
      }
      if ((flags & IOMAP_ZERO) !== 0) return pair(toIomap(inode, offsetFsb, look.end, undefined));
      // A hole: reserve delayed allocation, with speculative preallocation when extending past the last extent.
      const eof = inode.extents.next(offsetFsb) === undefined;
      let prealloc = 0;
      if (eof && pos + count > inode.i_size) {
        const alloc = xfs_iomap_prealloc_size(inode, offsetFsb);
        if (alloc > 0) {
          const endOffset = Math.floor((pos + count - 1) / ALLOCSIZE_BYTES) * ALLOCSIZE_BYTES;
          const pEnd = Math.floor(endOffset / bs) + alloc;
          prealloc = Math.max(0, pEnd - endFsb);
        }
      }
      const sb = inode.sb;
      // The reservation may run past the write, up to the next extent.
      const holeEnd = xfs_bmapi_read(inode, offsetFsb, offsetFsb + MAX_EXTLEN).end;
      let n = Math.min(holeEnd, endFsb + prealloc) - offsetFsb;
      if (!sb.alloc.reserve(n)) {
        n = Math.min(look.end, endFsb) - offsetFsb;
        if (!sb.alloc.reserve(n)) return -ENOSPC;
      }
      inode.delayed += n;
      sb.setExtent(inode, offsetFsb, n, { type: 'delalloc', pblk: -1 });
      const at = inode.extents.find(offsetFsb)!;
      return pair(toIomap(inode, offsetFsb, at.end, at.v, IOMAP_F_NEW));
    },
  };
}

/**
 * xfs_bmap_hw_atomic_write_possible: a REQ_ATOMIC write needs one extent
 * over the whole range (one bio), its disk blocks naturally aligned to its
 * length, and no more than the device's hardware atomic maximum.
 */
function xfs_bmap_hw_atomic_write_possible(inode: Inode, look: { e: Extent | undefined; end: number }, offsetFsb: number, endFsb: number): boolean {
  const count = Math.min(look.end, endFsb) - offsetFsb;
  // A hole (HOLESTARTBLOCK) counts as aligned: it is allocated, one block, below.
  // Variant xfs-atomic-hw-misaligned: the natural alignment check is missing.
  if (look.e !== undefined && look.e.pblk >= 0 && look.e.pblk % count !== 0 && !inode.sb.k.v.on('xfs-atomic-hw-misaligned')) return false;
  if (look.end < endFsb) return false; // imap_spans_range
  return (endFsb - offsetFsb) * inode.blockSize <= inode.sb.k.disk.limits.atomic_write_unit_max;
}

/** xfs_direct_write_iomap_begin */
export function xfs_direct_write_iomap_ops(inode: Inode): IomapOps {
  return {
    name: 'xfs_direct_write_iomap_ops',
    begin(pos, length, flags): IomapPair | number {
      const bs = inode.blockSize;
      const offsetFsb = Math.floor(pos / bs);
      let endFsb = Math.ceil((pos + length) / bs);
      let iflags = 0;
      if (pos + length > inode.i_size) iflags |= IOMAP_F_DIRTY;
      let look = xfs_bmapi_read(inode, offsetFsb, endFsb);
      // imap_needs_cow: every mapping of a COW inode is checked against the COW fork.
      if (xfs_is_cow_inode(inode) && !inode.sb.k.v.on('dio-no-cow') && !((flags & (IOMAP_UNSHARE | IOMAP_ZERO)) !== 0 && (look.e === undefined || look.e.type !== 'mapped'))) {
        if ((flags & IOMAP_NOWAIT) !== 0) return -EAGAIN;
        const c = xfs_reflink_allocate_cow(inode, offsetFsb, endFsb);
        if (typeof c === 'number') return c;
        if ('pblk' in c) {
          if ((flags & IOMAP_ATOMIC) !== 0) {
            if (!xfs_bmap_hw_atomic_write_possible(inode, { e: { type: 'mapped', pblk: c.pblk }, end: c.end }, offsetFsb, endFsb)) return -ENOPROTOOPT;
            iflags |= IOMAP_F_ATOMIC_BIO;
          }
          const srcmap = look.e === undefined ? iomapHole(offsetFsb * bs, (c.end - offsetFsb) * bs) : toIomap(inode, offsetFsb, look.end, look.e);
          const m = toIomap(inode, c.start, c.end, { type: 'mapped', pblk: c.pblk }, iflags | IOMAP_F_SHARED);
          // Variant cow-remap-before-io: the remap is logged before the data is written.
          if (inode.sb.k.v.on('cow-remap-before-io')) xfs_reflink_end_cow(inode, c.start * bs, (c.end - c.start) * bs);
          return { iomap: m, srcmap };
        }
        if (c.cap < endFsb) {
          endFsb = Math.max(offsetFsb + 1, c.cap);
          look = xfs_bmapi_read(inode, offsetFsb, endFsb);
        }
      }
      const needsAlloc = look.e === undefined || look.e.type === 'delalloc';
      if ((flags & IOMAP_ATOMIC) !== 0) {
        // If we allocate less than the write needs we may end up with more
        // than one extent, so REQ_ATOMIC could not be used: the COW path.
        if (needsAlloc && endFsb - offsetFsb > 1) return -ENOPROTOOPT;
        if (!xfs_bmap_hw_atomic_write_possible(inode, look, offsetFsb, endFsb)) return -ENOPROTOOPT;
        iflags |= IOMAP_F_ATOMIC_BIO;
      }
      if (!needsAlloc && look.e !== undefined) {
        if (look.e.type === 'unwritten' && (flags & (IOMAP_NOWAIT | IOMAP_OVERWRITE_ONLY)) !== 0 && (pos % bs !== 0 || (pos + length) % bs !== 0)) return -EAGAIN;
        if ((flags & (IOMAP_NOWAIT | IOMAP_OVERWRITE_ONLY)) !== 0 && look.end < endFsb) return -EAGAIN;
        return pair(toIomap(inode, offsetFsb, look.end, look.e, iflags));
      }
      if ((flags & (IOMAP_NOWAIT | IOMAP_OVERWRITE_ONLY)) !== 0) return -EAGAIN;
      // xfs_iomap_write_direct: an unwritten extent, at most 1024 pages from the byte offset
      // (xfs_iomap_end_fsb rounds offset + length up: an unaligned write's last block counts), capped at
      // the hole's end inside EOF.
      let end = Math.min(endFsb, Math.ceil((pos + Math.min(length, XFS_WRITE_IO_MAX)) / bs));
      if (look.end < end) end = look.end;
      const fromRes = look.e !== undefined;
      const got = inode.sb.allocBlocks(inode, offsetFsb, end - offsetFsb, 'unwritten', xfs_alloc_goal(inode, offsetFsb), { fromReservation: fromRes, atEof: xfs_bmap_isaeof(inode.extents, offsetFsb) });
      if (typeof got === 'number') return got;
      if (fromRes) inode.delayed = Math.max(0, inode.delayed - got.len);
      return pair(toIomap(inode, offsetFsb, offsetFsb + got.len, { type: 'unwritten', pblk: got.pblk }, iflags | IOMAP_F_NEW));
    },
  };
}

/**
 * xfs_atomic_write_cow_iomap_begin: the software atomic write.  The range is
 * always written out of place, into COW fork blocks (allocated with the CoW
 * extent size hint, converted for writing); the data fork is untouched
 * until xfs_reflink_end_atomic_cow remaps the whole range at completion.
 */
export function xfs_atomic_write_cow_iomap_ops(inode: Inode): IomapOps {
  return {
    name: 'xfs_atomic_write_cow_iomap_ops',
    begin(pos, length, flags): IomapPair | number {
      if (!inode.sb.hasFeature('reflink')) return -EINVAL; // xfs_can_sw_atomic_write
      // Blocks are always allocated in this path.
      if ((flags & IOMAP_NOWAIT) !== 0) return -EAGAIN;
      const bs = inode.blockSize;
      const offsetFsb = Math.floor(pos / bs);
      let endFsb = Math.ceil((pos + length) / bs);
      const at = xfs_cow_lookup(inode, offsetFsb);
      if (at.e === undefined) {
        endFsb = Math.min(endFsb, at.end);
        const r = xfs_reflink_fill_cow_range(inode, offsetFsb, endFsb);
        if (r < 0) return r;
      } else if (at.e.type === 'delalloc') {
        const r = xfs_cow_convert_delalloc(inode, offsetFsb);
        if (r < 0) return r;
      }
      const c = xfs_cow_fork(inode)!.find(offsetFsb)!;
      endFsb = Math.min(endFsb, c.end);
      xfs_reflink_convert_cow(inode, offsetFsb, endFsb);
      const m = toIomap(inode, offsetFsb, endFsb, { type: 'mapped', pblk: c.v.pblk + (offsetFsb - c.start) }, IOMAP_F_SHARED);
      // Variant cow-remap-before-io: the remap is logged before the data is written.
      if (inode.sb.k.v.on('cow-remap-before-io')) xfs_reflink_end_cow(inode, offsetFsb * bs, (endFsb - offsetFsb) * bs);
      return pair(m);
    },
  };
}

/** xfs_read_iomap_begin */
export function xfs_read_iomap_begin(inode: Inode, pos: number, len: number): Iomap {
  const bs = inode.blockSize;
  const offsetFsb = Math.floor(pos / bs);
  const endFsb = Math.max(offsetFsb + 1, Math.ceil((pos + len) / bs));
  const look = xfs_bmapi_read(inode, offsetFsb, endFsb);
  return toIomap(inode, offsetFsb, look.end, look.e);
}

export function xfs_read_iomap_ops(inode: Inode): IomapOps {
  return { name: 'xfs_read_iomap_ops', begin: (pos, len) => pair(xfs_read_iomap_begin(inode, pos, len)) };
}

/**
 * xfs_iomap_write_unwritten: convert the blocks of [offset, offset+count)
 * to written, logging the new on-disk size (xfs_new_eof) in the same
 * transaction; with updateIsize (direct I/O) the in-core size moves too.
 */
export function xfs_iomap_write_unwritten(inode: Inode, offset: number, count: number, updateIsize: boolean): number {
  const bs = inode.blockSize;
  const first = Math.floor(offset / bs);
  const last = Math.ceil((offset + count) / bs);
  inode.sb.convertUnwritten(inode, first, last - first);
  if (updateIsize && offset + count > inode.i_size) inode.i_size = offset + count;
  const newEof = Math.min(offset + count, inode.i_size);
  if (newEof > inode.disksize) inode.sb.setDisksize(inode, newEof);
  return 0;
}

/** xfs_zero_range: zero [pos, pos+len) through the page cache with the buffered write ops (IOMAP_ZERO). */
export function xfs_zero_range(inode: Inode, pos: number, len: number, didZero?: { v: boolean }): number {
  return iomap_zero_range(inode.sb.k, inode, pos, len, xfs_buffered_write_iomap_ops(inode), didZero);
}

/** xfs_truncate_page: zero from `pos` to the end of its block. */
export function xfs_truncate_page(inode: Inode, pos: number, didZero?: { v: boolean }): number {
  return iomap_truncate_page(inode.sb.k, inode, pos, xfs_buffered_write_iomap_ops(inode), didZero);
}

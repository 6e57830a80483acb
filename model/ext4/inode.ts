/**
 * fs/ext4/inode.c (and the extent lookups of fs/ext4/extents.c it relies
 * on): block mapping for direct I/O, delayed allocation for buffered writes,
 * writeback allocation and its completion, truncate, getattr.
 */
import { fscrypt_dio_supported, fscrypt_limit_io_blocks } from '../crypto/inline_crypt.ts';
import type { Inode } from '../fs/inode.ts';
import type { Kstat } from '../fs/super.ts';
import type { Extent } from '../fs/extent.ts';
import type { Iomap, IomapOps, IomapPair } from '../iomap/iomap.ts';
import { IOMAP_ATOMIC, IOMAP_F_ATOMIC_BIO, IOMAP_F_DIRTY, IOMAP_F_NEW, IOMAP_NULL_ADDR, IOMAP_WRITE, iomapHole } from '../iomap/iomap.ts';
import type { Ioend } from '../iomap/ioend.ts';
import { iomap_truncate_page } from '../iomap/buffered-io.ts';
import { EFBIG, EINVAL, ENOSPC, ENOTBLK } from '../lib/errno.ts';
import { pagecache_isize_extended, truncate_pagecache } from '../mm/truncate.ts';
import {
  STATX_BASIC_STATS,
  STATX_DIOALIGN,
  STATX_WRITE_ATOMIC,
} from '../vfs/fcntl.ts';
import type { File } from '../vfs/file.ts';

/** DIO_MAX_BLOCKS: ext4_iomap_alloc maps at most this many blocks per call. */
const DIO_MAX_BLOCKS = 4096;
/** EXT_INIT_MAX_LEN / EXT_UNWRITTEN_MAX_LEN */
const EXT_INIT_MAX_LEN = 32768;
const EXT_UNWRITTEN_MAX_LEN = 32767;
/** Extents that fit in the inode's i_block (no extent tree block needed). */
const EXT4_INODE_EXTENTS = 4;
/** Extents per 4 KiB leaf block: (4096 - 12) / 12. */
function extentsPerBlock(bs: number): number {
  return Math.floor((bs - 12) / 12);
}

/**
 * Goal block for an allocation at file block `lblk` (ext4_ext_find_goal):
 * the extent nearest to it in the tree, shifted by the distance (forwards
 * from one before, backwards from one after); with no extent,
 * ext4_inode_to_goal_block (the flex group after the inode's: group 1 on a
 * fresh file system).
 */
export function ext4_ext_find_goal(inode: Inode, lblk: number): number {
  let prev: { start: number; end: number; v: Extent } | undefined;
  let next: { start: number; end: number; v: Extent } | undefined;
  for (const e of inode.extents.entries()) {
    if (e.v.pblk < 0) continue;
    if (e.start <= lblk) prev = e;
    else {
      next = e;
      break;
    }
  }
  if (prev !== undefined) return prev.v.pblk + (lblk - prev.start);
  if (next !== undefined && next.v.pblk - (next.start - lblk) >= inode.sb.alloc.firstDataBlock) return next.v.pblk - (next.start - lblk);
  return Math.max(inode.sb.alloc.firstDataBlock, Math.floor(inode.sb.alloc.totalBlocks / 16));
}

/** s_mb_stream_request: allocations for files up to this many blocks use the locality group. */
const MB_STREAM_REQ = 16;
/** s_mb_group_prealloc: the size of a locality-group preallocation, buddy-aligned. */
const MB_GROUP_PREALLOC = 512;

/**
 * The goal mballoc really starts from (ext4_mb_group_or_file,
 * ext4_mb_use_preallocated): a small file (its size and this allocation's
 * end within s_mb_stream_request blocks) is served from the per-CPU
 * locality-group preallocation, one allocation after another whatever the
 * file and offset; larger files start from ext4_ext_find_goal, except that
 * the rest of the locality group's preallocation is in use (its blocks are
 * marked in the bitmap), so a goal inside it moves past it: a file that
 * outgrows the locality group does not continue contiguously from there.
 */
export function ext4_mb_goal(inode: Inode, lblk: number, len: number): number {
  const size = Math.max(lblk + len, Math.ceil(inode.i_size / inode.blockSize));
  const info = inode.sb.info;
  if (size > MB_STREAM_REQ) {
    const goal = ext4_ext_find_goal(inode, lblk);
    const lgStart = info['lgStart'];
    if (lgStart !== undefined && goal >= lgStart && goal < lgStart + MB_GROUP_PREALLOC) return lgStart + MB_GROUP_PREALLOC;
    return goal;
  }
  return info['lgCursor'] ?? Math.max(inode.sb.alloc.firstDataBlock, Math.floor(inode.sb.alloc.totalBlocks / 16));
}

/** After an allocation from the locality group, the next one follows it (in a new preallocation once this one is used up). */
export function ext4_mb_allocated(inode: Inode, lblk: number, pblk: number, len: number): void {
  const size = Math.max(lblk + len, Math.ceil(inode.i_size / inode.blockSize));
  if (size > MB_STREAM_REQ) return;
  const info = inode.sb.info;
  const end = pblk + len;
  const lgStart = info['lgStart'];
  if (lgStart === undefined || pblk < lgStart || end > lgStart + MB_GROUP_PREALLOC) info['lgStart'] = Math.floor(pblk / MB_GROUP_PREALLOC) * MB_GROUP_PREALLOC;
  info['lgCursor'] = end;
}

function toIomap(inode: Inode, lblk: number, nblocks: number, e: Extent | undefined, flags = 0): Iomap {
  const bs = inode.blockSize;
  if (e === undefined) return iomapHole(lblk * bs, nblocks * bs, flags);
  if (e.type === 'delalloc') return { addr: IOMAP_NULL_ADDR, offset: lblk * bs, length: nblocks * bs, type: 'delalloc', flags };
  return { addr: e.pblk * bs, offset: lblk * bs, length: nblocks * bs, type: e.type, flags };
}

/** The extent (or hole) at `lblk`, limited to `maxBlocks`. */
export function ext4_lookup(inode: Inode, lblk: number, maxBlocks: number): { e: Extent | undefined; n: number } {
  const at = inode.extents.find(lblk);
  if (at !== undefined) {
    const v = at.v.pblk >= 0 ? { type: at.v.type, pblk: at.v.pblk + (lblk - at.start) } : at.v;
    return { e: v, n: Math.min(maxBlocks, at.end - lblk) };
  }
  const next = inode.extents.next(lblk);
  const holeEnd = next === undefined ? lblk + maxBlocks : Math.min(next.start, lblk + maxBlocks);
  return { e: undefined, n: holeEnd - lblk };
}

/**
 * ext4_map_blocks with a create flag: allocate blocks for the hole at
 * `lblk` (up to `max` blocks) as unwritten (EXT4_GET_BLOCKS_IO_CREATE_EXT)
 * or written (EXT4_GET_BLOCKS_CREATE).  An existing unwritten extent is
 * converted to written under EXT4_GET_BLOCKS_CREATE.
 */
function ext4_map_blocks_create(inode: Inode, lblk: number, max: number, unwritten: boolean): { e: Extent; n: number; isNew: boolean } | number {
  const sb = inode.sb;
  const look = ext4_lookup(inode, lblk, max);
  if (look.e !== undefined && look.e.type === 'mapped') return { e: look.e, n: look.n, isNew: false };
  if (look.e !== undefined && look.e.type === 'unwritten') {
    if (!unwritten) {
      sb.convertUnwritten(inode, lblk, look.n);
      return { e: { type: 'mapped', pblk: look.e.pblk }, n: look.n, isNew: true };
    }
    return { e: look.e, n: look.n, isNew: false };
  }
  const n = Math.min(look.n, unwritten ? EXT_UNWRITTEN_MAX_LEN : EXT_INIT_MAX_LEN);
  if (look.e !== undefined && look.e.type === 'delalloc') {
    // Delalloc blocks are already reserved: allocation consumes the reservation.
    const got = sb.allocBlocks(inode, lblk, n, unwritten ? 'unwritten' : 'mapped', ext4_mb_goal(inode, lblk, n), { fromReservation: true });
    if (typeof got === 'number') return got;
    ext4_mb_allocated(inode, lblk, got.pblk, got.len);
    inode.delayed = Math.max(0, inode.delayed - got.len);
    return ext4_map_new(inode, lblk, got, unwritten);
  }
  const got = sb.allocBlocks(inode, lblk, n, unwritten ? 'unwritten' : 'mapped', ext4_mb_goal(inode, lblk, n));
  if (typeof got === 'number') return got;
  ext4_mb_allocated(inode, lblk, got.pblk, got.len);
  return ext4_map_new(inode, lblk, got, unwritten);
}

/**
 * The end of ext4_map_blocks for newly allocated blocks: written (not
 * unwritten) new blocks join the running transaction's ordered data
 * (ext4_jbd2_inode_add_write, data=ordered), so the commit writes out what
 * the page cache holds for them first.
 */
function ext4_map_new(inode: Inode, lblk: number, got: { pblk: number; len: number }, unwritten: boolean): { e: Extent; n: number; isNew: boolean } {
  const bs = inode.blockSize;
  // Variant ext4-no-dioread-nolock models data=writeback: no ordered data.
  if (!unwritten && !inode.sb.k.v.ext4NoDioreadNolock) inode.sb.addOrdered(inode, lblk * bs, (lblk + got.len) * bs);
  return { e: { type: unwritten ? 'unwritten' : 'mapped', pblk: got.pblk }, n: got.len, isNew: true };
}

/** ext4_inode_datasync_dirty: the inode has data-relevant metadata not yet committed. */
function ext4_inode_datasync_dirty(inode: Inode): boolean {
  return inode.datasyncTid > inode.sb.journal.committedTid;
}

/** ext4_iomap_begin (ext4_iomap_ops): direct I/O mapping, allocating for writes. */
export function ext4_iomap_ops(inode: Inode): IomapOps {
  return {
    name: 'ext4_iomap_ops',
    begin(pos, length, flags): IomapPair | number {
      const bs = inode.blockSize;
      const lblk = Math.floor(pos / bs);
      const last = Math.floor((pos + length - 1) / bs);
      // fscrypt_limit_io_blocks: an IV_INO_LBLK_32 mapping stops where the DUN wraps.
      const want = fscrypt_limit_io_blocks(inode, lblk, Math.min(last - lblk + 1, DIO_MAX_BLOCKS));
      let iflags = 0;
      let m: Iomap;
      if ((flags & IOMAP_WRITE) !== 0) {
        const look = ext4_lookup(inode, lblk, want);
        if (pos + length <= inode.i_size && look.e !== undefined && look.e.type === 'mapped') {
          m = toIomap(inode, lblk, look.n, look.e);
        } else if (look.e !== undefined && look.e.type === 'delalloc') {
          m = toIomap(inode, lblk, look.n, look.e);
        } else {
          // ext4_iomap_alloc: written extents at or beyond i_size, unwritten inside it.
          const unwritten = lblk * bs < inode.i_size;
          const r = ext4_map_blocks_create(inode, lblk, want, unwritten);
          if (typeof r === 'number') return r;
          m = toIomap(inode, lblk, r.n, r.e, r.isNew ? IOMAP_F_NEW : 0);
        }
        if (ext4_inode_datasync_dirty(inode) || pos + length > inode.i_size) iflags |= IOMAP_F_DIRTY;
      } else {
        const look = ext4_lookup(inode, lblk, want);
        m = toIomap(inode, lblk, look.n, look.e);
      }
      m.flags |= iflags;
      // ext4_set_iomap: HW-offload atomics are always used (REQ_ATOMIC).
      if ((flags & IOMAP_ATOMIC) !== 0) m.flags |= IOMAP_F_ATOMIC_BIO;
      return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
    },
    end(_pos, _length, written, flags) {
      // ext4_iomap_end: a DIO write mapping that advanced nothing falls back to buffered I/O.
      // ext4_want_directio_fallback: atomic writes are all-or-nothing (variant atomic-buffered-fallback: they fall back too).
      if ((flags & IOMAP_WRITE) !== 0 && ((flags & IOMAP_ATOMIC) === 0 || inode.sb.k.v.atomicBufferedFallback) && written === 0) return -ENOTBLK;
      return 0;
    },
  };
}

/**
 * ext4_da_write_begin -> ext4_da_get_block_prep, as iomap ops: map existing
 * blocks; reserve a delayed allocation for holes (ext4_insert_delayed_blocks).
 */
export function ext4_da_iomap_ops(inode: Inode): IomapOps {
  return {
    name: 'ext4_da_get_block_prep',
    genericPerformWrite: true,
    begin(pos, length): IomapPair | number {
      const bs = inode.blockSize;
      const lblk = Math.floor(pos / bs);
      const last = Math.floor((pos + length - 1) / bs);
      const look = ext4_lookup(inode, lblk, last - lblk + 1);
      if (look.e !== undefined) {
        const m = toIomap(inode, lblk, look.n, look.e);
        return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
      }
      const sb = inode.sb;
      const n = Math.min(look.n, sb.alloc.available());
      if (n <= 0) return -ENOSPC;
      sb.alloc.reserve(n);
      inode.delayed += n;
      sb.setExtent(inode, lblk, n, { type: 'delalloc', pblk: -1 });
      const m = toIomap(inode, lblk, n, { type: 'delalloc', pblk: -1 }, IOMAP_F_NEW);
      return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
    },
  };
}

/** The read-side mapping (ext4_iomap_begin without IOMAP_WRITE), used for folio reads. */
export function ext4_read_iomap_begin(inode: Inode, pos: number, len: number): Iomap | number {
  const bs = inode.blockSize;
  const lblk = Math.floor(pos / bs);
  const look = ext4_lookup(inode, lblk, Math.max(1, Math.ceil((pos + len) / bs) - lblk));
  return toIomap(inode, lblk, look.n, look.e);
}

/**
 * mpage_map_one_extent (ext4_writepages): allocate delayed blocks for
 * writeback — as unwritten extents with dioread_nolock (the default) — and
 * push i_disksize to the end of the mapped range in the same handle
 * (mpage_map_and_submit_extent).
 */
export function ext4_writepages_map(inode: Inode, pos: number, len: number): Iomap | number {
  const bs = inode.blockSize;
  const lblk = Math.floor(pos / bs);
  const want = Math.max(1, Math.ceil((pos + len) / bs) - lblk);
  const look = ext4_lookup(inode, lblk, want);
  if (look.e === undefined || look.e.type === 'mapped') return toIomap(inode, lblk, look.n, look.e);
  let m: Iomap;
  let n = look.n;
  if (look.e.type === 'delalloc') {
    const unwritten = !inode.sb.k.v.ext4NoDioreadNolock;
    const r = ext4_map_blocks_create(inode, lblk, look.n, unwritten);
    if (typeof r === 'number') return r;
    n = r.n;
    m = toIomap(inode, lblk, r.n, r.e);
  } else {
    m = toIomap(inode, lblk, look.n, look.e);
  }
  // mpage_map_and_submit_extent: the on-disk size moves to the end of the
  // last folio submitted (mpd->first_page << PAGE_SHIFT), at most i_size.
  const lastByte = (lblk + n) * bs - 1;
  const newDisksize = Math.min(inode.mapping.folioAt(lastByte)?.end ?? lastByte + 1, inode.i_size);
  if (newDisksize > inode.disksize) inode.sb.setDisksize(inode, newDisksize);
  return m;
}

/** ext4_end_io_end -> ext4_convert_unwritten_io_end_vec: convert what the I/O wrote. */
export function ext4_end_io_end(inode: Inode, io: Ioend): number {
  // EXT4_IO_END_FAILED: a failed write converts nothing (the blocks keep reading as zeroes).
  if (io.error !== 0) return io.error;
  if (!io.unwritten) return 0;
  const bs = inode.blockSize;
  const first = Math.floor(io.offset / bs);
  const last = Math.ceil((io.offset + io.size) / bs);
  inode.sb.convertUnwritten(inode, first, last - first);
  return 0;
}

/** ext4_block_truncate_page / ext4_block_zero_page_range: zero the rest of `pos`'s block through the page cache. */
export function ext4_block_truncate_page(inode: Inode, pos: number): number {
  const bs = inode.blockSize;
  if (pos % bs !== 0) inode.sb.addOrdered(inode, pos, Math.ceil(pos / bs) * bs);
  return iomap_truncate_page(inode.sb.k, inode, pos, ext4_da_iomap_ops_nocreate(inode), undefined, 'buffer-head');
}

/** A mapping-only view for zeroing (no reservation: zeroing never creates blocks). */
function ext4_da_iomap_ops_nocreate(inode: Inode): IomapOps {
  return {
    name: 'ext4_zero_map',
    begin(pos, length): IomapPair {
      const m = ext4_read_iomap_begin(inode, pos, length) as Iomap;
      return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
    },
  };
}

/**
 * ext4_truncate: zero the tail of the EOF block through the page cache
 * (ext4_block_truncate_page), then free every block from the next one on.
 */
export function ext4_truncate(inode: Inode): void {
  const bs = inode.blockSize;
  // auto_da_alloc: a file truncated to 0 gets its delayed blocks allocated at close.
  if (inode.i_size === 0 && !inode.sb.hasMountOpt('noauto_da_alloc')) inode.priv['daAllocClose'] = 1;
  if (inode.i_size % bs !== 0) ext4_block_truncate_page(inode, inode.i_size);
  const first = Math.ceil(inode.i_size / bs);
  inode.sb.unmapBlocks(inode, first, Number.MAX_SAFE_INTEGER - first, 'truncate');
}

/** ext4_setattr with ATTR_SIZE. */
export function ext4_setattr_size(file: File, newsize: number): number {
  const inode = file.inode;
  const sb = inode.sb;
  if (newsize > (sb.info['maxbytes'] ?? Infinity)) return -EFBIG;
  const oldsize = inode.i_size;
  if (newsize > oldsize) {
    // Growing: zero the old EOF block's tail; no blocks are allocated.
    if (oldsize % inode.blockSize !== 0) ext4_block_truncate_page(inode, oldsize);
  }
  if (newsize !== oldsize) {
    inode.i_size = newsize;
    sb.setDisksize(inode, newsize);
    if (newsize > oldsize) pagecache_isize_extended(inode.mapping, inode.blockSize, oldsize, newsize);
  }
  truncate_pagecache(inode.mapping, newsize);
  if (newsize <= oldsize) ext4_truncate(inode);
  return 0;
}

/** On-disk extent records (ext4 splits at the maximum extent length; delalloc is not on disk). */
export function ext4_extent_records(inode: Inode): number {
  let n = 0;
  for (const e of inode.extents.entries()) {
    if (e.v.type === 'delalloc') continue;
    const max = e.v.type === 'unwritten' ? EXT_UNWRITTEN_MAX_LEN : EXT_INIT_MAX_LEN;
    n += Math.ceil((e.end - e.start) / max);
  }
  return n;
}

/** Extent tree blocks charged to the inode (leaves, plus index blocks when leaves overflow the inode). */
export function ext4_tree_blocks(inode: Inode): number {
  const n = ext4_extent_records(inode);
  if (n <= EXT4_INODE_EXTENTS) return 0;
  const per = extentsPerBlock(inode.blockSize);
  const leaves = Math.ceil(n / per);
  if (leaves <= EXT4_INODE_EXTENTS) return leaves;
  return leaves + Math.ceil(leaves / per);
}

/** ext4_dio_alignment: 0 = no direct I/O (fallback to buffered), 1 = iomap defaults, else required alignment. */
export function ext4_dio_alignment(inode: Inode): number {
  if (inode.crypt !== null) return fscrypt_dio_supported(inode) ? inode.blockSize : 0;
  return 1;
}

/** ext4_getattr + ext4_file_getattr */
export function ext4_getattr(inode: Inode, mask: number): Kstat {
  const sb = inode.sb;
  const bs = inode.blockSize;
  const allocated = inode.allocatedBlocks() + ext4_tree_blocks(inode);
  const st: Kstat = {
    size: inode.i_size,
    blocks: (allocated + inode.delayed) * (bs / 512),
    blksize: bs,
    result_mask: STATX_BASIC_STATS,
  };
  if ((mask & STATX_DIOALIGN) !== 0 && inode.kind === 'reg') {
    const a = ext4_dio_alignment(inode);
    st.result_mask |= STATX_DIOALIGN;
    if (a === 1) {
      st.dio_mem_align = sb.k.disk.limits.dma_alignment + 1;
      st.dio_offset_align = sb.k.disk.limits.logical_block_size;
    } else {
      st.dio_mem_align = a;
      st.dio_offset_align = a;
    }
  }
  if ((mask & STATX_WRITE_ATOMIC) !== 0 && inode.kind === 'reg') {
    st.result_mask |= STATX_WRITE_ATOMIC;
    const min = sb.info['awu_min'] ?? 0;
    const max = sb.info['awu_max'] ?? 0;
    st.atomic_write_unit_min = min;
    st.atomic_write_unit_max = min > 0 ? max : 0;
    st.atomic_write_segments_max = min > 0 ? 1 : 0;
    st.atomic_write_unit_max_opt = 0;
  }
  return st;
}

export { EINVAL };

/**
 * fs/ext4/extents.c: the allocation step of ext4_ext_map_blocks and the
 * removal of blocks (with bigalloc's cluster rules), fallocate and its modes.
 */
import type { Inode } from '../fs/inode.ts';
import type { AllocOpts } from '../fs/super.ts';
import type { ExtType } from '../fs/extent.ts';
import { roundDown, roundUp } from '../lib/math.ts';
import { ext4_jbd2_inode_add_write } from './ext4_jbd2.ts';
import { iomap_zero_range } from '../iomap/buffered-io.ts';
import type { IomapOps } from '../iomap/iomap.ts';
import { EFBIG, EINVAL, EIO, EOPNOTSUPP } from '../lib/errno.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';
import { pagecache_isize_extended, truncate_pagecache, truncate_pagecache_range } from '../mm/truncate.ts';
import type { File } from '../vfs/file.ts';
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_WRITE_ZEROES,
  FALLOC_FL_ZERO_RANGE,
  O_DSYNC,
} from '../vfs/fcntl.ts';
import { EXT_UNWRITTEN_MAX_LEN, ext4_block_truncate_page, ext4_da_sync_reserved_clusters, ext4_read_iomap_begin } from './inode.ts';
import type { Ext4AllocationRequest } from './mballoc.ts';
import { EXT4_MB_DELALLOC_RESERVED, EXT4_MB_HINT_ALIGNED, EXT4_MB_HINT_DATA, EXT4_MB_HINT_NOPREALLOC, ext4_discard_preallocations, ext4_inode_to_goal_block, ext4_mb_new_blocks } from './mballoc.ts';
import { adjacentGoal } from '../fs/alloc.ts';

/**
 * get_implied_cluster_alloc (bigalloc): the physical cluster (its first
 * block) that file blocks of `lblk`'s logical cluster are already mapped
 * into, or null.
 */
export function get_implied_cluster_alloc(inode: Inode, lblk: number): number | null {
  const r = inode.sb.clusterRatio;
  const cs = roundDown(lblk, r);
  for (const e of inode.extents.overlapping(cs, cs + r)) {
    if (e.v.pblk < 0) continue;
    const first = Math.max(e.start, cs);
    return e.v.pblk + (first - e.start) - (first - cs);
  }
  return null;
}

/**
 * ext4_ext_find_goal: the physical block continuing the extent nearest to
 * `lblk` at the same distance (from the one before, else back from the one
 * after), else the inode's goal (ext4_inode_to_goal_block).
 */
export function ext4_ext_find_goal(inode: Inode, lblk: number): number {
  return adjacentGoal(inode.extents, lblk, inode.sb.alloc.firstDataBlock) ?? ext4_inode_to_goal_block(inode);
}

/** ext4_ext_search_left / ext4_ext_search_right: the allocated blocks next to `lblk` (delayed ones are not in the tree). */
function ext4_ext_search(inode: Inode, lblk: number): Pick<Ext4AllocationRequest, 'left' | 'right'> {
  let left: Ext4AllocationRequest['left'] = null;
  let right: Ext4AllocationRequest['right'] = null;
  for (const e of inode.extents.entries()) {
    if (e.v.pblk < 0) continue;
    if (e.end <= lblk) left = { lblk: e.end - 1, pblk: e.v.pblk + (e.end - 1 - e.start) };
    else if (e.start > lblk) {
      right = { lblk: e.start, pblk: e.v.pblk };
      break;
    }
  }
  return { left, right };
}

/** How ext4_map_blocks was asked to allocate (its EXT4_GET_BLOCKS_* flags, as they reach mballoc). */
export interface Ext4MapOpts extends AllocOpts {
  /** EXT4_GET_BLOCKS_NO_NORMALIZE (fallocate of a range that fits one extent): EXT4_MB_HINT_NOPREALLOC. */
  readonly noNormalize?: boolean;
  /** The RFC's aligned allocation (EXT4_MB_HINT_ALIGNED): `len` is the atomic write's, a power of two. */
  readonly alignedHint?: boolean;
  /**
   * The allocation is for fdatasync (ext4_update_inode_fsync_trans with
   * datasync): by default written allocations are and unwritten ones not
   * (ext4_ext_map_blocks); ext4_alloc_file_blocks says yes for both.
   */
  readonly datasync?: boolean;
}

/**
 * ext4_ext_map_blocks, the allocation: blocks for file blocks
 * [lblk, lblk+len) as `type`, from mballoc (ext4_mb_new_blocks with the
 * goal and the neighbours of ext4_ext_find_goal and ext4_ext_search_*),
 * inserted in the same transaction.  With bigalloc a block whose logical
 * cluster already has a physical one goes into it at the same offset
 * (get_implied_cluster_alloc); otherwise whole clusters are allocated,
 * stopping before a logical cluster the file already has blocks in.  May
 * allocate less than asked.
 */
export function ext4_ext_map_new_blocks(inode: Inode, lblk: number, len: number, type: ExtType, opts: Ext4MapOpts = {}): { pblk: number; len: number } | number {
  const sb = inode.sb;
  const r = sb.clusterRatio;
  if (r > 1) {
    const implied = get_implied_cluster_alloc(inode, lblk);
    if (implied !== null) {
      const n = Math.min(len, roundDown(lblk, r) + r - lblk);
      const got = sb.mapAllocated(inode, lblk, n, type, implied + (lblk % r), null, opts.requiredAlign, opts.datasync ?? type !== 'unwritten');
      ext4_da_sync_reserved_clusters(inode);
      return got;
    }
  }
  let want = len;
  const lastLc = Math.floor((lblk + len - 1) / r);
  if (r > 1 && lastLc > Math.floor(lblk / r) && get_implied_cluster_alloc(inode, lastLc * r) !== null) want = lastLc * r - lblk;
  const off = lblk % r;
  const flags =
    (inode.kind === 'reg' ? EXT4_MB_HINT_DATA : 0) |
    (opts.noNormalize === true ? EXT4_MB_HINT_NOPREALLOC : 0) |
    (opts.alignedHint === true ? EXT4_MB_HINT_ALIGNED : 0) |
    (opts.fromReservation === true ? EXT4_MB_DELALLOC_RESERVED : 0);
  const got = ext4_mb_new_blocks(inode, { logical: lblk - off, len: roundUp(off + want, r), goal: ext4_ext_find_goal(inode, lblk) - off, ...ext4_ext_search(inode, lblk), flags });
  if (typeof got === 'number') return got;
  const n = Math.min(want, got.len - off);
  // ext4_da_update_reserve_space: without bigalloc a block, with it the clusters now on disk (below).
  if (opts.fromReservation === true && r === 1) sb.alloc.unreserve(n);
  // ext4_ext_map_blocks: "update transaction to commit on fdatasync only when it is _not_ an unwritten
  // extent" (ext4_update_inode_fsync_trans(handle, inode, 0) for EXT4_GET_BLOCKS_UNWRIT_EXT).
  const mapped = sb.mapAllocated(inode, lblk, n, type, got.pblk + off, got, opts.requiredAlign, opts.datasync ?? type !== 'unwritten');
  ext4_da_sync_reserved_clusters(inode);
  return mapped;
}

/**
 * ext4_ext_remove_space: remove the mapping of [lblk, lblk+len).  Without
 * bigalloc this is the common unmapping; with it (ext4_ext_rm_leaf and
 * ext4_free_blocks with their partial-cluster rules) the mapping goes at
 * once and a physical cluster is freed only when no block of the file is
 * left in it.  Returns blocks freed.
 */
export function ext4_ext_remove_space(inode: Inode, lblk: number, len: number, why: 'truncate' | 'punch' = 'punch'): number {
  const sb = inode.sb;
  const r = sb.clusterRatio;
  if (r === 1) return sb.unmapBlocks(inode, lblk, len, why);
  const ino = inode.ino;
  // Logical cluster -> its physical cluster, for the clusters the range touches.
  const touched = new Map<number, number>();
  for (const e of inode.extents.overlapping(lblk, lblk + len)) {
    if (e.v.type === 'delalloc') {
      // The clusters' reservations follow below (ext4_da_sync_reserved_clusters).
      inode.delayed = Math.max(0, inode.delayed - (e.end - e.start));
      continue;
    }
    for (let lc = Math.floor(e.start / r); lc * r < e.end; lc++) {
      const first = Math.max(e.start, lc * r);
      touched.set(lc, e.v.pblk + (first - e.start) - (first - lc * r));
    }
  }
  inode.extents.remove(lblk, lblk + len);
  const runs: Array<[number, number]> = [];
  for (const [lc, pc] of touched) {
    if (inode.extents.overlapping(lc * r, lc * r + r).some((e) => e.v.pblk >= 0)) continue;
    runs.push([pc, pc + r]);
    sb.freeBusy(pc, r);
    if (sb.k.recording) sb.k.emit({ t: 'free', ino, pblk: pc, len: r });
  }
  sb.log(inode, (img) => {
    img.inode(ino).extents.remove(lblk, lblk + len);
    for (const [a, b] of runs) img.free.set(a, b, true);
  });
  ext4_da_sync_reserved_clusters(inode);
  return runs.length * r;
}

/**
 * The allocator ext4's preallocation uses for a range (ext4_alloc_file_blocks
 * -> ext4_map_blocks): a range that fits one unwritten extent is not
 * normalized (EXT4_GET_BLOCKS_NO_NORMALIZE).
 */
function ext4_prealloc_alloc(inode: Inode, first: number, last: number) {
  const noNormalize = last - first <= EXT_UNWRITTEN_MAX_LEN;
  // ext4_alloc_file_blocks: ext4_update_inode_fsync_trans(handle, inode, 1) after each extent, so
  // fdatasync commits a preallocation (an unwritten allocation by a write does not move it).
  return (l: number, n: number, fromReservation: boolean) => ext4_ext_map_new_blocks(inode, l, n, 'unwritten', { fromReservation, noNormalize, datasync: true });
}

function zeroOps(inode: Inode): IomapOps {
  return {
    name: 'ext4_zero_partial_blocks',
    begin(pos, length) {
      const m = ext4_read_iomap_begin(inode, pos, length);
      if (typeof m === 'number') return m;
      return { iomap: m, srcmap: { ...m, type: 'hole' } };
    },
  };
}

/** ext4_zero_partial_blocks: zero the partial first and last blocks of [offset, offset+len) in the page cache. */
export function ext4_zero_partial_blocks(inode: Inode, offset: number, len: number): number {
  const bs = inode.blockSize;
  const end = offset + len;
  const firstFull = roundUp(offset, bs);
  const lastFull = roundDown(end, bs);
  // Inside one block.
  if (firstFull > lastFull) return ext4_block_zero_page_range(inode, offset, len);
  if (offset < firstFull) {
    const err = ext4_block_zero_page_range(inode, offset, firstFull - offset);
    if (err < 0) return err;
  }
  return end > lastFull ? ext4_block_zero_page_range(inode, lastFull, end - lastFull) : 0;
}

/**
 * __ext4_block_zero_page_range: zero [offset, offset+len) of one block in
 * the page cache; in data=ordered mode the block joins the running
 * transaction's ordered data (ext4_jbd2_inode_add_write), so the commit
 * writes its folio out first, with whatever else is dirty in it.  A delayed
 * block counts too (its buffer is mapped): the commit's writeback does not
 * allocate (ext4_normal_submit_inode_data_buffers: can_map = 0), so it
 * writes the folio's blocks that are allocated by then.  A hole is not
 * zeroed at all.
 */
function ext4_block_zero_page_range(inode: Inode, offset: number, len: number): number {
  const e = inode.extents.find(Math.floor(offset / inode.blockSize));
  if (e !== undefined) ext4_jbd2_inode_add_write(inode, offset, offset + len);
  return iomap_zero_range(inode.sb.k, inode, offset, len, zeroOps(inode), undefined, 'buffer-head');
}

/** ext4_update_disksize_before_punch */
function ext4_update_disksize_before_punch(inode: Inode, offset: number, len: number): void {
  // 6.18 (Yongjian Sun's fix of 2025, v1 at lore 20250731140528.1554917-1-sunyongjian@huaweicloud.com;
  // observed here): a range inside i_size moves
  // i_disksize to the range's end, so that a write fault after the page cache is dropped cannot
  // allocate written blocks past i_disksize; a range over the EOF, to i_size.
  if (offset > inode.i_size) return;
  const size = Math.min(inode.i_size, offset + len);
  if (inode.disksize >= size) return;
  inode.sb.setDisksize(inode, size);
}

function setSizes(inode: Inode, size: number): void {
  const old = inode.i_size;
  inode.i_size = size;
  if (size > old) pagecache_isize_extended(inode.mapping, inode.blockSize, old, size);
  if (size !== inode.disksize) inode.sb.setDisksize(inode, size);
}

/** ext4_do_fallocate -> ext4_alloc_file_blocks: unwritten preallocation. */
function ext4_do_fallocate(inode: Inode, offset: number, len: number, keep: boolean): number {
  const bs = inode.blockSize;
  const end = offset + len;
  const first = Math.floor(offset / bs);
  const last = Math.ceil(end / bs);
  const r = inode.sb.allocUnwrittenRange(inode, first, last, ext4_prealloc_alloc(inode, first, last));
  if (!keep) ext4_alloc_file_blocks_size(inode, first, last, end, r < 0);
  return r < 0 ? r : 0;
}

/**
 * ext4_alloc_file_blocks with new_size: ext4_update_inode_size after each
 * extent it allocates, so out of space part way the blocks allocated so far
 * stay and the size covers them (observed on Linux 6.18, fallocate and
 * ZERO_RANGE alike).
 */
function ext4_alloc_file_blocks_size(inode: Inode, first: number, last: number, end: number, failed: boolean): void {
  const bs = inode.blockSize;
  const to = failed ? Math.min(end, allocatedPrefix(inode, first, last) * bs) : end;
  if (to > inode.i_size || to > inode.disksize) {
    const old = inode.i_size;
    if (to > old && old % bs !== 0) ext4_block_truncate_page(inode, old);
    if (to > old) {
      inode.i_size = to;
      pagecache_isize_extended(inode.mapping, bs, old, to);
    }
    if (to > inode.disksize) inode.sb.setDisksize(inode, to);
  }
}

/** The end of the run of allocated (written or unwritten) blocks from `first`, at most `last`. */
function allocatedPrefix(inode: Inode, first: number, last: number): number {
  let b = first;
  for (;;) {
    const e = inode.extents.find(b);
    if (e === undefined || e.v.type === 'delalloc' || b >= last) return Math.min(b, last);
    b = e.end;
  }
}

/** ext4_punch_hole */
function ext4_punch_hole(inode: Inode, offset: number, len: number): number {
  const bs = inode.blockSize;
  if (offset >= inode.i_size) return 0;
  if (inode.sb.shutdown) return -EIO;
  let end = offset + len;
  if (end > inode.i_size) end = roundUp(inode.i_size, PAGE_SIZE);
  ext4_update_disksize_before_punch(inode, offset, end - offset);
  truncate_pagecache_range(inode.mapping, offset, end - 1);
  // A block that cannot be read for its zeroing ends the punch before any block is removed.
  const zeroed = ext4_zero_partial_blocks(inode, offset, end - offset);
  if (zeroed < 0) return zeroFailed(inode, offset, end, zeroed);
  const first = Math.ceil(offset / bs);
  const last = Math.floor(end / bs);
  if (last > first) {
    ext4_discard_preallocations(inode);
    ext4_ext_remove_space(inode, first, last - first);
  }
  return 0;
}

/** ext4_zero_range */
function ext4_zero_range(inode: Inode, offset: number, len: number, keep: boolean): number {
  const bs = inode.blockSize;
  const end = offset + len;
  if (inode.sb.shutdown) return -EIO;
  ext4_update_disksize_before_punch(inode, offset, len);
  const first = Math.floor(offset / bs);
  const last = Math.ceil(end / bs);
  // "Preallocate the range including the unaligned edges" first: out of
  // space there, the page cache is left as it is.
  const r = inode.sb.allocUnwrittenRange(inode, first, last, ext4_prealloc_alloc(inode, first, last));
  if (r < 0) {
    if (!keep) ext4_alloc_file_blocks_size(inode, first, last, end, true);
    return r;
  }
  // ext4_truncate_page_cache_block_range: drop the page cache over the
  // range (dirty data there is being zeroed); in data=ordered mode nothing
  // is written back first.
  truncate_pagecache_range(inode.mapping, offset, end - 1);
  const fullFirst = Math.ceil(offset / bs);
  const fullLast = Math.floor(end / bs);
  if (fullLast > fullFirst) inode.sb.convertToUnwritten(inode, fullFirst, fullLast);
  if (offset % bs === 0 && end % bs === 0) {
    if (!keep && end > inode.i_size) zeroRangeExtend(inode, end);
    return 0;
  }
  // Partial edge blocks: a handle that marks the inode dirty (so an O_SYNC
  // commit has something to commit, with the zeroed blocks as ordered data).
  inode.sb.log(inode, () => {});
  const zeroed = ext4_zero_partial_blocks(inode, offset, len);
  if (zeroed < 0) return zeroFailed(inode, offset, end, zeroed);
  if (!keep && end > inode.i_size) zeroRangeExtend(inode, end);
  return 0;
}

/**
 * The zeroing of a partial edge block failed after the page cache over the
 * range was truncated: the cached edge folios keep the zeroes
 * truncate_inode_partial_folio put in them, clean (Folio.zeroedInCacheOnly).
 */
function zeroFailed(inode: Inode, offset: number, end: number, err: number): number {
  for (const f of inode.mapping.folioRange(offset, end)) if (!f.dirty) f.setZeroedInCacheOnly(true);
  return err;
}

/**
 * ext4_alloc_file_blocks with new_size, as ext4_zero_range calls it: the
 * sizes move to `end`, and the part of the old EOF block past the old size
 * is zeroed (pagecache_isize_extended, ext4_zero_partial_blocks), so bytes
 * stored through mmap past EOF do not become file data.
 */
function zeroRangeExtend(inode: Inode, end: number): void {
  const old = inode.i_size;
  setSizes(inode, end);
  if (old % inode.blockSize !== 0) ext4_zero_partial_blocks(inode, old, Math.min(end, roundUp(old, inode.blockSize)) - old);
}

/** ext4_collapse_range */
function ext4_collapse_range(inode: Inode, offset: number, len: number): number {
  const bs = inode.blockSize;
  // IS_ALIGNED(offset | len, EXT4_CLUSTER_SIZE(sb))
  const cs = bs * inode.sb.clusterRatio;
  if (offset % cs !== 0 || len % cs !== 0) return -EINVAL;
  if (offset + len >= inode.i_size) return -EINVAL;
  if (inode.sb.shutdown) return -EIO;
  const ioffset = roundDown(offset, PAGE_SIZE);
  filemap_write_and_wait_range(inode.mapping, ioffset, Number.MAX_SAFE_INTEGER);
  truncate_pagecache(inode.mapping, ioffset);
  const first = offset / bs;
  const n = len / bs;
  ext4_discard_preallocations(inode);
  ext4_ext_remove_space(inode, first, n);
  inode.sb.shiftExtents(inode, first + n, -n);
  setSizes(inode, inode.i_size - len);
  return 0;
}

/** ext4_insert_range */
function ext4_insert_range(inode: Inode, offset: number, len: number): number {
  const bs = inode.blockSize;
  // IS_ALIGNED(offset | len, EXT4_CLUSTER_SIZE(sb))
  const cs = bs * inode.sb.clusterRatio;
  if (offset % cs !== 0 || len % cs !== 0) return -EINVAL;
  if (offset >= inode.i_size) return -EINVAL;
  if (len > inode.sb.s_maxbytes - inode.i_size) return -EFBIG;
  if (inode.sb.shutdown) return -EIO;
  const ioffset = roundDown(offset, PAGE_SIZE);
  filemap_write_and_wait_range(inode.mapping, ioffset, Number.MAX_SAFE_INTEGER);
  truncate_pagecache(inode.mapping, ioffset);
  ext4_discard_preallocations(inode);
  setSizes(inode, inode.i_size + len);
  inode.sb.shiftExtents(inode, offset / bs, len / bs);
  return 0;
}

/** ext4_fallocate */
export function ext4_fallocate(file: File, mode: number, offset: number, len: number): number {
  const inode = file.inode;
  const supported = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_WRITE_ZEROES;
  if ((mode & ~supported) !== 0) return -EOPNOTSUPP;
  // The loop device cannot unmap-write-zeroes.
  if ((mode & FALLOC_FL_WRITE_ZEROES) !== 0) return -EOPNOTSUPP;
  if (inode.flags.has('encrypted') && (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) !== 0) return -EOPNOTSUPP;
  const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
  const maxbytes = inode.sb.s_maxbytes;
  // Each mode makes its own checks (EINVAL, EFBIG, nothing to punch) before
  // it starts a journal handle, which fails with EIO on a shut-down file system.
  if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0) return ext4_punch_hole(inode, offset, len);
  if ((mode & FALLOC_FL_COLLAPSE_RANGE) !== 0) return ext4_collapse_range(inode, offset, len);
  if ((mode & FALLOC_FL_INSERT_RANGE) !== 0) return ext4_insert_range(inode, offset, len);
  if (!keep && offset + len > maxbytes) return -EFBIG;
  const zero = (mode & FALLOC_FL_ZERO_RANGE) !== 0;
  if (!zero && inode.sb.shutdown) return -EIO;
  const r = zero ? ext4_zero_range(inode, offset, len, keep) : ext4_do_fallocate(inode, offset, len, keep);
  // ext4_do_fallocate, and ext4_zero_range when it has partial edge blocks
  // to zero (an aligned range returns before that handle), test
  // `file->f_flags & O_SYNC`, which O_DSYNC alone satisfies: commit.
  const bs = inode.blockSize;
  const sync = !zero || offset % bs !== 0 || (offset + len) % bs !== 0;
  if (r === 0 && sync && (file.f_flags & O_DSYNC) !== 0) inode.sb.journal.commitUpTo(inode.syncTid);
  return r;
}

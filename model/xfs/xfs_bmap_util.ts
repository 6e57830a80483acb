/**
 * fs/xfs/xfs_bmap_util.c: space preallocation, hole punching, post-EOF
 * block trimming, and extent shifting for collapse/insert.
 */
import { xfs_bmap_isaeof } from './xfs_alloc.ts';
import type { Inode } from '../fs/inode.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';
import { truncate_pagecache_range } from '../mm/truncate.ts';
import { MAX_EXTLEN, xfs_alloc_goal, xfs_zero_range } from './xfs_iomap.ts';
import { xfs_cow_blocks } from './xfs_inode.ts';
import { xfs_reflink_cancel_cow_range } from './xfs_reflink.ts';
import { roundDown } from '../lib/math.ts';
import { ENOSPC } from '../lib/errno.ts';

/** xfs_flush_unmap_range: write back and drop the page cache over [start, end). */
export function xfs_flush_unmap_range(inode: Inode, offset: number, len: number): number {
  const u = Math.max(inode.blockSize, PAGE_SIZE);
  const start = roundDown(offset, u);
  const end = Math.ceil((offset + len) / u) * u;
  const err = filemap_write_and_wait_range(inode.mapping, start, end - 1);
  if (err < 0) return err;
  truncate_pagecache_range(inode.mapping, start, end - 1);
  return 0;
}

/** xfs_alloc_file_space: unwritten blocks for the holes (and delalloc) of the range. */
export function xfs_alloc_file_space(inode: Inode, offset: number, len: number): number {
  const bs = inode.blockSize;
  const first = Math.floor(offset / bs);
  const last = Math.ceil((offset + len) / bs);
  // Each transaction reserves its chunk's blocks up front (up to XFS_MAX_BMBT_EXTLEN): a chunk
  // larger than the free space fails with ENOSPC before anything is allocated (observed on 6.18).
  if (Math.min(last - first, MAX_EXTLEN) > inode.sb.alloc.available()) return -ENOSPC;
  const r = inode.sb.allocUnwrittenRange(inode, first, last, (l, n, fromReservation) => inode.sb.allocBlocks(inode, l, n, 'unwritten', xfs_alloc_goal(inode, l), { fromReservation, atEof: xfs_bmap_isaeof(inode.extents, l) }));
  // The allocation transaction sets XFS_DIFLAG_PREALLOC: from now on post-EOF
  // blocks are not trimmed at close or eviction (xfs_can_free_eofblocks).
  if (r === 0) inode.sb.setInodeFlag(inode, 'prealloc');
  return r;
}

/**
 * xfs_free_file_space: punch whole blocks out; zero the partial head and
 * tail blocks (only inside EOF) through the page cache.  The flush before
 * it is xfs_file_fallocate's (a writeback error ends the call before
 * anything changed); a zeroing error is returned after the blocks are gone.
 */
export function xfs_free_file_space(inode: Inode, offset: number, len: number): number {
  if (len <= 0) return 0;
  const bs = inode.blockSize;
  const flushed = xfs_flush_unmap_range(inode, offset, len);
  if (flushed < 0) return flushed;
  const first = Math.ceil(offset / bs);
  const last = Math.floor((offset + len) / bs);
  if (last > first) inode.sb.unmapBlocks(inode, first, last - first);
  // Zero the partial blocks that remain, inside EOF only: a range that starts at or past EOF is done.
  const isize = inode.i_size;
  if (offset >= isize) return 0;
  const zeroPart = (s: number, e: number): number => {
    const ee = Math.min(e, isize);
    return ee > s ? xfs_zero_range(inode, s, ee - s) : 0;
  };
  // One xfs_zero_range over the whole range in the kernel; it skips the holes just punched.
  const zeroed = first > last ? zeroPart(offset, offset + len)
    : offset < first * bs ? zeroPart(offset, first * bs) : 0;
  if (zeroed < 0) return zeroed;
  if (first <= last && offset + len > last * bs) {
    const tail = zeroPart(last * bs, offset + len);
    if (tail < 0) return tail;
  }
  // If the zeroing reached EOF in a partial page, write that page back.
  if (offset + len >= isize && isize % PAGE_SIZE !== 0) {
    return filemap_write_and_wait_range(inode.mapping, roundDown(isize, PAGE_SIZE), Number.MAX_SAFE_INTEGER);
  }
  return 0;
}

/** xfs_can_free_eofblocks */
export function xfs_can_free_eofblocks(inode: Inode): boolean {
  if (inode.kind !== 'reg') return false;
  // i_delayed_blks counts the COW fork too.
  const delayed = inode.delayed + xfs_cow_blocks(inode);
  if (inode.i_size === 0 && inode.mapping.nrFolios === 0 && delayed === 0) return false;
  if (inode.flags.has('prealloc') && delayed === 0) return false;
  if (delayed > 0) return true;
  const eofFsb = Math.ceil(inode.i_size / inode.blockSize);
  return inode.extents.next(eofFsb) !== undefined;
}

/**
 * xfs_free_eofblocks: free the blocks past the EOF block; for inodes with
 * the PREALLOC flag only delalloc is punched.
 */
export function xfs_free_eofblocks(inode: Inode): void {
  const eofFsb = Math.ceil(inode.i_size / inode.blockSize);
  const rest = Number.MAX_SAFE_INTEGER - eofFsb;
  if (inode.flags.has('prealloc')) {
    for (const e of inode.extents.overlapping(eofFsb, Number.MAX_SAFE_INTEGER)) {
      if (e.v.type === 'delalloc') inode.sb.unmapBlocks(inode, e.start, e.end - e.start);
    }
    return;
  }
  inode.sb.unmapBlocks(inode, eofFsb, rest);
  // xfs_itruncate_extents_flags -> xfs_reflink_cancel_cow_blocks from the EOF block.
  xfs_reflink_cancel_cow_range(inode, eofFsb, Number.MAX_SAFE_INTEGER, true);
}

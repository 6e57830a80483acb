/**
 * fs/xfs/xfs_reflink.c: shared extents and copy-on-write.  A clone maps the
 * source's written blocks into the destination with one more reference
 * each; a later write to a shared block goes out of place through the
 * in-core COW fork: a reservation (delalloc) made at write time, real
 * "staging" blocks allocated at writeback (or at once for direct I/O), and
 * a remap into the data fork when the I/O completes.  Notes and
 * experiments: docs/kernel/xfs-cow.md.
 */
import { xfs_bmap_isaeof } from './xfs_alloc.ts';
import type { Inode } from '../fs/inode.ts';
import type { Extent } from '../fs/extent.ts';
import { refcountDecrease, refcountRuns } from '../fs/refcount.ts';
import { roundDown, roundUp } from '../lib/math.ts';
import { xfs_cow_fork, xfs_ifork_init_cow } from './xfs_inode.ts';
import { xfs_refcount_cow_records } from './xfs_refcount.ts';
import { EINVAL, EIO, ENOSPC } from '../lib/errno.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';
import { xfs_alloc_goal, xfs_bmapi_read, xfs_zero_range } from './xfs_iomap.ts';
import { xfs_flush_unmap_range } from './xfs_bmap_util.ts';

/** XFS_DEFAULT_COWEXTSZ_HINT: 32 blocks, used when the inode has no CoW extent size hint (xfs_get_cowextsz_hint). */
export const XFS_DEFAULT_COWEXTSZ_HINT = 32;

/** xfs_get_cowextsz_hint */
export function xfs_get_cowextsz_hint(_inode: Inode): number {
  return XFS_DEFAULT_COWEXTSZ_HINT;
}

/** xfs_is_cow_inode: reflinked (or always-COW) inodes consult the COW fork. */
export function xfs_is_cow_inode(inode: Inode): boolean {
  return inode.flags.has('reflink');
}

/**
 * xfs_reflink_trim_around_shared: is the first block of a written data
 * extent [lblk, end) at physical `pblk` shared, and where does the run of
 * blocks like it (all shared or all not) end?
 */
export function xfs_reflink_trim_around_shared(inode: Inode, lblk: number, end: number, pblk: number): { shared: boolean; end: number } {
  let runs = refcountRuns(inode.sb.refcount, pblk, end - lblk);
  // Variant fix-xfs-unshare-before-commit: a block whose other owners went in a transaction
  // that is not in the log yet is still shared on disk, and is not overwritten in place.
  if (inode.sb.k.v.on('fix-xfs-unshare-before-commit')) runs = withUncommittedShares(runs, inode.sb.unsharedSinceCommit(pblk, end - lblk));
  const first = runs[0]!;
  const shared = first[2] > 1;
  let last = first[1];
  for (const r of runs.slice(1)) {
    if (r[2] > 1 !== shared) break;
    last = r[1];
  }
  return { shared, end: lblk + (last - pblk) };
}

/** Refcount runs [start, end, count] with the blocks in `uncommitted` counted as shared (2) where they have one owner. */
function withUncommittedShares(runs: Array<[number, number, number]>, uncommitted: ReadonlyArray<readonly [number, number]>): Array<[number, number, number]> {
  if (uncommitted.length === 0) return runs;
  const out: Array<[number, number, number]> = [];
  for (const [a, b, c] of runs) {
    if (c > 1) {
      out.push([a, b, c]);
      continue;
    }
    let at = a;
    for (const [x, y] of [...uncommitted].sort((p, q) => p[0] - q[0])) {
      if (y <= at || x >= b) continue;
      if (x > at) out.push([at, x, c]);
      out.push([Math.max(x, at), Math.min(y, b), 2]);
      at = Math.min(y, b);
    }
    if (at < b) out.push([at, b, c]);
  }
  return out;
}

/** xfs_bmap_trim_cow: only written extents can be shared. */
export function xfs_bmap_trim_cow(inode: Inode, lblk: number, end: number, e: Extent | undefined): { shared: boolean; end: number } {
  if (e === undefined || e.type !== 'mapped') return { shared: false, end };
  return xfs_reflink_trim_around_shared(inode, lblk, end, e.pblk);
}

/** The COW-fork extent at `lblk` (re-based to it), or the gap up to the next one. */
export function xfs_cow_lookup(inode: Inode, lblk: number): { e: Extent | undefined; start: number; end: number } {
  const cow = xfs_cow_fork(inode);
  if (cow === null) return { e: undefined, start: lblk, end: Number.MAX_SAFE_INTEGER };
  const at = cow.find(lblk);
  if (at !== undefined) {
    const e = at.v.pblk >= 0 ? { type: at.v.type, pblk: at.v.pblk + (lblk - at.start) } : at.v;
    return { e, start: lblk, end: at.end };
  }
  const nx = cow.next(lblk);
  return { e: undefined, start: lblk, end: nx === undefined ? Number.MAX_SAFE_INTEGER : nx.start };
}

/**
 * The COW window for [lblk, end): widened to the CoW extent size hint
 * (xfs_bmap_extsize_align) and clipped so it overlaps no other COW-fork
 * extent.  It may reach past EOF.
 */
function cowWindow(inode: Inode, lblk: number, end: number): [number, number] {
  const h = xfs_get_cowextsz_hint(inode);
  let a = roundDown(lblk, h);
  let b = roundUp(end, h);
  const cow = xfs_cow_fork(inode);
  if (cow !== null) {
    for (const e of cow.overlapping(a, lblk)) a = Math.max(a, e.end);
    const nx = cow.next(lblk);
    if (nx !== undefined) b = Math.min(b, nx.start);
  }
  return [a, b];
}

/**
 * xfs_bmapi_reserve_delalloc(XFS_COW_FORK): reserve the COW window around
 * [lblk, end) as delalloc in the COW fork; without the space for the whole
 * window, just the range.  Returns the reserved range or -ENOSPC.
 */
export function xfs_reflink_reserve_cow(inode: Inode, lblk: number, end: number): [number, number] | number {
  const sb = inode.sb;
  let [a, b] = cowWindow(inode, lblk, end);
  if (!sb.alloc.reserve(b - a)) {
    [a, b] = [lblk, end];
    if (!sb.alloc.reserve(b - a)) return -ENOSPC;
  }
  xfs_ifork_init_cow(inode).set(a, b, { type: 'delalloc', pblk: -1 });
  return [a, b];
}

/**
 * xfs_bmapi_write(XFS_BMAPI_COWFORK): allocate CoW staging blocks for
 * COW-fork blocks [lblk, lblk+len) of `inode`: in-core the extent goes into
 * the COW fork as unwritten; on disk only a CoW staging record is logged.
 * May allocate less than asked; returns the extent or -ENOSPC.
 */
function xfs_bmapi_write_cow(inode: Inode, lblk: number, len: number, goal: number, fromReservation: boolean): { pblk: number; len: number } | number {
  const sb = inode.sb;
  const got = sb.alloc.alloc({ goal, len, align: 1, minLen: 1, atEof: xfs_bmap_isaeof(xfs_ifork_init_cow(inode), lblk) }, sb.ops.alloc_search);
  if (got === null) return -ENOSPC;
  if (fromReservation) sb.alloc.unreserve(got.len);
  xfs_ifork_init_cow(inode).set(lblk, lblk + got.len, { type: 'unwritten', pblk: got.pblk });
  const { pblk } = got;
  const n = got.len;
  sb.log(inode, (img) => {
    img.free.remove(pblk, pblk + n);
    xfs_refcount_cow_records(img).set(pblk, pblk + n, true);
  }, false);
  if (sb.k.recording) sb.k.emit({ t: 'alloc', ino: inode.ino, lblk, pblk, len: n, unwritten: true });
  return got;
}

/**
 * xfs_bmapi_convert_delalloc(XFS_COW_FORK) / xfs_reflink_fill_cow_hole:
 * give COW-fork blocks [a, b) real (unwritten) staging blocks; delalloc
 * there consumes its reservation.
 */
function fillCow(inode: Inode, a: number, b: number): number {
  let pos = a;
  while (pos < b) {
    const look = xfs_cow_lookup(inode, pos);
    if (look.e !== undefined && look.e.type !== 'delalloc') {
      pos = look.end;
      continue;
    }
    const runEnd = Math.min(b, look.end);
    const got = xfs_bmapi_write_cow(inode, pos, runEnd - pos, xfs_alloc_goal(inode, pos), look.e !== undefined);
    if (typeof got === 'number') return got;
    pos += got.len;
  }
  return 0;
}

/**
 * xfs_bmapi_write(XFS_COW_FORK | XFS_BMAPI_PREALLOC) over [lblk, end), as
 * the software atomic write path does: the allocation is widened to the
 * CoW extent size hint; the blocks are staging, recorded for recovery.
 */
export function xfs_reflink_fill_cow_range(inode: Inode, lblk: number, end: number): number {
  const [a, b] = cowWindow(inode, lblk, end);
  return fillCow(inode, a, b);
}

/**
 * xfs_reflink_end_atomic_cow: the software atomic write completed: every
 * COW extent of [off, off+size) replaces the data fork mapping in one
 * transaction, so a crash finds all of the write or none of it.  Variant
 * xfs-atomic-end-cow: one transaction per data fork extent, as
 * xfs_reflink_end_cow does, and the log may checkpoint between them.
 */
export function xfs_reflink_end_atomic_cow(inode: Inode, off: number, size: number): number {
  if (!inode.sb.k.v.on('xfs-atomic-end-cow')) return xfs_reflink_end_cow(inode, off, size);
  if (inode.sb.shutdown) return -EIO;
  const bs = inode.blockSize;
  const first = Math.floor(off / bs);
  const last = Math.ceil((off + size) / bs);
  let pos = first;
  while (pos < last) {
    const data = inode.extents.find(pos);
    const nx = inode.extents.next(pos);
    const end = Math.min(last, data !== undefined ? data.end : nx !== undefined ? nx.start : last);
    const r = xfs_reflink_end_cow(inode, pos * bs, (end - pos) * bs);
    if (r < 0) return r;
    if (end < last) inode.sb.journal.commit();
    pos = end;
  }
  return 0;
}

/** Writeback: the whole COW delalloc extent containing `lblk` becomes staging (xfs_bmapi_convert_delalloc). */
export function xfs_cow_convert_delalloc(inode: Inode, lblk: number): number {
  const at = xfs_cow_fork(inode)?.find(lblk);
  if (at === undefined || at.v.type !== 'delalloc') return 0;
  return fillCow(inode, at.start, at.end);
}

/** xfs_reflink_convert_cow: staging blocks of [a, b) are about to be written (XFS_EXT_NORM; in-core only). */
export function xfs_reflink_convert_cow(inode: Inode, a: number, b: number): void {
  const cow = xfs_cow_fork(inode);
  if (cow === null) return;
  for (const e of cow.overlapping(a, b)) {
    if (e.v.type !== 'unwritten') continue;
    cow.set(e.start, e.end, { type: 'mapped', pblk: e.v.pblk });
  }
}

/**
 * xfs_reflink_allocate_cow (direct writes): the COW mapping for
 * [lblk, end); or, when the blocks need no COW (not shared and not covered
 * by the COW fork), where the data fork mapping must stop (`cap`: the next
 * COW extent or sharing boundary).  The I/O range is converted for writing.
 */
export function xfs_reflink_allocate_cow(inode: Inode, lblk: number, end: number): { start: number; end: number; pblk: number } | { cap: number } | number {
  const cowAt = xfs_cow_lookup(inode, lblk);
  let runEnd: number;
  if (cowAt.e === undefined) {
    // xfs_find_trim_cow_extent: no COW extent here; COW only shared data.
    const data = xfs_bmapi_read(inode, lblk, Math.min(end, cowAt.end));
    const t = xfs_bmap_trim_cow(inode, lblk, data.end, data.e);
    if (!t.shared) return { cap: t.end };
    runEnd = t.end;
    // xfs_reflink_fill_cow_hole: the allocation takes the CoW extent size hint.
    const [a, b] = cowWindow(inode, lblk, runEnd);
    const r = fillCow(inode, a, b);
    if (r < 0) return r;
  } else {
    // xfs_find_trim_cow: the COW extent found is trimmed to the data fork mapping (extent or hole) at lblk.
    runEnd = Math.min(end, cowAt.end, xfs_bmapi_read(inode, lblk, end).end);
    if (cowAt.e.type === 'delalloc') {
      // xfs_reflink_fill_delalloc
      const r = xfs_cow_convert_delalloc(inode, lblk);
      if (r < 0) return r;
    }
  }
  xfs_reflink_convert_cow(inode, lblk, runEnd);
  const at = xfs_cow_fork(inode)!.find(lblk)!;
  return { start: lblk, end: Math.min(runEnd, at.end), pblk: at.v.pblk + (lblk - at.start) };
}

/**
 * xfs_reflink_end_cow: I/O to [off, off+size) completed: each written COW
 * extent there replaces the data fork mapping, one transaction per extent
 * (xfs_reflink_end_cow_extent).  Unwritten staging stays in the COW fork.
 */
export function xfs_reflink_end_cow(inode: Inode, off: number, size: number): number {
  if (inode.sb.shutdown) return -EIO;
  const cow = xfs_cow_fork(inode);
  if (cow === null) return 0;
  const bs = inode.blockSize;
  const first = Math.floor(off / bs);
  const last = Math.ceil((off + size) / bs);
  for (const e of cow.overlapping(first, last)) {
    if (e.v.type !== 'mapped') continue;
    const a = Math.max(e.start, first);
    const b = Math.min(e.end, last);
    xfs_reflink_end_cow_extent(inode, a, b - a, e.v.pblk + (a - e.start));
  }
  return 0;
}

/**
 * xfs_reflink_end_cow_extent: in one transaction, the written COW-fork
 * blocks [lblk, lblk+n) (staging at `pblk`) replace the data fork mapping
 * there: the old blocks lose this owner (freed unless still shared), the
 * staging record goes, the new blocks are mapped written.
 */
function xfs_reflink_end_cow_extent(inode: Inode, lblk: number, n: number, pblk: number): void {
  const sb = inode.sb;
  const ino = inode.ino;
  const old: Array<[number, number, number]> = [];
  for (const e of inode.extents.overlapping(lblk, lblk + n)) {
    if (e.v.type === 'delalloc') {
      sb.unreserveDelalloc(inode, e.end - e.start);
      continue;
    }
    old.push([e.start, e.end, e.v.pblk]);
  }
  const freed: Array<[number, number]> = [];
  for (const [s, e, p] of old) freed.push(...sb.dropOwner(inode, p, e - s));
  inode.extents.set(lblk, lblk + n, { type: 'mapped', pblk });
  xfs_cow_fork(inode)?.remove(lblk, lblk + n);
  sb.log(inode, (img) => {
    const d = img.inode(ino);
    for (const [s, e, p] of old) {
      d.extents.remove(s, e);
      refcountDecrease(img.refcount, p, e - s);
    }
    for (const [a, b] of freed) img.free.set(a, b, true);
    xfs_refcount_cow_records(img).remove(pblk, pblk + n);
    d.extents.set(lblk, lblk + n, { type: 'mapped', pblk });
  });
}

/**
 * xfs_reflink_cancel_cow_range / xfs_reflink_cancel_cow_blocks: drop the
 * COW fork over file blocks [first, last) (an I/O error, truncate,
 * eviction): reservations are returned, staging blocks freed with their
 * records — those only with `cancelReal`.
 */
export function xfs_reflink_cancel_cow_range(inode: Inode, first: number, last: number, cancelReal: boolean): void {
  const cow = xfs_cow_fork(inode);
  if (cow === null) return;
  const sb = inode.sb;
  for (const e of cow.overlapping(first, last)) {
    const n = e.end - e.start;
    if (e.v.type === 'delalloc') {
      sb.alloc.unreserve(n);
      cow.remove(e.start, e.end);
      continue;
    }
    if (!cancelReal) continue;
    const pblk = e.v.pblk;
    cow.remove(e.start, e.end);
    sb.freeBusy(pblk, n);
    sb.log(inode, (img) => {
      xfs_refcount_cow_records(img).remove(pblk, pblk + n);
      img.free.set(pblk, pblk + n, true);
    }, false);
  }
}

/** Has the data fork a shared written block (xfs_reflink_inode_has_shared_extents)? */
function hasSharedExtents(inode: Inode): boolean {
  for (const e of inode.extents.entries()) {
    if (e.v.type === 'mapped' && inode.sb.isShared(e.v.pblk, e.end - e.start)) return true;
  }
  return false;
}

/**
 * xfs_reflink_try_clear_inode_flag: with no shared extents left and nothing
 * in flight (xfs_can_free_cowblocks: no I_DIRTY_PAGES, no dirty or
 * writeback pages), the COW fork is freed and the reflink flag cleared.
 */
export function xfs_reflink_try_clear_inode_flag(inode: Inode): void {
  if (!xfs_is_cow_inode(inode)) return;
  if (inode.mapping.dirtyPagesInode || inode.mapping.hasDirtyOrWriteback(0, Number.MAX_SAFE_INTEGER)) return;
  if (hasSharedExtents(inode)) return;
  xfs_reflink_cancel_cow_range(inode, 0, Number.MAX_SAFE_INTEGER, true);
  inode.sb.clearInodeFlag(inode, 'reflink');
}

/**
 * xfs_reflink_remap_prep + xfs_reflink_remap_blocks + xfs_reflink_update_dest:
 * share [posIn, posIn+len) of `src` at `posOut` of `dst`.  The generic
 * checks (fs/remap_range.c) have passed and both ranges are written back.
 */
export function xfs_reflink_remap(src: Inode, posIn: number, dst: Inode, posOut: number, len: number): number {
  const bs = dst.blockSize;
  // xfs_reflink_zero_posteof: a clone past EOF zeroes the gap first.
  if (posOut > dst.i_size) {
    const r = xfs_zero_range(dst, dst.i_size, posOut - dst.i_size);
    if (r < 0) return r;
  }
  // xfs_reflink_set_inode_flag: both inodes, one transaction.
  dst.sb.setInodeFlag(src, 'reflink');
  dst.sb.setInodeFlag(dst, 'reflink');
  const start = posOut > dst.i_size ? dst.i_size : posOut;
  const flushed = xfs_flush_unmap_range(dst, start, posOut + len - start);
  if (flushed < 0) return flushed;
  const first = Math.floor(posIn / bs);
  const n = Math.ceil(len / bs);
  const delta = Math.floor(posOut / bs) - first;
  let lblk = first;
  while (lblk < first + n) {
    const look = xfs_bmapi_read(src, lblk, first + n);
    const d = lblk + delta;
    const cnt = look.end - lblk;
    if (look.e !== undefined && look.e.type === 'mapped') {
      dst.sb.remapShared(dst, d, cnt, look.e.pblk);
    } else {
      // xfs_reflink_remap_extent, a source without written storage: what the destination has is unmapped
      // (a hole is left), except where both are unwritten ("leave them alone").
      if (look.e !== undefined && look.e.type === 'delalloc') return -EINVAL;
      const srcUnwritten = look.e?.type === 'unwritten';
      for (let b = d; b < d + cnt; ) {
        const dm = xfs_bmapi_read(dst, b, d + cnt);
        if (!(srcUnwritten && dm.e?.type === 'unwritten')) dst.sb.unmapBlocks(dst, b, dm.end - b);
        b = dm.end;
      }
    }
    // Each extent transaction moves the size up to the end of what it mapped (xfs_reflink_remap_extent:
    // only past the in-core size, so a clone below it never moves an on-disk size left behind it).
    const newSize = Math.min((d + cnt) * bs, posOut + len);
    if (newSize > dst.i_size) {
      dst.i_size = newSize;
      dst.sb.setDisksize(dst, newSize);
    } else if (newSize > dst.disksize && dst.sb.k.v.on('fix-xfs-clone-ondisk-size')) {
      // Variant fix-xfs-clone-ondisk-size: past the on-disk size, up to the in-core one (xfs_new_eof).
      dst.sb.setDisksize(dst, newSize);
    }
    lblk = look.end;
  }
  if (posOut + len > dst.i_size) {
    dst.i_size = posOut + len;
    dst.sb.setDisksize(dst, posOut + len);
  }
  return 0;
}

/**
 * xfs_reflink_unshare (FALLOC_FL_UNSHARE_RANGE): copy the shared blocks of
 * [offset, offset+len) (inside EOF) out through the page cache, write them
 * back, and clear the reflink flag if nothing is shared any more.
 */
export function xfs_reflink_unshare(inode: Inode, offset: number, len: number, unshare: (pos: number, len: number) => number): number {
  if (!xfs_is_cow_inode(inode)) return 0;
  // iomap_file_unshare clamps to i_size and does nothing past it; the
  // write-back and the attempt to clear the reflink flag happen regardless.
  const end = Math.min(offset + len, inode.i_size);
  if (offset < end) {
    const r = unshare(offset, end - offset);
    if (r < 0) return r;
  }
  const e = filemap_write_and_wait_range(inode.mapping, offset, offset + len - 1);
  if (e < 0) return e;
  xfs_reflink_try_clear_inode_flag(inode);
  return 0;
}

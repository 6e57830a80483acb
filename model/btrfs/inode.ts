/**
 * fs/btrfs/inode.c: what happens between the page cache and the trees —
 * writeback choosing where dirty data goes (btrfs_run_delalloc_range:
 * cow_file_range, run_delalloc_nocow, inline extents), the completion of
 * ordered extents (btrfs_finish_one_ordered), truncate and size extension
 * (btrfs_setsize, btrfs_truncate, btrfs_truncate_block, btrfs_cont_expand),
 * getattr, page_mkwrite, and the ->iomap_begin a buffered write uses.
 *
 * 6.18's btrfs has its own buffered write path (btrfs_buffered_write,
 * prepare_uptodate_folio, btrfs_dirty_folio), not iomap's; the model runs it
 * through the iomap engine with btrfs's rules, which is what the iomap
 * conversion series of seed 002 does: a write over existing data is a
 * copy-on-write mapping whose source map is the old extent (read for the
 * partial blocks), a write over a hole a new delayed allocation.
 */
import type { Inode } from '../fs/inode.ts';
import type { Kstat } from '../fs/super.ts';
import type { Extent } from '../fs/extent.ts';
import { adjacentGoal } from '../fs/alloc.ts';
import { refcountDecrease, refcountIncrease } from '../fs/refcount.ts';
import { btrfs_cross_ref_exist } from './backref.ts';
import type { Iomap, IomapOps, IomapPair } from '../iomap/iomap.ts';
import { IOMAP_F_NEW, IOMAP_F_SHARED, IOMAP_NULL_ADDR, iomapHole } from '../iomap/iomap.ts';
import type { Ioend } from '../iomap/ioend.ts';
import { ifs_alloc, iomap_page_mkwrite, iomap_set_range_dirty, iomap_set_range_uptodate } from '../iomap/buffered-io.ts';
import type { Span } from '../lib/content.ts';
import { dataLen, sliceData, zeroData } from '../lib/content.ts';
import { EFBIG, EIO, ENOSPC } from '../lib/errno.ts';
import { roundDown, roundUp } from '../lib/math.ts';
import { folioBytes, folioWrite } from '../mm/filemap.ts';
import { btrfs_start_ordered_extent, btrfs_wait_ordered_range } from './ordered-data.ts';
import type { Folio } from '../mm/folio.ts';
import { filemap_dirty_folio } from '../mm/page-writeback.ts';
import { pagecache_isize_extended, truncate_setsize } from '../mm/truncate.ts';
import { STATX_BASIC_STATS } from '../vfs/fcntl.ts';
import type { File } from '../vfs/file.ts';
import { BTRFS_I, btrfs_has_csums, btrfs_is_nodatacow, btrfs_should_nocow } from './btrfs_inode.ts';
import { btrfs_disk, btrfs_sb } from './fs.ts';

// ---------------------------------------------------------------------------
// extents

/** The data extent at file block `lblk` (re-based to it) and where it ends, or the hole up to the next one. */
export function btrfs_get_extent(inode: Inode, lblk: number, maxEnd: number): { e: Extent | undefined; end: number } {
  const at = inode.extents.find(lblk);
  if (at !== undefined) return { e: at.v.pblk >= 0 ? { type: at.v.type, pblk: at.v.pblk + (lblk - at.start) } : at.v, end: Math.min(at.end, maxEnd) };
  const nx = inode.extents.next(lblk);
  return { e: undefined, end: nx === undefined ? maxEnd : Math.min(nx.start, maxEnd) };
}

/** Is the disk extent behind file block lblk (at pblk) shared, and for how many of the next n blocks does that hold? */
function sharedRun(inode: Inode, lblk: number, pblk: number, n: number): { shared: boolean; n: number } {
  const x = btrfs_cross_ref_exist(inode, lblk, pblk);
  return { shared: x.shared, n: Math.min(n, x.n) };
}

/**
 * One step of run_delalloc_nocow from file block `lblk` (not past `max`):
 * can the extent there be written in place (a PREALLOC extent, or any
 * extent of a NODATACOW file, that nothing else references), and where does
 * the piece the answer holds for end?
 */
function nocowPiece(inode: Inode, lblk: number, max: number): { inPlace: false; end: number } | { inPlace: true; end: number; pblk: number; type: Extent['type'] } {
  const look = btrfs_get_extent(inode, lblk, max);
  if (look.e === undefined || look.e.pblk < 0) return { inPlace: false, end: look.end };
  const s = sharedRun(inode, lblk, look.e.pblk, look.end - lblk);
  if (s.shared || !(look.e.type === 'unwritten' || btrfs_is_nodatacow(inode))) return { inPlace: false, end: lblk + s.n };
  return { inPlace: true, end: lblk + s.n, pblk: look.e.pblk, type: look.e.type };
}

/** The allocation hint: the extent's own block (rewrites land nearby), else next to the file's neighbours, else the data area's start. */
function allocHint(inode: Inode, lblk: number): number {
  const at = inode.extents.find(lblk);
  if (at !== undefined && at.v.pblk >= 0) return at.v.pblk + (lblk - at.start);
  return adjacentGoal(inode.extents, lblk, inode.sb.alloc.firstDataBlock) ?? inode.sb.alloc.firstDataBlock;
}

/**
 * btrfs_reserve_extent: a new disk extent for `len` blocks (or fewer, the
 * caller loops), in memory only — the extent tree gets it with the file
 * extent item at the ordered extent's completion.
 */
export function btrfs_reserve_extent(inode: Inode, lblk: number, len: number): { pblk: number; len: number } | null {
  const sb = inode.sb;
  const got = sb.allocRun({ goal: allocHint(inode, lblk), len, align: 1, minLen: 1 });
  if (got === null) return null;
  btrfs_sb(sb).extents.set(got.pblk, got.pblk + got.len, got.pblk);
  if (sb.k.recording) sb.k.emit({ t: 'alloc', ino: inode.ino, lblk, pblk: got.pblk, len: got.len, unwritten: false });
  return got;
}

/** Give back blocks an ordered extent reserved and never inserted (a failed or cancelled write). */
function btrfs_free_reserved_extent(inode: Inode, pblk: number, n: number): void {
  inode.sb.alloc.release(pblk, n);
  btrfs_sb(inode.sb).extents.remove(pblk, pblk + n);
  for (let b = pblk; b < pblk + n; b++) BTRFS_I(inode).pendingCsums.delete(b);
}

/**
 * btrfs_drop_extents: the file's extents over [first, last) go, in one
 * logged change: each block loses this reference (freed, busy until the
 * commit, unless shared), with its checksums and extent boundaries.
 * Returns the blocks dropped from the file.
 */
export function btrfs_drop_extents(inode: Inode, first: number, last: number): number {
  const sb = inode.sb;
  const info = btrfs_sb(sb);
  const ino = inode.ino;
  let dropped = 0;
  for (const e of inode.extents.overlapping(first, last)) {
    if (e.v.pblk < 0) continue;
    const a = Math.max(e.start, first);
    const b = Math.min(e.end, last);
    const p = e.v.pblk + (a - e.start);
    const freed = sb.dropOwner(inode, p, b - a);
    for (const [x, y] of freed) {
      info.extents.remove(x, y);
      for (let q = x; q < y; q++) info.csums.delete(q);
    }
    dropped += b - a;
    sb.log(inode, (img) => {
      const disk = btrfs_disk(img);
      img.inode(ino).extents.remove(a, b);
      refcountDecrease(img.refcount, p, b - a);
      for (const [x, y] of freed) {
        img.free.set(x, y, true);
        disk.extents.remove(x, y);
        for (let q = x; q < y; q++) disk.csums.delete(q);
      }
    });
  }
  inode.extents.remove(first, last);
  return dropped;
}

/** Drop the inline extent (its bytes go with the item). */
export function btrfs_drop_inline(inode: Inode): void {
  const bi = BTRFS_I(inode);
  if (bi.inline === null) return;
  bi.inline = null;
  const ino = inode.ino;
  inode.sb.log(inode, (img) => btrfs_disk(img).inline.delete(ino));
}

/** Clear the io tree's delalloc over [first, last), giving back its reservation. */
export function btrfs_clear_delalloc(inode: Inode, first: number, last: number): void {
  const bi = BTRFS_I(inode);
  for (const e of bi.delalloc.overlapping(first, last)) inode.sb.unreserveDelalloc(inode, Math.min(e.end, last) - Math.max(e.start, first));
  bi.delalloc.remove(first, last);
}

/** btrfs_set_extent_delalloc over [first, last): reserve data space for the blocks not dirty yet. */
function btrfs_set_extent_delalloc(inode: Inode, first: number, last: number): number {
  const bi = BTRFS_I(inode);
  let add = last - first;
  for (const e of bi.delalloc.overlapping(first, last)) add -= Math.min(e.end, last) - Math.max(e.start, first);
  if (add > 0) {
    if (!inode.sb.alloc.reserve(add)) return -ENOSPC;
    inode.delayed += add;
  }
  bi.delalloc.set(first, last, { type: 'delalloc', pblk: -1 });
  return 0;
}

// ---------------------------------------------------------------------------
// buffered writes

/**
 * The mapping of a buffered write (and of a write fault) at [pos,
 * pos+length): the blocks become delalloc (btrfs_dirty_folio), and the
 * write's destination is chosen at writeback — out of place for a COW
 * inode, or for any shared or checksummed block, so the mapping is a COW
 * mapping (IOMAP_F_SHARED) whose source map is the old extent, read for the
 * partial blocks (prepare_uptodate_folio); in place (a NODATACOW or
 * PREALLOC extent) otherwise.  An inline extent is read into the folio
 * first.  Variant cow-type-overwritten (seed 002, patch 05): the COW
 * mapping comes back as plain delalloc without its source map.
 */
export function btrfs_buffered_write_iomap_ops(inode: Inode): IomapOps {
  return {
    name: 'btrfs_buffered_write_iomap_ops',
    begin(pos, length): IomapPair | number {
      const bs = inode.blockSize;
      const bi = BTRFS_I(inode);
      const lblk = Math.floor(pos / bs);
      let end = Math.ceil((pos + length) / bs);
      // lock_and_cleanup_extent_if_need (btrfs_page_mkwrite alike): "we can't set the delalloc bits if there are
      // pending ordered extents" — a write below EOF reaching one starts it and waits for its completion
      // (btrfs_start_ordered_extent: its dirty folios are written first), then maps again; it stops before the next one.
      if (lblk * bs < inode.i_size) {
        btrfs_start_ordered_extent(inode, lblk);
        for (const nx of [bi.ordered.next(lblk), bi.nocowOrdered.next(lblk)]) if (nx !== undefined && nx.start > lblk) end = Math.min(end, nx.start);
      }
      if (lblk === 0 && bi.inline !== null) {
        // prepare_uptodate_folio -> btrfs_read_folio: the inline bytes come into the folio.
        const f = inode.mapping.getOrCreate(0);
        if (!f.uptodate) {
          const r = inode.mapping.a_ops.read_folio(inode.mapping, f);
          if (r < 0) return r;
        }
        end = 1;
      }
      const look = btrfs_get_extent(inode, lblk, end);
      end = look.end;
      const dl = bi.delalloc.find(lblk);
      if (dl !== undefined) end = Math.min(end, dl.end);
      else {
        const nx = bi.delalloc.next(lblk);
        if (nx !== undefined) end = Math.min(end, nx.start);
      }
      let cow = false;
      if (look.e !== undefined && look.e.pblk >= 0) {
        const s = sharedRun(inode, lblk, look.e.pblk, end - lblk);
        end = lblk + s.n;
        // run_delalloc_nocow writes in place only NODATACOW extents and PREALLOC ones, never shared ones.
        const inPlace = !s.shared && ((look.e.type === 'mapped' && btrfs_is_nodatacow(inode)) || (look.e.type === 'unwritten' && btrfs_should_nocow(inode)));
        cow = look.e.type === 'mapped' && !inPlace;
      }
      const fresh = dl === undefined;
      const r = btrfs_set_extent_delalloc(inode, lblk, end);
      if (r < 0) return r;
      const m: Iomap = { addr: IOMAP_NULL_ADDR, offset: lblk * bs, length: (end - lblk) * bs, type: 'delalloc', flags: fresh ? IOMAP_F_NEW : 0 };
      if (look.e === undefined || look.e.pblk < 0) return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
      const src: Iomap = { addr: look.e.pblk * bs, offset: lblk * bs, length: (end - lblk) * bs, type: look.e.type, flags: 0 };
      if (cow && inode.sb.k.v.on('cow-type-overwritten')) return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
      if (cow) m.flags |= IOMAP_F_SHARED;
      return { iomap: m, srcmap: src };
    },
    // btrfs_buffered_write after a short copy or a failure (a block that could not be read in, say):
    // the blocks nothing was copied to lose the delalloc range and its reservation this mapping set
    // up (btrfs_delalloc_release_space); blocks that were delalloc before keep theirs.
    end(pos, length, written, _flags, m): number {
      if (written >= length || (m.flags & IOMAP_F_NEW) === 0) return 0;
      const bs = inode.blockSize;
      // The blocks copied to: from pos's block to the one holding the last byte written.
      const from = Math.max(m.offset / bs, written > 0 ? Math.ceil((pos + written) / bs) : Math.floor(pos / bs));
      const to = (m.offset + m.length) / bs;
      if (from >= to) return 0;
      BTRFS_I(inode).delalloc.remove(from, to);
      inode.sb.alloc.unreserve(to - from);
      inode.delayed = Math.max(0, inode.delayed - (to - from));
      return 0;
    },
  };
}

/** btrfs_page_mkwrite: a store through a shared mapping reserves and dirties the folio's blocks up to EOF. */
export function btrfs_page_mkwrite(inode: Inode, folio: Folio, pos: number): number {
  return iomap_page_mkwrite(inode.sb.k, inode, folio, btrfs_buffered_write_iomap_ops(inode), pos);
}

// ---------------------------------------------------------------------------
// writeback: btrfs_run_delalloc_range

/** can_cow_file_range_inline: the file is one small block at offset 0, written out whole. */
function can_cow_file_range_inline(inode: Inode, lblk: number): boolean {
  const size = inode.i_size;
  return lblk === 0 && size > 0 && size < inode.blockSize && size <= btrfs_sb(inode.sb).maxInline && !btrfs_should_nocow(inode);
}

/**
 * The writeback mapping of the dirty blocks at [pos, pos+len) (one folio's
 * run): btrfs_run_delalloc_range.  An inline extent when the whole file
 * fits (cow_file_range_inline: no data I/O, reported as a hole here so
 * nothing is written); in place for NODATACOW and PREALLOC extents nobody
 * else references (run_delalloc_nocow); else a new extent, an ordered
 * extent that the completion inserts (cow_file_range).  Checksums of the
 * blocks are computed now, from the folio (the bio's bytes: checksummed
 * files have stable pages).
 */
export function btrfs_writepages_map(inode: Inode, pos: number, len: number): Iomap | number {
  const bs = inode.blockSize;
  const bi = BTRFS_I(inode);
  const sb = inode.sb;
  const lblk = Math.floor(pos / bs);
  const runEnd = Math.max(lblk + 1, Math.ceil((pos + len) / bs));
  // A block an earlier folio's run already gave an ordered extent (the whole delalloc range got one): written there.
  const oe = bi.ordered.find(lblk);
  if (oe !== undefined) {
    const n = Math.min(oe.end, runEnd) - lblk;
    const p = oe.v.pblk + (lblk - oe.start);
    btrfsCsumBlocks(inode, lblk, n, p);
    return { addr: p * bs, offset: lblk * bs, length: n * bs, type: 'mapped', flags: 0 };
  }
  let want = runEnd;
  // A dirty block without delalloc (a folio dirtied without ->page_mkwrite) is made delalloc now (btrfs_writepage_cow_fixup).
  const dl = bi.delalloc.find(lblk);
  if (dl === undefined) {
    const nx = bi.delalloc.next(lblk);
    const end = nx === undefined ? want : Math.min(want, nx.start);
    const r = btrfs_set_extent_delalloc(inode, lblk, end);
    if (r < 0) return r;
    want = end;
  } else {
    // run_delalloc_range works on the whole delalloc range from here.
    want = dl.end;
  }
  if (can_cow_file_range_inline(inode, lblk)) {
    // __cow_file_range_inline: the bytes go into an inline item; no data I/O.
    const folio = inode.mapping.folioAt(0)!;
    const data = folioBytes(folio, 0, inode.i_size);
    btrfs_drop_extents(inode, 0, 1);
    btrfs_clear_delalloc(inode, 0, 1);
    bi.inline = data;
    const ino = inode.ino;
    sb.log(inode, (img) => btrfs_disk(img).inline.set(ino, data));
    if (inode.i_size > inode.disksize) sb.setDisksize(inode, inode.i_size);
    return iomapHole(0, bs);
  }
  if (btrfs_should_nocow(inode)) {
    // run_delalloc_nocow: extent by extent; a piece that can be written in place is.
    const first = nocowPiece(inode, lblk, want);
    if (first.inPlace) {
      // nocow_one_range: written where it is (PREALLOC or NOCOW ordered extent).
      const n = Math.min(first.end, runEnd) - lblk;
      btrfs_clear_delalloc(inode, lblk, lblk + n);
      bi.nocowOrdered.set(lblk, lblk + n, { type: first.type, pblk: first.pblk });
      btrfsCsumBlocks(inode, lblk, n, first.pblk);
      return { addr: first.pblk * bs, offset: lblk * bs, length: n * bs, type: first.type, flags: 0 };
    }
    // fallback_to_cow: one COW range over the pieces up to the next that can be written in place.
    let end = first.end;
    while (end < want) {
      const p = nocowPiece(inode, end, want);
      if (p.inPlace) break;
      end = p.end;
    }
    want = end;
  }
  // cow_file_range: a new extent over the whole delalloc range, whatever was under it (no inline here for files written in place).
  const got = btrfs_reserve_extent(inode, lblk, want - lblk);
  if (got === null) return -ENOSPC;
  bi.ordered.set(lblk, lblk + got.len, { type: 'mapped', pblk: got.pblk });
  btrfs_clear_delalloc(inode, lblk, lblk + got.len);
  const n = Math.min(got.len, runEnd - lblk);
  btrfsCsumBlocks(inode, lblk, n, got.pblk);
  return { addr: got.pblk * bs, offset: lblk * bs, length: n * bs, type: 'mapped', flags: 0 };
}

/** btrfs_csum_one_bio for writeback: the checksum of each block is over the folio's bytes now. */
function btrfsCsumBlocks(inode: Inode, lblk: number, n: number, pblk: number): void {
  if (!btrfs_has_csums(inode)) return;
  const bs = inode.blockSize;
  const bi = BTRFS_I(inode);
  for (let i = 0; i < n; i++) {
    const f = inode.mapping.folioAt((lblk + i) * bs);
    if (f !== undefined) bi.pendingCsums.set(pblk + i, folioBytes(f, (lblk + i) * bs, bs));
  }
}

/** Record checksums computed over bytes a bio sent (direct writes): one per block. */
export function btrfs_csum_bio_blocks(inode: Inode, pblk: number, data: readonly Span[]): void {
  if (!btrfs_has_csums(inode)) return;
  const bs = inode.blockSize;
  const bi = BTRFS_I(inode);
  const len = dataLen(data);
  for (let b = pblk, off = 0; off < len; b++, off += bs) bi.pendingCsums.set(b, sliceData(data, off, bs));
}

// ---------------------------------------------------------------------------
// ordered extent completion

/**
 * btrfs_finish_one_ordered for the written file blocks [first, last): each
 * REGULAR ordered extent replaces the file's extents there (the old blocks
 * lose this reference, the new ones are inserted with their checksums, in
 * one logged change); a PREALLOC one turns its extent into a regular one;
 * a NOCOW one changes nothing but the size.  Then the on-disk size moves
 * (btrfs_inode_safe_disk_i_size_write).
 */
export function btrfs_finish_ordered(inode: Inode, first: number, last: number): void {
  const bi = BTRFS_I(inode);
  for (const o of bi.ordered.overlapping(first, last)) {
    const a = Math.max(o.start, first);
    const b = Math.min(o.end, last);
    insertOrdered(inode, a, b - a, o.v.pblk + (a - o.start));
  }
  // PREALLOC written in place: btrfs_mark_extent_written.
  inode.sb.convertUnwritten(inode, first, last - first);
  for (const e of inode.extents.overlapping(first, last)) {
    if (e.v.pblk < 0) continue;
    addPendingCsums(inode, Math.max(e.start, first), Math.min(e.end, last), e);
  }
  // The inode item is updated (a NOCOW write moves nothing else).
  inode.sb.log(inode, () => {});
  btrfs_inode_safe_disk_i_size_write(inode);
}

/** add_pending_csums for written blocks that stayed where they were (PREALLOC written in place). */
function addPendingCsums(inode: Inode, a: number, b: number, e: { start: number; v: Extent }): void {
  const bi = BTRFS_I(inode);
  const info = btrfs_sb(inode.sb);
  const moved: Array<[number, Span[]]> = [];
  for (let l = a; l < b; l++) {
    const p = e.v.pblk + (l - e.start);
    const c = bi.pendingCsums.get(p);
    if (c === undefined) continue;
    bi.pendingCsums.delete(p);
    info.csums.set(p, c);
    moved.push([p, c]);
  }
  if (moved.length > 0) inode.sb.log(inode, (img) => {
    const disk = btrfs_disk(img);
    for (const [p, c] of moved) disk.csums.set(p, c);
  });
}

/** insert_reserved_file_extent: file blocks [lblk, lblk+n) now live at pblk.. (one transaction). */
function insertOrdered(inode: Inode, lblk: number, n: number, pblk: number): void {
  const sb = inode.sb;
  const bi = BTRFS_I(inode);
  const info = btrfs_sb(sb);
  const ino = inode.ino;
  btrfs_drop_extents(inode, lblk, lblk + n);
  if (lblk === 0) btrfs_drop_inline(inode);
  inode.extents.set(lblk, lblk + n, { type: 'mapped', pblk });
  bi.ordered.remove(lblk, lblk + n);
  const csums: Array<[number, Span[]]> = [];
  for (let p = pblk; p < pblk + n; p++) {
    const c = bi.pendingCsums.get(p);
    if (c === undefined) continue;
    bi.pendingCsums.delete(p);
    info.csums.set(p, c);
    csums.push([p, c]);
  }
  sb.log(inode, (img) => {
    const disk = btrfs_disk(img);
    img.free.remove(pblk, pblk + n);
    img.inode(ino).extents.set(lblk, lblk + n, { type: 'mapped', pblk });
    disk.extents.set(pblk, pblk + n, info.extents.find(pblk)?.v ?? pblk);
    for (const [p, c] of csums) disk.csums.set(p, c);
  });
}

/**
 * The ordered extents of [first, last) failed, or were never submitted: their
 * blocks go back, the file keeps its old extents (reads see the old data).
 */
export function btrfs_cancel_ordered(inode: Inode, first: number, last: number): void {
  const bi = BTRFS_I(inode);
  for (const o of bi.ordered.overlapping(first, last)) {
    const a = Math.max(o.start, first);
    const b = Math.min(o.end, last);
    btrfs_free_reserved_extent(inode, o.v.pblk + (a - o.start), b - a);
  }
  bi.ordered.remove(first, last);
  for (const l of bi.orderedIoerr) if (l >= first && l < last) bi.orderedIoerr.delete(l);
}

/**
 * btrfs_inode_safe_disk_i_size_write: with NO_HOLES (mkfs.btrfs's default
 * since btrfs-progs 5.15) the on-disk size simply becomes i_size: a file
 * may have holes without hole items, so data still delalloc or in flight
 * below i_size reads as zeroes after a crash; only without NO_HOLES does
 * the file extent tree hold it back to the extents contiguous from 0.
 */
export function btrfs_inode_safe_disk_i_size_write(inode: Inode): void {
  if (inode.i_size !== inode.disksize) inode.sb.setDisksize(inode, inode.i_size);
}

/** The writeback completion (end_bbio_data_write -> btrfs_finish_ordered_io). */
export function btrfs_end_ioend(inode: Inode, io: Ioend): number {
  const bs = inode.blockSize;
  const first = Math.floor(io.offset / bs);
  const last = Math.ceil((io.offset + io.size) / bs);
  const bi = BTRFS_I(inode);
  // btrfs_finish_one_ordered: a NOCOW or PREALLOC ordered extent completes with its bios, failed or not.
  bi.nocowOrdered.remove(first, last);
  if (io.error !== 0) {
    // btrfs_mark_ordered_extent_error: the whole ordered extent is BTRFS_ORDERED_IOERR, and
    // btrfs_finish_one_ordered inserts none of it, the blocks other bios wrote included.
    for (const part of bi.ordered.overlapping(first, last)) {
      const o = bi.ordered.find(part.start);
      if (o !== undefined) for (let l = o.start; l < o.end; l++) bi.orderedIoerr.add(l);
    }
    btrfs_cancel_ordered(inode, first, last);
    return io.error;
  }
  // Blocks of an ordered extent that failed elsewhere are given back, not inserted (btrfs_finish_one_ordered).
  let a = first;
  while (a < last) {
    const failed = bi.orderedIoerr.has(a);
    let b = a + 1;
    while (b < last && bi.orderedIoerr.has(b) === failed) b++;
    if (failed) {
      btrfs_cancel_ordered(inode, a, b);
      inode.sb.k.lostWriteback(inode.ino, a * bs, (b - a) * bs);
    } else btrfs_finish_ordered(inode, a, b);
    a = b;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// truncate and size extension

/**
 * btrfs_truncate_block: zero [start, end) inside the block holding `from`
 * in the page cache (read first if needed) and make the block delalloc, so
 * that writeback rewrites it — a hole too: extending a file whose size is
 * not block-aligned always writes its old EOF block.  Nothing to do for an
 * aligned range.
 */
export function btrfs_truncate_block(inode: Inode, from: number, start: number, end: number): number {
  const bs = inode.blockSize;
  const lblk = Math.floor(from / bs);
  const bStart = lblk * bs;
  const a = Math.max(start, bStart);
  const b = Math.min(end, bStart + bs);
  if (b <= a || (a === bStart && b === bStart + bs)) return 0;
  const folio = inode.mapping.getOrCreate(bStart);
  if (!folio.uptodate && !blockUptodate(inode, folio, bStart)) {
    const r = inode.mapping.a_ops.read_folio(inode.mapping, folio);
    if (r < 0) return r;
  }
  if (folio.writeback) inode.mapping.host.waitWriteback(folio);
  // btrfs_truncate_block: an ordered extent at the block is started and waited for before the delalloc bit is set.
  btrfs_start_ordered_extent(inode, lblk);
  const r = btrfs_set_extent_delalloc(inode, lblk, lblk + 1);
  if (r < 0) return r;
  folioWrite(folio, a, zeroData(b - a));
  ifs_alloc(inode, folio);
  iomap_set_range_uptodate(inode, folio, bStart - folio.pos, bs);
  iomap_set_range_dirty(inode, folio, bStart - folio.pos, bs);
  filemap_dirty_folio(inode.mapping, folio);
  return 0;
}

function blockUptodate(inode: Inode, folio: Folio, pos: number): boolean {
  const ifs = folio.ifs;
  return ifs !== null && ifs.uptodate[Math.floor((pos - folio.pos) / inode.blockSize)] === 1;
}

/** btrfs_cont_expand: growing from `oldsize`, the old EOF block's tail is zeroed (holes need no items with NO_HOLES). */
export function btrfs_cont_expand(inode: Inode, oldsize: number): number {
  return btrfs_truncate_block(inode, oldsize, oldsize, roundUp(oldsize, inode.blockSize));
}

/**
 * btrfs_setsize (ATTR_SIZE): growing zeroes the old EOF block's tail and
 * logs the new size; shrinking drops the page cache and every extent past
 * the new EOF block (btrfs_truncate) and shortens an inline extent; the new
 * EOF block's tail is zeroed only in the page cache (observed on Linux 6.18:
 * the block is not rewritten).
 */
export function btrfs_setsize(file: File, newsize: number): number {
  const inode = file.inode;
  const sb = inode.sb;
  if (sb.shutdown) return -EIO;
  if (newsize > sb.s_maxbytes) return -EFBIG;
  const bs = inode.blockSize;
  const oldsize = inode.i_size;
  const bi = BTRFS_I(inode);
  if (newsize > oldsize) {
    const r = btrfs_cont_expand(inode, oldsize);
    if (r < 0) return r;
    inode.i_size = newsize;
    pagecache_isize_extended(inode.mapping, bs, oldsize, newsize);
    sb.setDisksize(inode, newsize);
    return 0;
  }
  if (newsize === 0) bi.flushOnClose = true;
  truncate_setsize(inode.mapping, bs, (v) => (inode.i_size = v), oldsize, newsize);
  // The folios past the new EOF block are gone, and their delalloc with them
  // (btrfs_invalidate_folio clears EXTENT_DELALLOC where no ordered extent is).
  const eof = Math.ceil(newsize / bs);
  btrfs_clear_delalloc(inode, eof, Number.MAX_SAFE_INTEGER);
  // btrfs_truncate: dirty data of the new EOF block is written out first.  If that
  // fails, the in-core size falls back to the on-disk one and the truncate fails.
  const werr = btrfs_wait_ordered_range(inode, roundDown(newsize, bs), Number.MAX_SAFE_INTEGER);
  if (werr < 0) {
    inode.i_size = inode.disksize;
    return werr;
  }
  btrfs_cancel_ordered(inode, eof, Number.MAX_SAFE_INTEGER);
  btrfs_drop_extents(inode, eof, Number.MAX_SAFE_INTEGER);
  if (bi.inline !== null && newsize < dataLen(bi.inline)) {
    const data = sliceData(bi.inline, 0, newsize);
    if (newsize === 0) btrfs_drop_inline(inode);
    else {
      bi.inline = data;
      const ino = inode.ino;
      sb.log(inode, (img) => btrfs_disk(img).inline.set(ino, data));
    }
  }
  // The new EOF block keeps its extent as it is, bytes past EOF included (btrfs_truncate_inode_items
  // trims the extent item; BTRFS_NEED_TRUNCATE_BLOCK is only for compressed extents): truncate_setsize
  // zeroed the tail in the page cache, and a later extension zeroes and rewrites it (btrfs_cont_expand).
  sb.setDisksize(inode, newsize);
  return 0;
}

// ---------------------------------------------------------------------------
// getattr

/**
 * btrfs_getattr: st_blocks = (ALIGN(inode bytes) + ALIGN(new delalloc
 * bytes)) >> 9 — the blocks the file's extents (and inline item) have, plus
 * dirty blocks over holes not yet written (EXTENT_DELALLOC_NEW, until the
 * ordered extent completes).  No DIO alignment, no atomic write limits.
 */
export function btrfs_getattr(inode: Inode): Kstat {
  const bs = inode.blockSize;
  const bi = BTRFS_I(inode);
  let bytes = inode.allocatedBlocks() * bs;
  if (bi.inline !== null) bytes += dataLen(bi.inline);
  // EXTENT_DELALLOC_NEW is a bit of the range: a block in both maps counts once.
  const pending = new Set<number>();
  for (const m of [bi.delalloc, bi.ordered]) {
    for (const e of m.entries()) {
      for (let l = e.start; l < e.end; l++) if (inode.extents.find(l) === undefined && !(l === 0 && bi.inline !== null)) pending.add(l);
    }
  }
  const fresh = pending.size;
  return { size: inode.i_size, blocks: (roundUp(bytes, bs) + fresh * bs) / 512, blksize: bs, result_mask: STATX_BASIC_STATS };
}

/** Reference a disk block range from another file (clone): one more owner, logged with the extent. */
export function btrfs_clone_extent(inode: Inode, lblk: number, n: number, e: Extent): void {
  const sb = inode.sb;
  const ino = inode.ino;
  btrfs_disk(sb.image).reflinked = true;
  refcountIncrease(sb.refcount, e.pblk, n);
  inode.extents.set(lblk, lblk + n, e);
  sb.log(inode, (img) => {
    refcountIncrease(img.refcount, e.pblk, n);
    img.inode(ino).extents.set(lblk, lblk + n, e);
  });
}

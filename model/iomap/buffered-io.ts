/**
 * fs/iomap/buffered-io.c: buffered reads and writes through the page cache,
 * zeroing, page_mkwrite, and writeback of dirty folios into ioends
 * (fs/iomap/ioend.c: model/iomap/ioend.ts).  The RFC's RWF_WRITETHROUGH is
 * in model/iomap/writethrough.ts.
 *
 * ext4 still uses its own buffer_head paths for buffered I/O
 * (ext4_da_write_begin, ext4_writepages); their observable rules — which
 * partial blocks are read and which zeroed, per-block dirty state, delayed
 * allocation, unwritten extents converted at I/O completion with the default
 * dioread_nolock — are the same, so both personalities use this engine with
 * their own mapping functions.
 */
import { fscrypt_fs_scheme, fscrypt_mergeable_bio, fscrypt_set_bio_crypt_ctx } from '../crypto/inline_crypt.ts';
import type { Span } from '../lib/content.ts';
import { splitData, zeroData } from '../lib/content.ts';
import { EIO, EAGAIN } from '../lib/errno.ts';
import { Bio, REQ_SYNC } from '../block/bio.ts';
import { BIO_MAX_VECS, PAGE_SIZE } from '../block/blk-settings.ts';
import type { Kernel } from '../kernel.ts';
import type { Folio, IomapFolioState } from '../mm/folio.ts';
import type { AddressSpace, WritebackControl } from '../mm/filemap.ts';
import { filemap_write_and_wait_range, folioWrite, mapping_set_error, MAX_FOLIO_SIZE } from '../mm/filemap.ts';
import { filemap_dirty_folio, folio_end_writeback, folio_start_writeback, writeback_iter } from '../mm/page-writeback.ts';
import { pagecache_isize_extended } from '../mm/truncate.ts';
import type { Inode } from '../fs/inode.ts';
import { IovIter } from '../vfs/uio.ts';
import { IOCB_DONTCACHE, IOCB_NOWAIT } from '../vfs/fcntl.ts';
import type { Iomap, IomapOps, IomapPair } from './iomap.ts';
import {
  IOMAP_F_NEW,
  IOMAP_NOWAIT,
  IOMAP_DONTCACHE,
  IOMAP_UNSHARE,
  IOMAP_WRITE,
  IOMAP_ZERO,
  IOMAP_F_SHARED,
  IOMAP_F_STALE,
  iomapAddr,
  iomap_iter_srcmap,
  iomapHole,
} from './iomap.ts';
import type { IomapIter } from './iter.ts';
import { iomap_iterate, iomap_length } from './iter.ts';
import type { WritebackOps, WritepageCtx } from './ioend.ts';
import { addToIoend, ioendSubmit } from './ioend.ts';
import { EFAULT } from '../lib/errno.ts';
import { IOMAP_FAULT } from './iomap.ts';
import { roundDown } from '../lib/math.ts';

// ---------------------------------------------------------------------------
// iomap_folio_state

function nblocks(inode: Inode, folio: Folio): number {
  return folio.size / inode.blockSize;
}

/** ifs_alloc: attach per-block state to a multi-block folio. */
export function ifs_alloc(inode: Inode, folio: Folio): IomapFolioState | null {
  const n = nblocks(inode, folio);
  if (folio.ifs !== null || n <= 1) return folio.ifs;
  const ifs: IomapFolioState = {
    uptodate: new Uint8Array(n).fill(folio.uptodate ? 1 : 0),
    dirty: new Uint8Array(n).fill(folio.dirty ? 1 : 0),
    readBytesPending: 0,
    writeBytesPending: 0,
  };
  folio.setIfs(ifs);
  return ifs;
}

function blockRange(inode: Inode, off: number, len: number): [number, number] {
  const bs = inode.blockSize;
  return [Math.floor(off / bs), Math.floor((off + len - 1) / bs)];
}

/** iomap_set_range_uptodate: mark blocks touched by [off, off+len) uptodate; the folio when all are. */
export function iomap_set_range_uptodate(inode: Inode, folio: Folio, off: number, len: number): void {
  if (folio.uptodate || len <= 0) return;
  const ifs = folio.ifs;
  if (ifs === null) {
    folio.setUptodate(true);
    return;
  }
  const [first, last] = blockRange(inode, off, len);
  for (let i = first; i <= last; i++) ifs.uptodate[i] = 1;
  folio.changed();
  if (ifs.uptodate.every((b) => b === 1)) folio.setUptodate(true);
}

/** iomap_is_partially_uptodate: every block the range touches is uptodate. */
export function iomap_is_partially_uptodate(inode: Inode, folio: Folio, from: number, count: number): boolean {
  const ifs = folio.ifs;
  if (ifs === null || count <= 0) return false;
  const [first, last] = blockRange(inode, from, Math.min(count, folio.size - from));
  for (let i = first; i <= last; i++) if (ifs.uptodate[i] !== 1) return false;
  return true;
}

/**
 * fs/buffer.c: block_is_partially_uptodate — as iomap's, except that a
 * range touching both the first and the last block is never "partial".
 */
export function block_is_partially_uptodate(inode: Inode, folio: Folio, from: number, count: number): boolean {
  const bs = inode.blockSize;
  const to = from + Math.min(folio.size - from, count);
  if (from < bs && to > folio.size - bs) return false;
  return iomap_is_partially_uptodate(inode, folio, from, to - from);
}

/** iomap_set_range_dirty */
export function iomap_set_range_dirty(inode: Inode, folio: Folio, off: number, len: number): void {
  const ifs = folio.ifs;
  if (ifs === null || len <= 0) return;
  const [first, last] = blockRange(inode, off, len);
  for (let i = first; i <= last; i++) ifs.dirty[i] = 1;
  folio.changed();
}

/** iomap_clear_range_dirty */
export function iomap_clear_range_dirty(inode: Inode, folio: Folio, off: number, len: number): void {
  const ifs = folio.ifs;
  if (ifs === null || len <= 0) return;
  const [first, last] = blockRange(inode, off, len);
  for (let i = first; i <= last; i++) ifs.dirty[i] = 0;
  folio.changed();
}

function blockUptodate(folio: Folio, i: number): boolean {
  return folio.uptodate || (folio.ifs !== null && folio.ifs.uptodate[i] === 1);
}

/** iomap_dirty_folio (->dirty_folio): whole folio dirty, e.g. from a store through mmap. */
export function iomap_dirty_folio(inode: Inode, folio: Folio): void {
  ifs_alloc(inode, folio);
  iomap_set_range_dirty(inode, folio, 0, folio.size);
  filemap_dirty_folio(inode.mapping, folio);
}

/** iomap_release_folio: a dirty folio cannot be released. */
export function iomap_release_folio(folio: Folio): boolean {
  if (folio.dirty) return false;
  folio.setIfs(null);
  return true;
}

/** iomap_invalidate_folio: invalidating the whole folio cancels its dirty state. */
export function iomap_invalidate_folio(folio: Folio, offset: number, len: number): void {
  if (offset === 0 && len === folio.size) {
    folio.setDirty(false);
    folio.setIfs(null);
  }
}

/**
 * block_invalidate_folio (ext4's buffer heads): the buffers wholly inside
 * the range are discarded (discard_buffer: no longer dirty), so writeback
 * will not write them; the folio stays dirty only for the dirty buffers
 * left.  (iomap keeps a partly invalidated folio's dirty bits.)
 */
export function block_invalidate_folio(inode: Inode, folio: Folio, offset: number, len: number): void {
  if (offset === 0 && len === folio.size) {
    iomap_invalidate_folio(folio, offset, len);
    return;
  }
  // The folio's buffer heads: per-block state even where the folio was dirtied whole.
  const ifs = ifs_alloc(inode, folio);
  if (ifs === null) return;
  const bs = inode.blockSize;
  for (let b = Math.ceil(offset / bs); (b + 1) * bs <= offset + len; b++) ifs.dirty[b] = 0;
  folio.changed();
  if (!ifs.dirty.some((d) => d === 1)) folio.setDirty(false);
}

// ---------------------------------------------------------------------------
// reading

/** Read device bytes synchronously (a read bio, submitted and waited for). */
export function readDevice(k: Kernel, inode: Inode, pos: number, addr: number, len: number): Span[] | number {
  const c = fscrypt_set_bio_crypt_ctx(inode, pos);
  if (c !== null) {
    // ext4_mpage_readpages: a new bio where the DUN does not continue (the IV_INO_LBLK_32 wrap).
    const bs = inode.blockSize;
    for (let off = bs; off < len; off += bs) {
      if (fscrypt_mergeable_bio(c, off, inode, pos + off)) continue;
      const a = readDevice(k, inode, pos, addr, off);
      if (typeof a === 'number') return a;
      const b = readDevice(k, inode, pos + off, addr + off, len - off);
      return typeof b === 'number' ? b : [...a, ...b];
    }
  }
  const req = k.newReq();
  const bio = new Bio('read', REQ_SYNC, addr / 512, { kind: 'read', ino: inode.ino, pos, step: k.step });
  bio.req = req;
  // An encrypted file: the inline engine decrypts (crypt context), or the file system after the read.
  bio.crypt = fscrypt_set_bio_crypt_ctx(inode, pos);
  if (inode.crypt !== null && bio.crypt === null) bio.fsCrypto = fscrypt_fs_scheme(inode, pos);
  // Page cache memory is page aligned.
  let off = 0;
  while (off < len) {
    const n = Math.min(PAGE_SIZE, len - off);
    bio.addVec(off, n, null);
    off += n;
  }
  const parts: Array<[number, Span[]]> = [];
  // Callbacks go through a local: see GC_PRETENURED_CLOSURES in scripts/v8-flags.mjs.
  const sink: NonNullable<Bio['sink']> = (rel, data) => parts.push([rel, data]);
  bio.sink = sink;
  let done = false;
  const endio: NonNullable<Bio['endio']> = () => {
    done = true;
  };
  bio.endio = endio;
  k.submit_bio(bio);
  k.wait_req(req);
  if (!done || bio.status !== 0) return bio.status !== 0 ? bio.status : -EIO;
  parts.sort((a, b) => a[0] - b[0]);
  const out: Span[] = [];
  for (const [, d] of parts) for (const s of d) out.push(s);
  return out;
}

/** iomap_block_needs_zeroing */
export function iomap_block_needs_zeroing(inode: Inode, pair: IomapPair, pos: number): boolean {
  const srcmap = iomap_iter_srcmap(pair);
  return srcmap.type !== 'mapped' || (srcmap.flags & IOMAP_F_NEW) !== 0 || pos >= inode.i_size;
}

/**
 * iomap_read_folio / iomap_readpage_iter: bring the non-uptodate blocks of a
 * folio uptodate: zero what needs zeroing (holes, unwritten, beyond EOF),
 * read the rest from the device.
 */
export function iomap_read_folio(k: Kernel, inode: Inode, folio: Folio, map: (pos: number, len: number) => Iomap | number, noio = false): number {
  if (folio.uptodate) return 0;
  // Every block already uptodate (block_read_full_folio, iomap_read_end): no I/O, the folio is marked uptodate.
  if (folio.ifs !== null && folio.ifs.uptodate.every((b) => b === 1)) {
    folio.setUptodate(true);
    return 0;
  }
  if (noio) {
    // Readahead under IOCB_NOWAIT: would this folio need a device read?
    const bs = inode.blockSize;
    for (let pos = folio.pos; pos < folio.end; pos += bs) {
      if (blockUptodate(folio, (pos - folio.pos) / bs)) continue;
      const m = map(pos, bs);
      if (typeof m === 'number') return m;
      if (!iomap_block_needs_zeroing(inode, readPair(m), pos)) return -EAGAIN;
    }
  }
  const ctx: ReadCtx = { k, inode, map, m: null, pair: null, bio: null, err: 0 };
  const err = iomap_readpage_iter(ctx, folio, folio.end);
  iomap_submit_read(ctx);
  return err < 0 ? err : ctx.err;
}

/** A read's iomap pair: a read has no source map (iomap_iter leaves srcmap a hole). */
function readPair(m: Iomap): IomapPair {
  return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
}

/** The read in progress of iomap_read_folio / iomap_readahead (struct iomap_readpage_ctx). */
interface ReadCtx {
  readonly k: Kernel;
  readonly inode: Inode;
  readonly map: (pos: number, len: number) => Iomap | number;
  /** The last mapping (iomap_iter's current iomap): reused while it covers the position. */
  m: Iomap | null;
  /** `m` with no source map (a read has none: srcmap type hole). */
  pair: IomapPair | null;
  /** The bio being built: a file- and device-contiguous run, in folio pieces. */
  bio: { pos: number; addr: number; len: number; pieces: Array<[Folio, number, number]> } | null;
  /** The first failed bio's status. */
  err: number;
}

/**
 * iomap_readpage_iter: the folio's blocks that are not uptodate, up to
 * `rangeEnd` for the mapping request — zeroed where nothing is to be read
 * (iomap_block_needs_zeroing), otherwise added to the bio being built when
 * their sectors follow its end, else to a new one (the previous submitted).
 */
function iomap_readpage_iter(ctx: ReadCtx, folio: Folio, rangeEnd: number): number {
  const { inode } = ctx;
  const bs = inode.blockSize;
  let pos = folio.pos;
  while (pos < folio.end) {
    if (blockUptodate(folio, (pos - folio.pos) / bs)) {
      pos += bs;
      continue;
    }
    let m = ctx.m;
    let pair = ctx.pair;
    if (m === null || pair === null || pos < m.offset || pos >= m.offset + m.length) {
      const r = ctx.map(pos, rangeEnd - pos);
      if (typeof r === 'number') return r;
      m = ctx.m = r;
      pair = ctx.pair = readPair(r);
    }
    const mEnd = Math.min(m.offset + m.length, folio.end);
    // Process a run of non-uptodate blocks within this mapping.
    let end = pos;
    while (end < mEnd && !blockUptodate(folio, (end - folio.pos) / bs)) end += bs;
    // Blocks at or beyond EOF are zeroed; the rest read when mapped.
    let p = pos;
    while (p < end) {
      let q = p;
      const zero = iomap_block_needs_zeroing(inode, pair, p);
      while (q < end && iomap_block_needs_zeroing(inode, pair, q) === zero) q += bs;
      if (zero) {
        folioWrite(folio, p, zeroData(q - p));
        ifs_alloc(inode, folio);
        iomap_set_range_uptodate(inode, folio, p - folio.pos, q - p);
      } else {
        const addr = iomapAddr(m, p);
        const b = ctx.bio;
        if (b !== null && b.pos + b.len === p && b.addr + b.len === addr && b.len + (q - p) <= BIO_MAX_VECS * PAGE_SIZE) {
          const last = b.pieces[b.pieces.length - 1]!;
          if (last[0] === folio && last[1] + last[2] === p) last[2] += q - p;
          else b.pieces.push([folio, p, q - p]);
          b.len += q - p;
        } else {
          iomap_submit_read(ctx);
          ctx.bio = { pos: p, addr, len: q - p, pieces: [[folio, p, q - p]] };
        }
      }
      p = q;
    }
    pos = end;
  }
  return 0;
}

/**
 * Submit the bio being built and wait for it (the model's reads complete
 * at once): its blocks become uptodate in their folios, or, if it failed,
 * stay as they were (iomap_finish_folio_read with an error).
 */
function iomap_submit_read(ctx: ReadCtx): void {
  const b = ctx.bio;
  if (b === null) return;
  ctx.bio = null;
  const d = readDevice(ctx.k, ctx.inode, b.pos, b.addr, b.len);
  if (typeof d === 'number') {
    if (ctx.err === 0) ctx.err = d;
    return;
  }
  const parts = b.pieces.length === 1 ? [d] : splitData(d, b.pieces.map((x) => x[2]));
  b.pieces.forEach(([folio, p, n], j) => {
    folioWrite(folio, p, parts[j]!);
    ifs_alloc(ctx.inode, folio);
    iomap_set_range_uptodate(ctx.inode, folio, p - folio.pos, n);
  });
}

/**
 * iomap_readahead: bring the new folios of a readahead window (in file
 * order) uptodate, one mapping request for the rest of the window and one
 * bio per device-contiguous run across folios, up to BIO_MAX_VECS pages.
 * A failed mapping ends the window (the folios left stay not uptodate, as
 * do those of a failed bio).
 */
export function iomap_readahead(k: Kernel, inode: Inode, folios: readonly Folio[], map: (pos: number, len: number) => Iomap | number): void {
  if (folios.length === 0) return;
  const ctx: ReadCtx = { k, inode, map, m: null, pair: null, bio: null, err: 0 };
  const end = folios[folios.length - 1]!.end;
  for (const folio of folios) {
    if (folio.uptodate) continue;
    if (iomap_readpage_iter(ctx, folio, end) < 0) break;
  }
  iomap_submit_read(ctx);
}

// ---------------------------------------------------------------------------
// writing

/**
 * iomap_adjust_read_range: skip leading uptodate blocks, stop at the first
 * trailing uptodate block, and never read blocks wholly beyond EOF.
 * Returns [poff, plen] within the folio.
 */
function iomap_adjust_read_range(inode: Inode, folio: Folio, pos: number, length: number): [number, number] {
  const bs = inode.blockSize;
  const isize = inode.i_size;
  const origPos = pos;
  let poff = pos - folio.pos;
  let plen = Math.min(folio.size - poff, length);
  const origPlen = plen;
  let first = Math.floor(poff / bs);
  let last = Math.floor((poff + plen - 1) / bs);
  if (folio.ifs !== null) {
    let i = first;
    for (; i <= last; i++) {
      if (folio.ifs.uptodate[i] !== 1) break;
      poff += bs;
      plen -= bs;
      first++;
    }
    for (; i <= last; i++) {
      if (folio.ifs.uptodate[i] === 1) {
        plen -= (last - i + 1) * bs;
        last = i - 1;
        break;
      }
    }
  }
  if (origPos <= isize && origPos + origPlen > isize) {
    const end = Math.floor((isize - 1 - folio.pos) / bs);
    if (first <= end && last > end) plen -= (last - end) * bs;
  }
  return [poff, plen];
}

/**
 * __iomap_write_begin: make the parts of the blocks around [pos, pos+len)
 * that the write does not cover valid: zero them when the source needs
 * zeroing, otherwise read them synchronously from the source map.
 */
function __iomap_write_begin(k: Kernel, inode: Inode, pair: IomapPair, flags: number, pos: number, len: number, folio: Folio): number {
  const bs = inode.blockSize;
  let blockStart = roundDown(pos, bs);
  const blockEnd = Math.ceil((pos + len) / bs) * bs;
  const from = pos - folio.pos;
  const to = from + len;
  const unshare = (flags & IOMAP_UNSHARE) !== 0;
  if (!unshare && pos <= folio.pos && pos + len >= folio.end) return 0;
  ifs_alloc(inode, folio);
  if (folio.uptodate) return 0;
  do {
    const [poff, plen] = iomap_adjust_read_range(inode, folio, blockStart, blockEnd - blockStart);
    if (plen <= 0) break;
    blockStart = folio.pos + poff;
    const covered = !unshare && (from <= poff || from >= poff + plen) && (to <= poff || to >= poff + plen);
    if (!covered) {
      // Variant srcmap-ignored-new-cow: for a fresh COW block the decision
      // looks at the destination (new, so "needs zeroing"), not the srcmap.
      const freshCow = (pair.iomap.flags & (IOMAP_F_SHARED | IOMAP_F_NEW)) === (IOMAP_F_SHARED | IOMAP_F_NEW);
      const zero = k.v.on('srcmap-ignored-new-cow') && freshCow
        ? iomap_block_needs_zeroing(inode, { iomap: pair.iomap, srcmap: iomapHole(pair.iomap.offset, pair.iomap.length) }, blockStart)
        : iomap_block_needs_zeroing(inode, pair, blockStart);
      if (zero) {
        if (unshare) return -EIO;
        // folio_zero_segments(folio, poff, from, to, poff + plen)
        if (from > poff) folioWrite(folio, folio.pos + poff, zeroData(from - poff));
        if (poff + plen > to) folioWrite(folio, folio.pos + Math.max(to, poff), zeroData(poff + plen - Math.max(to, poff)));
      } else {
        if ((flags & IOMAP_NOWAIT) !== 0) return -EAGAIN;
        const src = iomap_iter_srcmap(pair);
        const d = readDevice(k, inode, blockStart, iomapAddr(src, blockStart), plen);
        if (typeof d === 'number') return d;
        folioWrite(folio, blockStart, d);
      }
      iomap_set_range_uptodate(inode, folio, poff, plen);
    }
    blockStart += plen;
  } while (blockStart < blockEnd);
  return 0;
}

/** __iomap_write_end: mark the written range uptodate and dirty. */
function __iomap_write_end(inode: Inode, pos: number, len: number, copied: number, folio: Folio): void {
  iomap_set_range_uptodate(inode, folio, pos - folio.pos, len);
  if (!inode.sb.k.v.on('write-end-no-dirty-bits')) iomap_set_range_dirty(inode, folio, pos - folio.pos, copied);
  filemap_dirty_folio(inode.mapping, folio);
}

/** folio_wait_stable: with stable writes, wait for writeback before changing the folio. */
export function folio_wait_stable(mapping: AddressSpace, folio: Folio): void {
  if (mapping.stableWrites && folio.writeback) mapping.host.waitWriteback(folio);
}

/** iomap_write_iter: copy user data into folios over the current mapping. */
function iomap_write_iter(k: Kernel, inode: Inode, it: IomapIter, from: IovIter, ops: IomapOps): number {
  const len = iomap_length(it);
  const pair = it.pair;
  if (pair === null) return -EIO;
  let total = 0;
  const cookie = mappingCookie(inode);
  while (total < len) {
    const pos = it.pos + total;
    const want = ops.genericPerformWrite === true ? from.count : len - total;
    const c = iomap_copy_to_folio(k, inode, it, cookie, pos, want, from, (it.flags & IOMAP_DONTCACHE) !== 0);
    if (c === 'stale') return total;
    if (typeof c === 'number') return total > 0 ? total : c;
    const bytes = c.bytes;
    const oldSize = inode.i_size;
    if (pos + bytes > oldSize) {
      inode.i_size = pos + bytes;
      if (oldSize < pos) pagecache_isize_extended(inode.mapping, inode.blockSize, oldSize, pos);
    }
    total += bytes;
  }
  return total;
}

/**
 * What iomap_write_iter (and the RFC's iomap_writethrough_iter, a copy of
 * it) does for one folio: get it (chunks of at most the largest folio,
 * aligned to it), wait for stable pages, check that the mapping is still
 * valid (->iomap_valid: waiting for writeback may have completed I/O that
 * changed the extents, and a stale mapping is looked up again,
 * IOMAP_F_STALE), then write_begin, copy the user's bytes, write_end.
 */
export function iomap_copy_to_folio(k: Kernel, inode: Inode, it: IomapIter, cookie: number, pos: number, want: number, from: IovIter, dontcache: boolean): { folio: Folio; bytes: number } | 'stale' | number {
  const pair = it.pair!;
  const chunk = MAX_FOLIO_SIZE - (pos % MAX_FOLIO_SIZE);
  const folio = inode.mapping.getForWrite(pos, Math.min(chunk, want), dontcache);
  folio_wait_stable(inode.mapping, folio);
  if (mappingCookie(inode) !== cookie) {
    pair.iomap.flags |= IOMAP_F_STALE;
    return 'stale';
  }
  const bytes = Math.min(folio.end - pos, it.pos + iomap_length(it) - pos);
  const st = __iomap_write_begin(k, inode, pair, it.flags, pos, bytes, folio);
  if (st < 0) return st;
  folioWrite(folio, pos, from.copyFrom(bytes));
  __iomap_write_end(inode, pos, bytes, bytes, folio);
  return { folio, bytes };
}

/**
 * iomap_file_buffered_write: returns the bytes written if any progress was
 * made, else the error; iocb position advances by the bytes written.
 */
export function iomap_file_buffered_write(k: Kernel, inode: Inode, pos: number, from: IovIter, ops: IomapOps, ki_flags: number): number {
  const flags = (ki_flags & IOCB_NOWAIT ? IOMAP_NOWAIT : 0) | (ki_flags & IOCB_DONTCACHE ? IOMAP_DONTCACHE : 0);
  const r = iomap_iterate(inode.ino, pos, from.count, IOMAP_WRITE | flags, ops, (it) => iomap_write_iter(k, inode, it, from, ops), mappingObserver(k, inode));
  return r.done > 0 ? r.done : r.err;
}


/**
 * The validity cookie of a mapping (->iomap_valid, xfs_iomap_inode_sequence:
 * the data fork's sequence, and those of the file system's other forks).
 */
export function mappingCookie(inode: Inode): number {
  let c = inode.extents.seq * 65536;
  for (const f of inode.sb.ops.extra_forks?.(inode) ?? []) c += f.map.seq;
  return c;
}

/**
 * iomap_file_unshare: for every mapping that iomap_want_unshare_iter
 * accepts (a shared destination with a written source), bring each folio of
 * the range uptodate from the source and dirty it, so writeback copies it
 * out of place (iomap_unshare_iter).
 */
export function iomap_file_unshare(k: Kernel, inode: Inode, pos: number, len: number, ops: IomapOps): number {
  const r = iomap_iterate(inode.ino, pos, len, IOMAP_WRITE | IOMAP_UNSHARE, ops, (it) => {
    const n = iomap_length(it);
    const pair = it.pair;
    if (pair === null) return -EIO;
    if ((pair.iomap.flags & IOMAP_F_SHARED) === 0 || pair.srcmap.type !== 'mapped') return n;
    let done = 0;
    while (done < n) {
      const p = it.pos + done;
      const folio = inode.mapping.getForWrite(p, Math.min(MAX_FOLIO_SIZE - (p % MAX_FOLIO_SIZE), n - done), false);
      const bytes = Math.min(folio.end - p, n - done);
      const st = __iomap_write_begin(k, inode, pair, IOMAP_UNSHARE, p, bytes, folio);
      if (st < 0) return st;
      __iomap_write_end(inode, p, bytes, bytes, folio);
      done += bytes;
    }
    return n;
  }, mappingObserver(k, inode));
  // As iomap_zero_range: iomap_iter returns the error that ended the iteration.
  return r.err < 0 ? r.err : 0;
}

/** The iomap_iter mapping observer that feeds the `mapping` event. */
export function mappingObserver(k: Kernel, inode: Inode) {
  if (!k.recording) return null;
  return (ops: string, pos: number, len: number, flags: number, pair: IomapPair) => {
    const bs = inode.blockSize;
    const lblk = Math.floor(pos / bs);
    const at = inode.extents.find(lblk);
    const pblk = at !== undefined && at.v.type === 'mapped' ? at.v.pblk + (lblk - at.start) : -1;
    const data = pblk < 0 ? null : { addr: pblk * bs + (pos % bs), shared: inode.sb.isShared(pblk) };
    k.emit({ t: 'mapping', ops, ino: inode.ino, pos, len, flags, pair: { iomap: { ...pair.iomap }, srcmap: { ...pair.srcmap } }, data });
  };
}

/**
 * How zeroing treats a hole or unwritten range with dirty page cache over
 * it: `flush` is iomap's (write back the range, mark the mapping stale and
 * map again: iomap_zero_iter_flush_and_stale — the writeback also
 * write-protects mmapped pages); `buffer-head` is ext4's
 * __ext4_block_zero_page_range (holes are left alone, allocated blocks are
 * zeroed in the page cache).
 */
export type ZeroMode = 'flush' | 'buffer-head';

/**
 * iomap_zero_iter: zero `n` bytes from the iteration's position in the page
 * cache (the folios read or zero-filled first, then dirtied).  Returns the
 * bytes zeroed, or an error when none were.
 */
function iomap_zero_iter(k: Kernel, inode: Inode, it: IomapIter, pair: IomapPair, n: number, mode: ZeroMode, didZero?: { v: boolean }): number {
  let done = 0;
  while (done < n) {
    const p = it.pos + done;
    const folio = inode.mapping.getOrCreate(p, Math.min(MAX_FOLIO_SIZE - (p % MAX_FOLIO_SIZE), n - done));
    folio_wait_stable(inode.mapping, folio);
    const bytes = Math.min(folio.end - p, n - done);
    // __ext4_block_zero_page_range makes the buffer uptodate and dirty (mark_buffer_dirty),
    // never the folio: a folio of several blocks, one never read, stays not uptodate, and a
    // NOWAIT read of it from its start still fails (filemap_range_uptodate).  (A folio of one
    // block has no per-block state here: its flag stands for its buffer's.)
    const folioWasUptodate = folio.uptodate;
    const st = __iomap_write_begin(k, inode, pair, IOMAP_ZERO, p, bytes, folio);
    // The folios zeroed before stay zeroed and dirty; the error ends the zeroing (iter->status).
    if (st < 0) return st;
    folioWrite(folio, p, zeroData(bytes));
    __iomap_write_end(inode, p, bytes, bytes, folio);
    if (mode === 'buffer-head' && folio.ifs !== null) folio.setUptodate(folioWasUptodate);
    if (didZero !== undefined) didZero.v = true;
    done += bytes;
  }
  return n;
}

/**
 * iomap_zero_range: zero [pos, pos+len) of the file through the page cache.
 * Holes and unwritten extents already read as zeroes and are skipped
 * unless the page cache over the range was dirty (or under writeback)
 * before the zeroing began (`range_dirty`): then, at the first such
 * mapping, the rest of the range is written back once and mapped again
 * (iomap_zero_iter_flush_and_stale).  Page cache the zeroing itself
 * dirtied (the EOF block's tail) is not written back.  A partial first
 * block already dirty is zeroed in the page cache whatever its mapping
 * ("to avoid excessive flushing on partial eof zeroing").  Not modelled:
 * the later folio batch (iomap_fill_dirty_folios: XFS zeroes dirty folios
 * over unwritten extents below EOF in place instead of flushing).
 */
export function iomap_zero_range(k: Kernel, inode: Inode, pos: number, len: number, ops: IomapOps, didZero?: { v: boolean }, mode: ZeroMode = 'flush'): number {
  if (len <= 0) return 0;
  const zeroAll = (it: IomapIter): number => (it.pair === null ? -EIO : iomap_zero_iter(k, inode, it, it.pair, iomap_length(it), mode, didZero));
  if (mode === 'flush') {
    const off = pos % inode.blockSize;
    const plen = Math.min(len, inode.blockSize - off);
    if (off !== 0 && inode.mapping.hasDirtyOrWriteback(pos, pos + plen)) {
      const r0 = iomap_iterate(inode.ino, pos, plen, IOMAP_ZERO, ops, zeroAll, mappingObserver(k, inode));
      if (r0.err < 0 || plen === len) return r0.err < 0 ? r0.err : 0;
      pos += plen;
      len -= plen;
    }
  }
  const end = pos + len;
  let rangeDirty = mode === 'flush' && inode.mapping.hasDirtyOrWriteback(pos, end);
  const r = iomap_iterate(inode.ino, pos, len, IOMAP_ZERO, ops, (it) => {
    const n = iomap_length(it);
    const pair = it.pair;
    if (pair === null) return -EIO;
    const src = iomap_iter_srcmap(pair);
    if (mode === 'buffer-head' && (src.type === 'hole' || src.type === 'unwritten')) {
      // __ext4_block_zero_page_range: the folio is looked up with
      // FGP_CREAT, so it is in the cache afterwards even when nothing is
      // zeroed (not uptodate).  A hole has nothing to zero; an unwritten
      // block reads as zeroes, so only data written over it and not yet
      // written back (a dirty block) is zeroed: a clean cached copy is
      // left clean, and the block stays unwritten (observed on Linux 6.18:
      // FIEMAP after ZERO_RANGE over a block read while it was a hole).
      const cached = inode.mapping.folioRange(it.pos, it.pos + n).filter((f) => {
        const b = Math.floor((Math.max(it.pos, f.pos) - f.pos) / inode.blockSize);
        return blockUptodate(f, b) && f.dirty && (f.ifs === null || f.ifs.dirty[b] === 1);
      });
      for (let p = it.pos; p < it.pos + n; p = inode.mapping.getOrCreate(p).end);
      if (src.type === 'hole') return n;
      for (const folio of cached) {
        const p = Math.max(it.pos, folio.pos);
        const e = Math.min(it.pos + n, folio.end);
        const st = __iomap_write_begin(k, inode, pair, IOMAP_ZERO, p, e - p, folio);
        if (st < 0) return st;
        folioWrite(folio, p, zeroData(e - p));
        __iomap_write_end(inode, p, e - p, e - p, folio);
        if (didZero !== undefined) didZero.v = true;
      }
      return n;
    }
    if (src.type === 'hole' || (src.type === 'unwritten' && mode === 'flush')) {
      // Already zeroes on disk: skipped, unless the range was dirty when the zeroing began.
      if (!rangeDirty) return n;
      rangeDirty = false;
      filemap_write_and_wait_range(inode.mapping, it.pos, end - 1);
      pair.iomap.flags |= IOMAP_F_STALE;
      return 0;
    }
    return zeroAll(it);
  }, mappingObserver(k, inode));
  // iomap_iter returns iter->status: an error ends the zeroing and is the result, whatever was zeroed before it.
  return r.err < 0 ? r.err : 0;
}

/** iomap_truncate_page: zero from `pos` to the end of its block (nothing when block aligned). */
export function iomap_truncate_page(k: Kernel, inode: Inode, pos: number, ops: IomapOps, didZero?: { v: boolean }, mode: ZeroMode = 'flush'): number {
  const bs = inode.blockSize;
  const off = pos % bs;
  if (off === 0) return 0;
  return iomap_zero_range(k, inode, pos, bs - off, ops, didZero, mode);
}

// ---------------------------------------------------------------------------
// writeback

/**
 * iomap_writeback_folio: write the dirty blocks of one folio (its dirty flag
 * was cleared by writeback_iter).  A folio wholly beyond EOF is skipped; the
 * part of a folio beyond EOF is zeroed every time.  Only dirty block runs
 * are written; afterwards the folio's dirty bits are cleared.
 */
function iomap_writeback_folio(k: Kernel, inode: Inode, wb: WritebackOps, wpc: WritepageCtx, folio: Folio, wbc: WritebackControl): number {
  const isize = inode.i_size;
  if (folio.pos >= isize) {
    // Wholly past EOF (iomap_writeback_handle_eof skips it; truncate will
    // drop it).  Its blocks are cleaned too, as ext4_bio_write_folio does
    // for buffers past EOF, so a later extension cannot find a clean folio
    // with dirty blocks.
    if (folio.ifs !== null) iomap_clear_range_dirty(inode, folio, 0, folio.size);
    return 0;
  }
  let endPos = folio.end;
  if (isize < folio.end) {
    folioWrite(folio, isize, zeroData(folio.end - isize));
    endPos = isize;
  }
  const bs = inode.blockSize;
  const n = nblocks(inode, folio);
  let ifs = folio.ifs;
  if (ifs === null && n > 1) {
    ifs = ifs_alloc(inode, folio);
    iomap_set_range_dirty(inode, folio, 0, endPos - folio.pos);
  }
  if (wb.bufferHeads && ifs !== null) {
    for (let b = Math.ceil((endPos - folio.pos) / bs); b < n; b++) ifs.uptodate[b] = 1;
    folio.changed();
  }
  folio_start_writeback(folio);
  if (ifs !== null) ifs.writeBytesPending = 0;
  let err = 0;
  const lastBlock = Math.ceil((endPos - folio.pos) / bs);
  // wbc.noMap: a block that would need mapping (delalloc, unwritten, a hole) is left dirty.
  const first = folio.pos / bs;
  const kept: number[] = [];
  const unmapped = (b: number): boolean => wbc.noMap === true && inode.extents.find(first + b)?.v.type !== 'mapped';
  let i = 0;
  while (i < lastBlock) {
    // Variant writeback-range-clears-folio: only the dirty blocks inside wbc's range are written.
    const outside = k.v.on('writeback-range-clears-folio') && (folio.pos + (i + 1) * bs <= wbc.start || folio.pos + i * bs > wbc.end);
    if ((ifs !== null && ifs.dirty[i] !== 1) || outside) {
      i++;
      continue;
    }
    if (unmapped(i)) {
      kept.push(i);
      i++;
      continue;
    }
    let j = i;
    while (j < lastBlock && (ifs === null || ifs.dirty[j] === 1) && !unmapped(j) && !(k.v.on('writeback-range-clears-folio') && folio.pos + j * bs > wbc.end)) j++;
    let pos = folio.pos + i * bs;
    const runEnd = folio.pos + j * bs;
    while (pos < runEnd) {
      const m = wb.map_blocks(pos, runEnd - pos, wbc.end);
      if (typeof m === 'number') {
        err = m;
        break;
      }
      const mEnd = Math.min(runEnd, m.offset + m.length);
      if (mEnd <= pos) {
        err = -EIO;
        break;
      }
      if (m.type === 'mapped' || m.type === 'unwritten') {
        addToIoend(k, inode, wb, wpc, m, folio, pos, mEnd - pos);
        if (ifs !== null) ifs.writeBytesPending += mEnd - pos;
      }
      pos = mEnd;
    }
    if (err !== 0) break;
    i = j;
  }
  if (ifs !== null) iomap_clear_range_dirty(inode, folio, 0, folio.size);
  if (kept.length > 0) {
    // folio_redirty_for_writepage: the blocks left for later stay dirty.
    for (const b of kept) if (ifs !== null) ifs.dirty[b] = 1;
    folio.changed();
    filemap_dirty_folio(inode.mapping, folio);
  }
  const submitted = folio.wbReqs.length > 0;
  if (!submitted || k.v.on('writeback-end-at-submit')) folio_end_writeback(inode.mapping, folio);
  if (err !== 0) mapping_set_error(inode.mapping, err);
  return err;
}

/**
 * iomap_writepages: write back the dirty folios of wbc's range.  The bios
 * are submitted, not waited for: they stay in flight until completed (by a
 * waiter, or by the fuzzer's `complete` step).
 */
export function iomap_writepages(k: Kernel, inode: Inode, wbc: WritebackControl, wb: WritebackOps): number {
  const wpc: WritepageCtx = { ioend: null, submitted: [] };
  let err = 0;
  for (const folio of writeback_iter(inode.mapping, wbc)) {
    const e = iomap_writeback_folio(k, inode, wb, wpc, folio, wbc);
    if (e !== 0 && err === 0) err = e;
  }
  if (wpc.ioend !== null) ioendSubmit(k, inode, wb, wpc.ioend);
  return err;
}

/**
 * iomap_page_mkwrite: a store through a shared mapping hits a write-protected
 * folio.  Blocks up to EOF are mapped for writing (the file system reserves
 * or allocates), the whole folio is dirtied, and with stable writes the
 * store waits for writeback.  A folio wholly beyond EOF is a SIGBUS (-EFAULT
 * here).
 */
export function iomap_page_mkwrite(k: Kernel, inode: Inode, folio: Folio, ops: IomapOps, pos: number): number {
  const isize = inode.i_size;
  if (folio.pos >= isize) return -EFAULT;
  const len = Math.min(folio.end, isize) - folio.pos;
  const r = iomap_iterate(inode.ino, folio.pos, len, IOMAP_WRITE | IOMAP_FAULT, ops, (it) => iomap_length(it), mappingObserver(k, inode));
  if (r.err < 0) {
    // iomap_folio_mkwrite_iter dirtied what the mappings before the failed one
    // cover; the fault fails (vmf_fs_error: SIGBUS) and the store is not made.
    if (r.done > 0) {
      ifs_alloc(inode, folio);
      iomap_set_range_dirty(inode, folio, 0, r.done);
      filemap_dirty_folio(inode.mapping, folio);
    }
    return r.err;
  }
  iomap_dirty_folio(inode, folio);
  folio_wait_stable(inode.mapping, folio);
  folio.setPageWritable(pos);
  return 0;
}

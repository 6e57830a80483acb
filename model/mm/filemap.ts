/**
 * The page cache of one file (struct address_space) and the mm/filemap.c
 * operations the I/O paths use: folio lookup and creation, buffered read,
 * write-and-wait, invalidation around direct I/O, and writeback error
 * reporting.
 */
import type { Span } from '../lib/content.ts';
import { appendSlice, dataEqual, isNormal, pushSpan, sliceData } from '../lib/content.ts';
import { IntervalMap } from '../lib/interval-map.ts';
import type { Entry } from '../lib/interval-map.ts';
import { Errseq } from '../lib/errseq.ts';
import { EAGAIN, EBUSY, EIO, ENOSPC } from '../lib/errno.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import { IOCB_DONTCACHE, IOCB_NOWAIT } from '../vfs/fcntl.ts';
import type { Knobs } from '../variants.ts';
import { Folio } from './folio.ts';
import type { FolioOwner } from './folio.ts';
import { cover } from '../lib/coverage.ts';

export interface WritebackControl {
  readonly syncMode: 'none' | 'all';
  readonly start: number;
  /** Inclusive last byte, as wbc->range_end. */
  readonly end: number;
  /**
   * Write only blocks already mapped and written, keeping the others dirty
   * (ext4's ordered-data flush at a journal commit: mpd.can_map = 0, and
   * ext4_bio_write_folio skips delayed and unwritten buffers).
   */
  readonly noMap?: boolean;
}

/** struct address_space_operations: what the file system provides to the page cache. */
export interface AddressSpaceOps {
  /** ->writepages: write back dirty folios in wbc's range (submits bios). */
  writepages(mapping: AddressSpace, wbc: WritebackControl): number;
  /**
   * ->read_folio / ->readahead: bring a folio uptodate synchronously (0 or
   * -errno).  With `noio`, only what needs no device read (holes, unwritten
   * blocks, beyond EOF) is done; -EAGAIN if a block must be read.
   */
  read_folio(mapping: AddressSpace, folio: Folio, noio?: boolean): number;
  /**
   * ->readahead: bring the new folios of a readahead window (in file order)
   * uptodate as far as it can, in as few bios as the file system builds;
   * without it, read_pages reads one folio at a time.
   */
  readahead?(mapping: AddressSpace, folios: readonly Folio[]): void;
  /** ->release_folio: may the clean folio be dropped? */
  release_folio(folio: Folio): boolean;
  /** ->invalidate_folio: part or all of the folio is being truncated away. */
  invalidate_folio(mapping: AddressSpace, folio: Folio, offset: number, len: number): void;
  /**
   * ->is_partially_uptodate: are the blocks of [from, from+count) (offsets
   * in the folio; count may run past its end) uptodate?
   */
  is_partially_uptodate(mapping: AddressSpace, folio: Folio, from: number, count: number): boolean;
}

/** What the page cache needs from its owner (the inode and the I/O engine). */
export interface MappingHost {
  readonly ino: number;
  readonly blockSize: number;
  /** i_size_read */
  isize(): number;
  /** The readahead window of the host's files, in pages (inode->i_sb->s_bdi->ra_pages, as file_ra_state_init copies it). */
  ra_pages(): number;
  /** Complete the I/O a folio under writeback is waiting for (folio_wait_writeback). */
  waitWriteback(folio: Folio): void;
}

/** MAX_PAGECACHE_ORDER on x86-64: PMD-sized folios (2 MiB). */
export const MAX_FOLIO_SIZE = 2 * 1024 * 1024;

export const AS_EIO = 1;
export const AS_ENOSPC = 2;

export class AddressSpace implements FolioOwner {
  /** Folios keyed by page index range. */
  private readonly folios = new IntervalMap<Folio>((v) => v);
  /**
   * Model bookkeeping: bumped when a folio is added or removed and when one
   * of the mapping's folios changes state (Folio.owner), so that the folio
   * checks pass over a file whose cache did not change since they last
   * looked (properties/folio.ts).
   */
  gen = 0;
  /** Checker bookkeeping, not kernel state: what each folio check last found of this mapping (properties/folio.ts alone reads it). */
  readonly checked: Array<object | undefined> = [];
  readonly wb_err = new Errseq();
  /** AS_EIO / AS_ENOSPC */
  flags = 0;
  /** AS_STABLE_WRITES: folio_wait_stable waits for writeback. */
  stableWrites = false;
  /**
   * The host inode's I_DIRTY_PAGES: set when a folio is dirtied, cleared
   * only when the inode itself is written back (sync(2), the flusher), not
   * by a range flush.
   */
  dirtyPagesInode = false;

  constructor(
    readonly host: MappingHost,
    readonly a_ops: AddressSpaceOps,
    /** Size of the folios this mapping creates (a power of two >= PAGE_SIZE and >= block size). */
    readonly folioSize: number,
  ) {}

  get nrFolios(): number {
    return this.folios.size;
  }

  /** filemap_get_folio: the folio holding page `index`, if cached. */
  lookup(index: number): Folio | undefined {
    return this.folios.find(index)?.v;
  }

  /** The folio holding byte `pos`, if cached. */
  folioAt(pos: number): Folio | undefined {
    return this.lookup(Math.floor(pos / PAGE_SIZE));
  }

  /** Cached folios intersecting bytes [start, end), in order. */
  folioRange(start: number, end: number): Folio[] {
    if (end <= start) return [];
    // One entry per folio in the tree: its values are the folios.
    return this.folios.valuesOverlapping(Math.floor(start / PAGE_SIZE), Math.ceil(end / PAGE_SIZE));
  }

  allFolios(): readonly Folio[] {
    // Model bookkeeping: the list is kept until the tree changes.
    if (this.folioList === null || this.folioListSeq !== this.folios.seq) {
      this.folioList = this.folios.entries().map((e) => e.v);
      this.folioListSeq = this.folios.seq;
    }
    return this.folioList;
  }

  private folioList: readonly Folio[] | null = null;
  private folioListSeq = -1;

  /**
   * Checker bookkeeping, not kernel state: the folio tree's entries in
   * order, each entry's value a folio: what the checks walk (read-only),
   * with no list of folios built for them (they rebuilt allFolios' list
   * three times as often as the model did).
   */
  folioEntries(): readonly Entry<Folio>[] {
    return this.folios.entries();
  }

  /**
   * __filemap_get_folio(FGP_CREAT): the folio for byte `pos`, created (not
   * uptodate) when absent.  With a fixed folio size (a model knob) every new
   * folio has that size.  With the kernel's policy (`folioSize` 0) the size
   * comes from `len`, the bytes the caller is about to use
   * (fgf_set_order: the largest power of two not above it, at most
   * MAX_PAGECACHE_ORDER = 2 MiB), reduced until the folio is naturally aligned
   * at its index and overlaps no cached folio; never below the mapping's
   * minimum order (the block size).  Reads and faults ask for order 0.
   */
  getOrCreate(pos: number, len = 0): Folio {
    const have = this.folioAt(pos);
    if (have !== undefined) return have;
    const minSize = Math.max(PAGE_SIZE, this.host.blockSize);
    let size = this.folioSize;
    if (size === 0) {
      size = minSize;
      while (size * 2 <= Math.min(len, MAX_FOLIO_SIZE)) size *= 2;
      // The folio starts at pos's page, so it must be aligned there (index & (nr - 1) == 0).
      const index = Math.floor(pos / PAGE_SIZE);
      while (size > minSize && index % (size / PAGE_SIZE) !== 0) size /= 2;
    }
    for (;;) {
      const pages = size / PAGE_SIZE;
      const index = Math.floor(pos / size) * pages;
      if (size <= minSize || !this.folios.intersects(index, index + pages)) {
        const f = new Folio(index, size);
        this.folios.set(index, index + pages, f);
        this.adopt(f);
        return f;
      }
      size /= 2;
    }
  }

  /**
   * __filemap_get_folio(FGP_WRITEBEGIN): as getOrCreate, for a write.  With
   * FGP_DONTCACHE (RWF_DONTCACHE) a new folio is marked dropbehind; a cached
   * folio found by a write without it loses the mark.
   */
  getForWrite(pos: number, len: number, dontcache: boolean): Folio {
    const have = this.folioAt(pos);
    if (have !== undefined) {
      if (!dontcache) have.dropbehind = false;
      return have;
    }
    const f = this.getOrCreate(pos, len);
    if (dontcache) f.dropbehind = true;
    return f;
  }

  /**
   * filemap_alloc_folio for page_cache_ra_unbounded: the folio of a readahead
   * window for byte `pos`, of the mapping's smallest size (readahead asks
   * for order 0), not yet in the cache (addFolios adds a window's new folios
   * together).  With a fixed folio size (a model knob) the folio is the one
   * getOrCreate would make, already added.
   */
  allocReadaheadFolio(pos: number): Folio {
    if (this.folioSize !== 0) return this.getOrCreate(pos);
    const size = Math.max(PAGE_SIZE, this.host.blockSize);
    const pages = size / PAGE_SIZE;
    return new Folio(Math.floor(pos / size) * pages, size);
  }

  /**
   * filemap_add_folio for each of `folios` (in file order, disjoint, over
   * pages the cache does not hold), as allocReadaheadFolio made them.
   * Model bookkeeping: one pass over the cache's tree rather than one
   * insertion per folio (a readahead window is up to hundreds of them).
   */
  addFolios(folios: readonly Folio[]): void {
    // With a fixed folio size, getOrCreate added each already.
    if (this.folioSize !== 0) return;
    // Each run of adjacent new folios lies in one gap of the cache.
    let run: Array<{ start: number; end: number; v: Folio }> = [];
    for (const f of folios) {
      this.adopt(f);
      if (run.length > 0 && run[run.length - 1]!.end !== f.index) {
        this.folios.insertRun(run);
        run = [];
      }
      run.push({ start: f.index, end: f.index + f.nrPages, v: f });
    }
    this.folios.insertRun(run);
  }

  /** Insert a folio built elsewhere (a split). */
  insert(f: Folio): void {
    this.folios.set(f.index, f.index + f.nrPages, f);
    this.adopt(f);
  }

  /** filemap_remove_folio */
  remove(f: Folio): void {
    this.folios.remove(f.index, f.index + f.nrPages);
    f.setIfs(null);
    this.gen++;
  }

  /** A folio joined the cache: it tells the mapping of its changes from now on. */
  private adopt(f: Folio): void {
    f.owner = this;
    f.gen = ++this.gen;
  }

  hasDirtyOrWriteback(start: number, end: number): boolean {
    return this.folioRange(start, end).some((f) => f.dirty || f.writeback);
  }

  hasDirty(): boolean {
    return this.allFolios().some((f) => f.dirty);
  }
}

/** mm/filemap.c: filemap_check_errors — test and clear the legacy AS_* flags. */
export function filemap_check_errors(mapping: AddressSpace): number {
  let ret = 0;
  if ((mapping.flags & AS_ENOSPC) !== 0) ret = -ENOSPC;
  if ((mapping.flags & AS_EIO) !== 0) ret = -EIO;
  mapping.flags &= ~(AS_EIO | AS_ENOSPC);
  return ret;
}

/** include/linux/pagemap.h: mapping_set_error */
export function mapping_set_error(mapping: AddressSpace, err: number): void {
  if (err === 0) return;
  cover('writeback: error recorded');
  mapping.wb_err.set(err);
  mapping.flags |= err === -ENOSPC ? AS_ENOSPC : AS_EIO;
}

/** mm/filemap.c: filemap_fdatawrite_wbc / __filemap_fdatawrite_range */
export function filemap_fdatawrite_range(mapping: AddressSpace, start: number, end: number, syncMode: 'none' | 'all'): number {
  return mapping.a_ops.writepages(mapping, { syncMode, start, end });
}

/** mm/filemap.c: __filemap_fdatawait_range — wait for writeback of folios in the range. */
export function filemap_fdatawait_range(mapping: AddressSpace, start: number, end: number): void {
  for (const f of mapping.folioRange(start, end + 1)) {
    if (f.writeback) mapping.host.waitWriteback(f);
  }
}

/**
 * mm/filemap.c: filemap_write_and_wait_range — write back and wait for
 * [start, end] (inclusive); returns the flush error or the legacy AS_* error.
 */
export function filemap_write_and_wait_range(mapping: AddressSpace, start: number, end: number): number {
  if (end < start) return 0;
  let err = filemap_fdatawrite_range(mapping, start, end, 'all');
  if (err !== -EIO) filemap_fdatawait_range(mapping, start, end);
  const err2 = filemap_check_errors(mapping);
  if (err === 0) err = err2;
  return err;
}

/**
 * mm/filemap.c: file_check_and_advance_wb_err — report a writeback error
 * once per open file description.  Returns [err, new f_wb_err].
 */
export function file_check_and_advance_wb_err(mapping: AddressSpace, fWbErr: number): [number, number] {
  const r = mapping.wb_err.checkAndAdvance(fWbErr);
  mapping.flags &= ~(AS_EIO | AS_ENOSPC);
  if (r[0] !== 0) cover('fsync: reported a writeback error');
  return r;
}

/**
 * mm/truncate.c: invalidate_inode_pages2_range — drop the clean folios of
 * [start, end] (pages, inclusive); a dirty folio (or one whose private data
 * cannot be released) gives -EBUSY and stays.  Folios under writeback are
 * waited for first.
 */
export function invalidate_inode_pages2_range(mapping: AddressSpace, startIndex: number, endIndex: number): number {
  let ret = 0;
  for (const f of mapping.folioRange(startIndex * PAGE_SIZE, (endIndex + 1) * PAGE_SIZE)) {
    if (f.writeback) mapping.host.waitWriteback(f);
    f.mkclean(); // unmap_mapping_folio
    if (f.dirty || !mapping.a_ops.release_folio(f)) {
      ret = -EBUSY;
      continue;
    }
    mapping.remove(f);
  }
  return ret;
}

/**
 * mm/filemap.c: kiocb_invalidate_pages — before a direct write: write back
 * and wait, then invalidate the cached folios of [pos, pos+count).  With
 * NOWAIT, any cached folio gives -EAGAIN.
 */
export function kiocb_invalidate_pages(mapping: AddressSpace, pos: number, count: number, nowait: boolean): number {
  const end = pos + count - 1;
  if (nowait) {
    if (mapping.folioRange(pos, end + 1).length > 0) return -EAGAIN;
  } else {
    const ret = filemap_write_and_wait_range(mapping, pos, end);
    if (ret !== 0) return ret;
  }
  return invalidate_inode_pages2_range(mapping, Math.floor(pos / PAGE_SIZE), Math.floor(end / PAGE_SIZE));
}

/**
 * mm/filemap.c: kiocb_invalidate_post_direct_write — after a direct write,
 * drop the folios that were cached meanwhile; failure is recorded as -EIO on
 * the mapping (dio_warn_stale_pagecache), the write itself still succeeds.
 */
export function kiocb_invalidate_post_direct_write(mapping: AddressSpace, pos: number, count: number): void {
  if (mapping.nrFolios === 0) return;
  const end = pos + count - 1;
  const ret = invalidate_inode_pages2_range(mapping, Math.floor(pos / PAGE_SIZE), Math.floor(end / PAGE_SIZE));
  if (ret !== 0) mapping_set_error(mapping, -EIO);
}

/**
 * filemap_range_uptodate: may a read of `count` bytes at `pos` use this
 * folio as it is?  A folio of one block, or a read wanting all of it, needs
 * the folio uptodate; otherwise ->is_partially_uptodate decides.
 */
function filemap_range_uptodate(mapping: AddressSpace, pos: number, count: number, f: Folio): boolean {
  if (f.uptodate) return true;
  if (mapping.host.blockSize >= f.size) return false;
  if (f.pos > pos) {
    count -= f.pos - pos;
    pos = 0;
  } else {
    pos -= f.pos;
  }
  if (pos === 0 && count >= f.size) return false;
  return mapping.a_ops.is_partially_uptodate(mapping, f, pos, count);
}

/** Bytes [pos, pos+len) of an uptodate folio range. */
export function folioBytes(f: Folio, pos: number, len: number): Span[] {
  return sliceData(f.data, pos - f.pos, len);
}

/**
 * Does writing `data` at [off, off+len) of the folio change the bytes of
 * an uptodate block?  Filling blocks that are not uptodate (a read, or
 * pagecache_isize_extended zeroing a hole block past the old EOF), or
 * writing the bytes already there, changes nothing writeback is writing.
 */
function changesUptodate(f: Folio, off: number, len: number, data: readonly Span[]): boolean {
  if (f.uptodate || f.ifs === null) return f.uptodate && !dataEqual(sliceData(f.data, off, len), data);
  const ifs = f.ifs;
  const bs = f.size / ifs.uptodate.length;
  for (let b = Math.floor(off / bs); b * bs < off + len && b < ifs.uptodate.length; b++) {
    if (ifs.uptodate[b] !== 1) continue;
    const a = Math.max(off, b * bs);
    const e = Math.min(off + len, (b + 1) * bs);
    if (!dataEqual(sliceData(f.data, a, e - a), sliceData(data, a - off, e - a))) return true;
  }
  return false;
}

/** Write `data` into the folio at file byte `pos`. */
export function folioWrite(f: Folio, pos: number, data: readonly Span[]): void {
  const off = pos - f.pos;
  let len = 0;
  for (const s of data) len += s.len;
  if (f.writeback && changesUptodate(f, off, len, data)) f.setChangedUnderWriteback(true);
  // The whole folio: the data itself (data arrays are values, never changed in place), not a copy.
  if (off === 0 && len === f.size && isNormal(data)) {
    f.setData(data);
    return;
  }
  const out = appendSlice([], f.data, 0, off);
  for (const s of data) pushSpan(out, s);
  f.setData(appendSlice(out, f.data, off + len, f.size - off - len));
}

/** What generic_write_checks looks at; the maximum file size (sb->s_maxbytes) is the caller's. */
export interface WriteCheckInput {
  pos: number;
  count: number;
  append: boolean;
  nowait: boolean;
  direct: boolean;
  /** FMODE_BUF_WASYNC: the file system supports NOWAIT buffered writes. */
  bufWasync: boolean;
  isize: number;
  maxbytes: number;
  /** IOCB_ATOMIC */
  atomic: boolean;
  /** The run's variants (fix-atomic-append-revalidate). */
  v: Knobs;
}

/**
 * mm/filemap.c: generic_write_checks + generic_write_check_limits.  Returns
 * the (possibly moved and shortened) [pos, count], or -errno.
 */
export function generic_write_checks(w: WriteCheckInput): { pos: number; count: number } | number {
  if (w.count === 0) return { pos: w.pos, count: 0 };
  let pos = w.pos;
  if (w.append) {
    pos = w.isize;
    // Variant fix-atomic-append-revalidate: an RWF_ATOMIC write moved to EOF is
    // validated again there (generic_atomic_write_valid: naturally aligned).
    if (w.atomic && pos % w.count !== 0 && w.v.on('fix-atomic-append-revalidate')) return -EINVAL_;
  }
  if (w.nowait && !(w.direct || w.bufWasync)) return -EINVAL_;
  if (pos >= w.maxbytes) return -EFBIG_;
  const count = Math.min(w.count, w.maxbytes - pos);
  return { pos, count };
}

const EINVAL_ = 22;
const EFBIG_ = 27;

/**
 * mm/filemap.c: do_sync_mmap_readahead, mmap read-around: a fault on a page
 * the cache does not hold first reads a readahead window of pages around
 * it, from half a window before it (ra->start = pgoff - ra_pages / 2, at
 * least 0; ra->size = ra_pages), up to EOF (the faulting page itself is
 * read by the fault).  A page that cannot be read is left out.
 */
export function do_sync_mmap_readahead(mapping: AddressSpace, pos: number): void {
  const idx = Math.floor(pos / PAGE_SIZE);
  const ra = mapping.host.ra_pages();
  const start = Math.max(0, idx - Math.floor(ra / 2));
  readPagesAround(mapping, start, start + ra, idx);
}

/** Read into the cache the pages of [first, end) it does not hold, up to EOF, but `skip` (which the caller reads); a page that cannot be read is left out. */
function readPagesAround(mapping: AddressSpace, first: number, end: number, skip: number): void {
  const last = Math.min(end, Math.ceil(mapping.host.isize() / PAGE_SIZE));
  const folios: Folio[] = [];
  for (let i = first; i < last; ) {
    const have = mapping.folioAt(i * PAGE_SIZE);
    if (have !== undefined || i === skip) {
      i = have !== undefined ? Math.max(i + 1, Math.floor(have.end / PAGE_SIZE)) : i + 1;
      continue;
    }
    const folio = mapping.allocReadaheadFolio(i * PAGE_SIZE);
    folios.push(folio);
    i = Math.max(i + 1, Math.floor(folio.end / PAGE_SIZE));
  }
  mapping.addFolios(folios);
  read_pages(mapping, folios);
}

/**
 * mm/readahead.c: read_pages — the file system's ->readahead for the new
 * folios, or ->read_folio one at a time; a folio left not uptodate (its
 * read failed) leaves the cache.
 */
function read_pages(mapping: AddressSpace, folios: readonly Folio[]): void {
  if (folios.length === 0) return;
  const aops = mapping.a_ops;
  if (aops.readahead !== undefined) aops.readahead(mapping, folios);
  else for (const f of folios) aops.read_folio(mapping, f);
  for (const f of folios) if (!f.uptodate && !f.dirty && !f.writeback) mapping.remove(f);
}

/** mm/readahead.c: get_init_ra_size — the first readahead window for a read of `size` pages. */
function get_init_ra_size(size: number, max: number): number {
  let n = 1;
  while (n < size) n *= 2;
  if (n <= max / 32) return n * 4;
  if (n <= max / 4) return n * 2;
  return max;
}

/**
 * mm/readahead.c: page_cache_sync_ra on a cache miss of a read that may
 * wait (page_cache_ra_unbounded through the initial window of
 * ondemand_readahead): the pages from the missed one on, as many as
 * get_init_ra_size gives for the request, up to EOF.  The model reads them
 * at once (their I/O completes before anything else happens); the missed
 * page itself is read by the caller.
 */
function page_cache_sync_ra(mapping: AddressSpace, pos: number, count: number): void {
  const idx = Math.floor(pos / PAGE_SIZE);
  const req = Math.ceil((pos + count) / PAGE_SIZE) - idx;
  readPagesAround(mapping, idx, idx + get_init_ra_size(req, mapping.host.ra_pages()), idx);
}

/**
 * mm/filemap.c: filemap_read — copy from the page cache, reading folios in
 * as needed; stops at i_size (short read at EOF, 0 at or past it).
 * `ki_flags`: IOCB_NOWAIT (never wait for a read) and IOCB_DONTCACHE.
 */
export function filemap_read(mapping: AddressSpace, pos: number, count: number, out: (data: Span[]) => void, ki_flags = 0): number {
  const nowait = (ki_flags & IOCB_NOWAIT) !== 0;
  const dontcache = (ki_flags & IOCB_DONTCACHE) !== 0;
  let done = 0;
  while (done < count) {
    const isize = mapping.host.isize();
    const p = pos + done;
    if (p >= isize) break;
    let f = mapping.folioAt(p);
    if (f === undefined && !nowait) page_cache_sync_ra(mapping, p, count - done);
    if (f === undefined) {
      // page_cache_sync_readahead / filemap_create_folio.  Under IOCB_NOWAIT
      // readahead still runs: it completes at once for holes, unwritten
      // blocks and EOF, and otherwise only starts I/O (EAGAIN).
      f = mapping.getOrCreate(p);
      if (dontcache) f.dropbehind = true;
      const err = mapping.a_ops.read_folio(mapping, f, nowait);
      if (err < 0) {
        if (!f.uptodate && !f.dirty && !f.writeback) mapping.remove(f);
        return done > 0 ? done : nowait ? -EAGAIN : err;
      }
    }
    // filemap_update_page: a folio not uptodate for this read is read in,
    // which IOCB_NOWAIT may not wait for.
    if (!filemap_range_uptodate(mapping, p, count - done, f)) {
      if (nowait) return done > 0 ? done : -EAGAIN;
      const err = mapping.a_ops.read_folio(mapping, f);
      if (err < 0) {
        if (!f.uptodate && !f.dirty && !f.writeback) mapping.remove(f);
        return done > 0 ? done : err;
      }
    }
    const end = Math.min(f.end, pos + count, mapping.host.isize());
    if (end <= p) break;
    out(folioBytes(f, p, end - p));
    done += end - p;
    // filemap_end_dropbehind_read: a clean dropbehind folio leaves the cache once read.
    if (f.dropbehind && !f.dirty && !f.writeback && !f.mappedWritable) mapping.remove(f);
  }
  return done;
}

/**
 * mm/filemap.c: file_write_and_wait_range — flush and wait for [start, end],
 * then report a writeback error once for this file description.  Returns
 * [err, new f_wb_err].
 */
export function file_write_and_wait_range(mapping: AddressSpace, fWbErr: number, start: number, end: number): [number, number] {
  let err = 0;
  if (end >= start) {
    err = filemap_fdatawrite_range(mapping, start, end, 'all');
    if (err !== -EIO) filemap_fdatawait_range(mapping, start, end);
  }
  const [err2, cursor] = file_check_and_advance_wb_err(mapping, fWbErr);
  return [err !== 0 ? err : err2, cursor];
}

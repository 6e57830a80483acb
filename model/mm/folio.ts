/**
 * struct folio and its flags (include/linux/mm_types.h,
 * include/linux/page-flags.h).  `private` holds the iomap_folio_state of
 * fs/iomap/buffered-io.c when the folio has more than one block.
 */
import type { Span } from '../lib/content.ts';
import { SRC_GARBAGE, span } from '../lib/content.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';

/**
 * fs/iomap/buffered-io.c: struct iomap_folio_state — per-block uptodate and
 * dirty bits (one byte per bit here) and the bytes of I/O pending.
 */
export interface IomapFolioState {
  readonly uptodate: Uint8Array;
  readonly dirty: Uint8Array;
  readBytesPending: number;
  writeBytesPending: number;
}

/** What a folio tells of a change to its state: the page cache holding it (AddressSpace.gen). */
export interface FolioOwner {
  gen: number;
}

// Shared by every folio with no I/O pending: the list is replaced, never changed in place (readonly).
const NO_REQS: readonly number[] = [];

type Writable<T> = { -readonly [K in keyof T]: T[K] };
/** The fields whose changes bump the folio's gen (Folio.track). */
type Tracked = 'uptodate' | 'dirty' | 'writeback' | 'ifs' | 'changedUnderWriteback' | 'zeroedInCacheOnly' | 'wbReqs' | 'data';

// A new folio's contents, one array per folio size shared by every new folio (data is replaced, never changed in place).
const GARBAGE = new Map<number, readonly Span[]>();
function garbage(size: number): readonly Span[] {
  let d = GARBAGE.get(size);
  if (d === undefined) GARBAGE.set(size, (d = [span(size, SRC_GARBAGE, 0, 0)]));
  return d;
}

export class Folio {
  /** Page index of the first page. */
  readonly index: number;
  /** Bytes (PAGE_SIZE << order). */
  readonly size: number;
  /**
   * Model bookkeeping: the page cache the folio was added to.  Every change
   * of the readonly state below (flags, per-block bits, data, I/O requests:
   * what the folio checks read) goes through a setter that bumps its `gen`,
   * so that a check can pass over a file none of whose folios changed
   * (properties/folio.ts); the per-block bits are arrays, and their writers
   * (fs/iomap/buffered-io.c's ifs_* helpers) call changed() themselves.
   * `locked`, `dropbehind` and `writablePages`, which no check reads, are
   * plain fields.
   */
  owner: FolioOwner | null = null;
  /** Model bookkeeping: the owner's `gen` as this folio last changed (or joined it): a check can tell which folios changed since it looked. */
  gen = 0;
  readonly uptodate: boolean = false;
  readonly dirty: boolean = false;
  readonly writeback: boolean = false;
  /** folio->private: the iomap_folio_state, if any. */
  readonly ifs: IomapFolioState | null = null;
  /** Model bookkeeping: the folio's data changed while it was under writeback (folio/stable-under-writeback). */
  readonly changedUnderWriteback: boolean = false;
  /**
   * Model bookkeeping: truncate_inode_partial_folio zeroed part of this folio
   * in the page cache, and the zeroing of that block on disk that should
   * have followed failed (ext4_zero_partial_blocks could not read a block
   * after ext4_truncate_page_cache_block_range): the folio is clean and
   * holds zeroes the disk does not, as on the kernel (folio/no-clean-while-block-dirty
   * leaves it out).
   */
  readonly zeroedInCacheOnly: boolean = false;
  /** Model bookkeeping: the I/O requests (ioends) this folio's writeback waits for (replaced, never changed in place). */
  readonly wbReqs: readonly number[] = NO_REQS;
  /** Contents; bytes never read or written are garbage (the array is replaced, never changed in place). */
  readonly data: readonly Span[];
  locked = false;
  /** PG_dropbehind (RWF_DONTCACHE). */
  dropbehind = false;
  /**
   * Pages of this folio mapped writable into a process's page tables (a
   * shared mmap store faulted them in through ->page_mkwrite).  Writability
   * is per page (per PTE), not per folio.
   */
  writablePages: Set<number> | null = null;
  /**
   * Checker bookkeeping, not kernel state: what folio/no-clean-while-block-dirty
   * last verified of this folio (properties/folio.ts alone reads it; a field
   * rather than a WeakMap, which cost the checker a tenth of its time).
   */
  verified: object | null = null;
  /** Checker bookkeeping: the folio's `gen` when that was recorded (the record may be shared by the folios of a run). */
  verifiedGen = -1;

  constructor(index: number, size: number) {
    this.index = index;
    this.size = size;
    this.data = garbage(size);
  }

  /** Tell the owner the folio changed (see `owner`). */
  changed(): void {
    const o = this.owner;
    if (o !== null) this.gen = ++o.gen;
  }

  /** Set one of the fields the folio checks read (they are readonly: this is the only way in) and tell the owner. */
  private track<K extends Tracked>(k: K, v: Folio[K]): void {
    (this as Writable<Folio>)[k] = v;
    this.changed();
  }

  // The state the folio checks read changes only through these, each telling the owner.
  setUptodate(v: boolean): void {
    this.track('uptodate', v);
  }
  setDirty(v: boolean): void {
    this.track('dirty', v);
  }
  setWriteback(v: boolean): void {
    this.track('writeback', v);
  }
  setIfs(v: IomapFolioState | null): void {
    this.track('ifs', v);
  }
  setChangedUnderWriteback(v: boolean): void {
    this.track('changedUnderWriteback', v);
  }
  setZeroedInCacheOnly(v: boolean): void {
    this.track('zeroedInCacheOnly', v);
  }
  setWbReqs(v: readonly number[]): void {
    this.track('wbReqs', v);
  }
  setData(v: readonly Span[]): void {
    this.track('data', v);
  }

  /** folio_pos */
  get pos(): number {
    return this.index * PAGE_SIZE;
  }

  get end(): number {
    return this.pos + this.size;
  }

  get nrPages(): number {
    return this.size / PAGE_SIZE;
  }

  get mappedWritable(): boolean {
    return this.writablePages !== null && this.writablePages.size > 0;
  }

  pageWritable(pos: number): boolean {
    return this.writablePages !== null && this.writablePages.has(Math.floor(pos / PAGE_SIZE));
  }

  setPageWritable(pos: number): void {
    if (this.writablePages === null) this.writablePages = new Set();
    this.writablePages.add(Math.floor(pos / PAGE_SIZE));
  }

  /** Unmap the pages of bytes [start, end) (their page table entries go): the next store to one faults again. */
  unmapPages(start: number, end: number): void {
    const w = this.writablePages;
    if (w === null) return;
    for (const p of [...w]) if (p * PAGE_SIZE >= start && (p + 1) * PAGE_SIZE <= end) w.delete(p);
    if (w.size === 0) this.writablePages = null;
  }

  /** Write-protect every page (folio_mkclean / unmap); true if any was writable. */
  mkclean(): boolean {
    const was = this.mappedWritable;
    this.writablePages = null;
    return was;
  }
}

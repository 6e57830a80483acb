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

export class Folio {
  /** Page index of the first page. */
  readonly index: number;
  /** Bytes (PAGE_SIZE << order). */
  readonly size: number;
  uptodate = false;
  dirty = false;
  writeback = false;
  locked = false;
  /** PG_dropbehind (RWF_DONTCACHE). */
  dropbehind = false;
  /**
   * Pages of this folio mapped writable into a process's page tables (a
   * shared mmap store faulted them in through ->page_mkwrite).  Writability
   * is per page (per PTE), not per folio.
   */
  writablePages: Set<number> | null = null;
  /** folio->private: the iomap_folio_state, if any. */
  ifs: IomapFolioState | null = null;
  /** Model bookkeeping: the folio's data changed while it was under writeback (folio/stable-under-writeback). */
  changedUnderWriteback = false;
  /**
   * Model bookkeeping: truncate_inode_partial_folio zeroed part of this folio
   * in the page cache, and the zeroing of that block on disk that should
   * have followed failed (ext4_zero_partial_blocks could not read a block
   * after ext4_truncate_page_cache_block_range): the folio is clean and
   * holds zeroes the disk does not, as on the kernel (folio/no-clean-while-block-dirty
   * leaves it out).
   */
  zeroedInCacheOnly = false;
  /**
   * Checker bookkeeping, not kernel state: what folio/no-clean-while-block-dirty
   * last verified of this folio (properties/folio.ts alone reads it; a field
   * rather than a WeakMap, which cost the checker a tenth of its time).
   */
  verified: object | null = null;
  /** Model bookkeeping: the I/O requests (ioends) this folio's writeback waits for. */
  wbReqs: number[] = [];
  /** Contents; bytes never read or written are garbage. */
  data: Span[];

  constructor(index: number, size: number) {
    this.index = index;
    this.size = size;
    this.data = [span(size, SRC_GARBAGE, 0, 0)];
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

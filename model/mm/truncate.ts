/**
 * mm/truncate.c: removing folios from the page cache when a file shrinks or
 * a range is punched out.
 */
import { sliceData, zeroData } from '../lib/content.ts';

import { PAGE_SIZE } from '../block/blk-settings.ts';
import type { AddressSpace } from './filemap.ts';
import { folioWrite } from './filemap.ts';
import { Folio } from './folio.ts';
import { roundDown, roundUp } from '../lib/math.ts';

/**
 * mm/huge_memory.c: split a large folio into folios of `size` bytes (the
 * mapping's minimum order).  Refused, as when the file system cannot release
 * the folio's private state (iomap_release_folio refuses a dirty folio).
 */
export function split_folio(mapping: AddressSpace, f: Folio, size: number): Folio[] | null {
  if (f.size <= size) return null;
  if (f.ifs !== null && !mapping.a_ops.release_folio(f)) return null;
  if (f.dirty && f.ifs !== null) return null;
  mapping.remove(f);
  const out: Folio[] = [];
  for (let off = 0; off < f.size; off += size) {
    const g = new Folio(f.index + off / PAGE_SIZE, size);
    g.setUptodate(f.uptodate);
    g.setDirty(f.dirty);
    g.setWriteback(f.writeback);
    if (f.writablePages !== null) for (const p of f.writablePages) if (p >= g.index && p < g.index + g.nrPages) g.setPageWritable(p * PAGE_SIZE);
    g.dropbehind = f.dropbehind;
    g.setData(sliceData(f.data, off, size));
    g.setWbReqs(f.wbReqs);
    mapping.insert(g);
    out.push(g);
  }
  return out;
}

/**
 * mm/truncate.c: truncate_inode_partial_folio — zero the truncated part of
 * a folio that is only partly in the range and tell the file system
 * (->invalidate_folio); a large folio is then split so that the pages wholly
 * inside the range can be dropped.  Returns the folios left to consider.
 */
function truncate_inode_partial_folio(mapping: AddressSpace, f: Folio, start: number, end: number): Folio[] {
  if (f.writeback) mapping.host.waitWriteback(f);
  const s = Math.max(start, f.pos);
  const e = Math.min(end, f.end);
  if (e <= s) return [];
  folioWrite(f, s, zeroData(e - s));
  mapping.a_ops.invalidate_folio(mapping, f, s - f.pos, e - s);
  const pieces = split_folio(mapping, f, Math.max(PAGE_SIZE, mapping.host.blockSize));
  return pieces ?? [];
}

/**
 * mm/truncate.c: truncate_inode_pages_range — drop the folios wholly inside
 * bytes [lstart, lend] (inclusive; lend = -1 means to the end), waiting for
 * their writeback and cancelling their dirty state; zero the covered part of
 * partial folios at either end.
 */
export function truncate_inode_pages_range(mapping: AddressSpace, lstart: number, lend: number): void {
  const end = lend < 0 ? Number.MAX_SAFE_INTEGER : lend + 1;
  const drop = (f: Folio): void => {
    if (f.writeback) mapping.host.waitWriteback(f);
    f.setDirty(false); // folio_cancel_dirty
    mapping.a_ops.invalidate_folio(mapping, f, 0, f.size);
    f.mkclean();
    mapping.remove(f);
  };
  for (const f of mapping.folioRange(lstart, end)) {
    if (f.pos >= lstart && f.end <= end) {
      drop(f);
    } else {
      for (const g of truncate_inode_partial_folio(mapping, f, lstart, end)) {
        if (g.pos >= lstart && g.end <= end) drop(g);
      }
    }
  }
}

/**
 * mm/truncate.c: truncate_setsize — set i_size; when it grows, the EOF folio
 * is handled (pagecache_isize_extended); when it shrinks, the page cache
 * beyond it is dropped.
 */
export function truncate_setsize(mapping: AddressSpace, blockSize: number, setSize: (s: number) => void, oldsize: number, newsize: number): void {
  setSize(newsize);
  if (newsize > oldsize) pagecache_isize_extended(mapping, blockSize, oldsize, newsize);
  truncate_pagecache(mapping, newsize);
}

/**
 * mm/memory.c: unmap_mapping_range — take the pages of bytes [start, end)
 * out of every mapping of the file, so that the next access faults (and a
 * store goes through ->page_mkwrite again).
 */
export function unmap_mapping_range(mapping: AddressSpace, start: number, end: number): void {
  if (end <= start) return;
  for (const f of mapping.folioRange(start, end)) f.unmapPages(start, end);
}

/**
 * mm/truncate.c: truncate_pagecache — after i_size was lowered to
 * `newsize`: the pages from the first whole one past it are unmapped, then
 * the cache is truncated (the kernel unmaps again afterwards, for pages a
 * racing fault mapped: none here).
 */
export function truncate_pagecache(mapping: AddressSpace, newsize: number): void {
  unmap_mapping_range(mapping, roundUp(newsize, PAGE_SIZE), Number.MAX_SAFE_INTEGER);
  truncate_inode_pages_range(mapping, newsize, -1);
}

/**
 * mm/truncate.c: truncate_pagecache_range — bytes [lstart, lend] inclusive:
 * the whole pages of the range are unmapped first (unmap_mapping_range),
 * then the page cache is truncated.
 */
export function truncate_pagecache_range(mapping: AddressSpace, lstart: number, lend: number): void {
  const end = lend < 0 ? Number.MAX_SAFE_INTEGER : lend + 1;
  unmap_mapping_range(mapping, roundUp(lstart, PAGE_SIZE), roundDown(end, PAGE_SIZE));
  truncate_inode_pages_range(mapping, lstart, lend);
}

/** Page index of byte `pos`. */
export function pageIndex(pos: number): number {
  return Math.floor(pos / PAGE_SIZE);
}

/**
 * mm/truncate.c: pagecache_isize_extended — i_size grew from `from` to `to`.
 * With blocks smaller than a page, the folio straddling the old EOF may
 * hold bytes beyond it (stored through mmap); it is write-protected so the
 * next store faults, and if dirty, its part in [from, to) is zeroed before
 * it becomes part of the file.
 */
export function pagecache_isize_extended(mapping: AddressSpace, blockSize: number, from: number, to: number): void {
  if (from >= to || blockSize >= PAGE_SIZE) return;
  const roundedFrom = roundUp(from, blockSize);
  if (to <= roundedFrom || roundedFrom % PAGE_SIZE === 0) return;
  const folio = mapping.lookup(Math.floor(from / PAGE_SIZE));
  if (folio === undefined) return;
  if (folio.mkclean()) {
    // folio_mkclean: the PTE was dirty, so the folio is marked dirty.
    folio.setDirty(true);
  }
  if (folio.dirty) {
    const end = Math.min(to, folio.end);
    if (end > from) folioWrite(folio, from, zeroData(end - from));
  }
}

/**
 * mm/page-writeback.c: the folio dirty/writeback transitions and the
 * writeback iterator.
 */
import type { AddressSpace, WritebackControl } from './filemap.ts';
import type { Folio } from './folio.ts';
import { cover } from '../lib/coverage.ts';

/**
 * folio_clear_dirty_for_io: write-protect the folio's user mappings
 * (folio_mkclean; a dirty PTE would re-dirty the folio first, which the model
 * already did at the store) and clear the dirty flag.  True if it was dirty.
 */
export function folio_clear_dirty_for_io(folio: Folio): boolean {
  folio.mkclean(); // folio_mkclean: the next store faults (page_mkwrite)
  const was = folio.dirty;
  folio.setDirty(false);
  if (was) cover('folio: dirty -> clean');
  return was;
}

/** mm/page-writeback.c: __folio_start_writeback */
export function folio_start_writeback(folio: Folio): void {
  if (folio.writeback) throw new Error('model bug: folio_start_writeback on a folio under writeback');
  folio.setWriteback(true);
  cover('folio: writeback start');
}

/**
 * mm/filemap.c: folio_end_writeback — clear PG_writeback; a dropbehind
 * folio that is now clean is removed from the cache (folio_end_dropbehind).
 */
export function folio_end_writeback(mapping: AddressSpace, folio: Folio): void {
  if (!folio.writeback) throw new Error('model bug: folio_end_writeback on a folio not under writeback');
  folio.setWriteback(false);
  cover('folio: writeback end');
  if (folio.dropbehind && !folio.dirty && mapping.lookup(folio.index) === folio) mapping.remove(folio);
}

/** filemap_dirty_folio: mark the folio dirty (the dirty tag in the mapping follows). */
export function filemap_dirty_folio(mapping: AddressSpace, folio: Folio): boolean {
  const was = folio.dirty;
  folio.setDirty(true);
  if (!was) cover('folio: clean -> dirty');
  if (folio.writeback) cover('folio: dirtied under writeback');
  // __mark_inode_dirty(I_DIRTY_PAGES)
  mapping.dirtyPagesInode = true;
  return !was;
}

/**
 * mm/page-writeback.c: writeback_iter — the dirty folios of wbc's range, in
 * index order, each returned with its dirty flag cleared for I/O.  For data
 * integrity writeback (WB_SYNC_ALL) a folio under writeback is waited for
 * first; for background writeback it is skipped.
 */
export function* writeback_iter(mapping: AddressSpace, wbc: WritebackControl): Generator<Folio> {
  const folios = mapping.folioRange(wbc.start, wbc.end + 1);
  for (let i = 0; i < folios.length; i++) {
    const f = folios[i]!;
    if (!f.dirty) continue;
    if (f.writeback) {
      if (wbc.syncMode === 'none') continue;
      mapping.host.waitWriteback(f);
    }
    if (!folio_clear_dirty_for_io(f)) continue;
    yield f;
  }
}

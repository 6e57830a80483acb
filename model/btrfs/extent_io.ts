/**
 * fs/btrfs/extent_io.c: reading folios (btrfs_read_folio ->
 * btrfs_do_readpage) with their checksums verified, and the address space
 * operations (btrfs_aops).  Writeback goes through the iomap engine's
 * folio walk with btrfs's mapping and completion (inode.c).
 */
import type { Inode } from '../fs/inode.ts';
import type { AddressSpace, AddressSpaceOps } from '../mm/filemap.ts';
import { folioWrite } from '../mm/filemap.ts';
import type { Folio } from '../mm/folio.ts';
import { ifs_alloc, iomap_invalidate_folio, iomap_is_partially_uptodate, iomap_release_folio, iomap_set_range_uptodate, iomap_writepages, readDevice } from '../iomap/buffered-io.ts';
import { concatData, zeroData } from '../lib/content.ts';
import type { Span } from '../lib/content.ts';
import { EAGAIN, EIO } from '../lib/errno.ts';
import { BTRFS_I } from './btrfs_inode.ts';
import { btrfs_data_csum_ok } from './file-item.ts';
import { btrfs_end_ioend, btrfs_writepages_map } from './inode.ts';

/** The inode of a btrfs mapping (folio->mapping->host). */
function inodeOf(mapping: AddressSpace): Inode {
  return mapping.host as Inode;
}

/**
 * btrfs_do_readpage: bring the folio's blocks uptodate — beyond EOF,
 * holes, preallocated extents and delalloc read as zeroes, an inline
 * extent from its item, a regular extent from the device with each block's
 * checksum verified: a mismatch fails the read (EIO; the folio stays not
 * uptodate, so the next read tries again).  With `noio` only what needs no
 * device read is done.
 */
export function btrfs_read_folio(mapping: AddressSpace, folio: Folio, noio = false): number {
  const inode = inodeOf(mapping);
  if (folio.uptodate) return 0;
  const bs = inode.blockSize;
  const bi = BTRFS_I(inode);
  for (let pos = folio.pos; pos < folio.end; pos += bs) {
    const i = (pos - folio.pos) / bs;
    if (folio.ifs !== null && folio.ifs.uptodate[i] === 1) continue;
    const lblk = pos / bs;
    let data: Span[];
    const at = inode.extents.find(lblk);
    if (pos >= inode.i_size) data = zeroData(bs);
    else if (lblk === 0 && bi.inline !== null) data = concatData(bi.inline, zeroData(bs - bi.inline.reduce((n, s) => n + s.len, 0)));
    else if (at === undefined || at.v.type !== 'mapped') data = zeroData(bs);
    else {
      if (noio) return -EAGAIN;
      const pblk = at.v.pblk + (lblk - at.start);
      const d = readDevice(inode.sb.k, inode, pos, pblk * bs, bs);
      if (typeof d === 'number') return d;
      // btrfs_check_read_bio: "csum failed ... mirror 1"; no other copy of the data on a single profile.
      if (!btrfs_data_csum_ok(inode, pblk, d)) return -EIO;
      data = d;
    }
    folioWrite(folio, pos, data);
    ifs_alloc(inode, folio);
    iomap_set_range_uptodate(inode, folio, pos - folio.pos, bs);
  }
  folio.uptodate = true;
  return 0;
}

/** btrfs_aops */
export const btrfs_aops: AddressSpaceOps = {
  writepages(mapping, wbc) {
    const inode = inodeOf(mapping);
    return iomap_writepages(inode.sb.k, inode, wbc, {
      map_blocks: (pos, len) => btrfs_writepages_map(inode, pos, len),
      end_ioend: (io) => btrfs_end_ioend(inode, io),
      bufferHeads: false,
    });
  },
  read_folio: btrfs_read_folio,
  release_folio: iomap_release_folio,
  invalidate_folio: (_mapping, folio, offset, len) => iomap_invalidate_folio(folio, offset, len),
  is_partially_uptodate: (mapping, folio, from, count) => iomap_is_partially_uptodate(inodeOf(mapping), folio, from, count),
};

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
import { concatData, splitData, zeroData } from '../lib/content.ts';
import { BIO_MAX_VECS, PAGE_SIZE } from '../block/blk-settings.ts';
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
  const ctl: BioCtrl = { inode, bbio: null, err: 0 };
  const err = btrfs_do_readpage(ctl, folio, noio);
  submit_one_bio(ctl);
  if (err < 0) return err;
  return ctl.err < 0 ? ctl.err : 0;
}

/** struct btrfs_bio_ctrl, for reads: the bbio being built (a file- and device-contiguous run of blocks, in folio pieces). */
interface BioCtrl {
  readonly inode: Inode;
  bbio: { pos: number; pblk: number; blocks: number; pieces: Array<[Folio, number]> } | null;
  /** The first failure: a failed bbio or a checksum mismatch. */
  err: number;
}

/**
 * btrfs_do_readpage: the folio's blocks that are not uptodate — beyond EOF,
 * holes, preallocated extents and delalloc zeroed, an inline extent copied
 * from its item, a regular extent's blocks added to the bbio being built
 * when they follow it on the device (submit_extent_folio), else to a new
 * one.  With `noio`, -EAGAIN at the first block that needs a device read.
 */
function btrfs_do_readpage(ctl: BioCtrl, folio: Folio, noio: boolean): number {
  const { inode } = ctl;
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
      const b = ctl.bbio;
      if (b !== null && b.pos + b.blocks * bs === pos && b.pblk + b.blocks === pblk && (b.blocks + 1) * bs <= BIO_MAX_VECS * PAGE_SIZE) {
        b.blocks++;
        b.pieces.push([folio, pos]);
      } else {
        submit_one_bio(ctl);
        ctl.bbio = { pos, pblk, blocks: 1, pieces: [[folio, pos]] };
      }
      continue;
    }
    folioWrite(folio, pos, data);
    ifs_alloc(inode, folio);
    iomap_set_range_uptodate(inode, folio, pos - folio.pos, bs);
  }
  return 0;
}

/**
 * submit_one_bio and its completion (end_bbio_data_read), at once: a
 * failed bbio leaves all of its blocks not uptodate; otherwise each block
 * whose checksum matches becomes uptodate (btrfs_check_read_bio: "csum
 * failed ... mirror 1", no other copy of the data on a single profile).
 */
function submit_one_bio(ctl: BioCtrl): void {
  const b = ctl.bbio;
  if (b === null) return;
  ctl.bbio = null;
  const { inode } = ctl;
  const bs = inode.blockSize;
  const d = readDevice(inode.sb.k, inode, b.pos, b.pblk * bs, b.blocks * bs);
  if (typeof d === 'number') {
    if (ctl.err === 0) ctl.err = d;
    return;
  }
  const parts = b.blocks === 1 ? [d] : splitData(d, b.pieces.map(() => bs));
  for (let j = 0; j < b.pieces.length; j++) {
    const [folio, pos] = b.pieces[j]!;
    const data = parts[j]!;
    if (!btrfs_data_csum_ok(inode, b.pblk + j, data)) {
      if (ctl.err === 0) ctl.err = -EIO;
      continue;
    }
    folioWrite(folio, pos, data);
    ifs_alloc(inode, folio);
    iomap_set_range_uptodate(inode, folio, pos - folio.pos, bs);
  }
}

/** btrfs_readahead: the new folios of a readahead window (in file order) read through one bio control, so that device-contiguous blocks share a bbio across folios. */
export function btrfs_readahead(mapping: AddressSpace, folios: readonly Folio[]): void {
  const ctl: BioCtrl = { inode: inodeOf(mapping), bbio: null, err: 0 };
  for (const folio of folios) if (!folio.uptodate) btrfs_do_readpage(ctl, folio, false);
  submit_one_bio(ctl);
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
  readahead: btrfs_readahead,
  release_folio: iomap_release_folio,
  invalidate_folio: (_mapping, folio, offset, len) => iomap_invalidate_folio(folio, offset, len),
  is_partially_uptodate: (mapping, folio, from, count) => iomap_is_partially_uptodate(inodeOf(mapping), folio, from, count),
};

/**
 * fs/iomap/ioend.c: the unit of buffered writeback I/O.  An ioend covers a
 * contiguous file range mapped to a contiguous device range of one type; its
 * completion runs the file system's end_io (unwritten conversion, on-disk
 * size) and ends writeback on the folios it covers.
 */
import { fscrypt_fs_scheme, fscrypt_mergeable_bio, fscrypt_set_bio_crypt_ctx } from '../crypto/inline_crypt.ts';
import { sliceData } from '../lib/content.ts';
import { Bio } from '../block/bio.ts';
import { BIO_MAX_VECS, PAGE_SIZE } from '../block/blk-settings.ts';
import type { Kernel } from '../kernel.ts';
import type { Folio } from '../mm/folio.ts';
import { folioBytes, mapping_set_error } from '../mm/filemap.ts';
import { folio_end_writeback } from '../mm/page-writeback.ts';
import type { Inode } from '../fs/inode.ts';
import type { Iomap } from './iomap.ts';
import { IOMAP_F_SHARED, iomapAddr } from './iomap.ts';

export interface IoendPiece {
  readonly folio: Folio;
  /** File position. */
  readonly pos: number;
  readonly len: number;
}

export interface Ioend {
  readonly req: number;
  readonly ino: number;
  /** File byte offset of the first byte. */
  readonly offset: number;
  size: number;
  /** Device byte address of the first byte. */
  readonly addr: number;
  /** IOMAP_IOEND_UNWRITTEN */
  readonly unwritten: boolean;
  /** IOMAP_IOEND_SHARED */
  readonly shared: boolean;
  readonly pieces: IoendPiece[];
  bios: Bio[];
  /** Bios not yet completed. */
  pending: number;
  error: number;
}

/** The file system's writeback hooks. */
export interface WritebackOps {
  /**
   * Map (allocating delalloc) file byte `pos` for writeback; the mapping may
   * cover up to `len` bytes (or, for a file system that gathers dirty blocks
   * across folios, up to `rangeEnd`, wbc->range_end).
   */
  map_blocks(pos: number, len: number, rangeEnd: number): Iomap | number;
  /** ioend completion: unwritten conversion, on-disk size update. */
  end_ioend(ioend: Ioend): number;
  /**
   * Buffer-head writeback (ext4_bio_write_folio): the buffers of blocks at
   * or past EOF are zeroed, cleaned and set uptodate (the folio flag is not).
   */
  readonly bufferHeads: boolean;
}

export interface WritepageCtx {
  ioend: Ioend | null;
  submitted: Ioend[];
}

/** iomap_ioend_writeback_submit: build the ioend's bios and submit them; the last completion finishes the ioend. */
export function ioendSubmit(k: Kernel, inode: Inode, wb: WritebackOps, ioend: Ioend): void {
  // Build bios of at most BIO_MAX_VECS bvecs, one bvec per folio piece page.
  let bio: Bio | null = null;
  let addr = ioend.addr;
  let filePos = ioend.offset;
  // For a device that checksums what it receives: which folio bytes each bio transfers.
  const stable = k.disk.limits.stable_writes;
  const vecs = new Map<Bio, Array<[Folio, number, number]>>();
  const mk = (): Bio => {
    const b = new Bio('write', 0, addr / 512, { kind: 'writeback', ino: inode.ino, pos: filePos, step: k.step });
    b.crypt = fscrypt_set_bio_crypt_ctx(inode, filePos);
    // ext4_bio_write_folio: without inline encryption the folio is encrypted into a bounce page.
    b.fsCrypt = inode.crypt !== null && b.crypt === null;
    if (b.fsCrypt) b.fsCrypto = fscrypt_fs_scheme(inode, filePos);
    b.req = ioend.req;
    ioend.bios.push(b);
    return b;
  };
  for (const piece of ioend.pieces) {
    let off = 0;
    while (off < piece.len) {
      const p = piece.pos + off;
      // io_submit_need_new_bio: a new bio when full or when the DUN does not continue (fscrypt_mergeable_bio).
      if (bio === null || bio.bvecs.length >= BIO_MAX_VECS || !fscrypt_mergeable_bio(bio.crypt, bio.size, inode, p)) bio = mk();
      // ext4_bio_write_folio adds one buffer head at a time: an inline-encrypted file's block is its own piece.
      const bs = inode.blockSize;
      const n = Math.min(PAGE_SIZE - (p % PAGE_SIZE), piece.len - off, bio?.crypt ? bs - (p % bs) : Number.MAX_SAFE_INTEGER);
      bio.addVec(p % PAGE_SIZE, n, folioBytes(piece.folio, p, n));
      if (stable) {
        const list = vecs.get(bio) ?? [];
        list.push([piece.folio, p, n]);
        vecs.set(bio, list);
      }
      off += n;
      addr += n;
      filePos += n;
    }
  }
  for (const [b, list] of vecs) b.live = liveFolios(list);
  // One failed bio fails the whole ioend (its completion converts and remaps nothing).
  for (const b of ioend.bios) b.ioRange = { pos: ioend.offset, len: ioend.size };
  ioend.pending = ioend.bios.length;
  // One completion for every bio of the ioend, made in a local (see GC_PRETENURED_CLOSURES in scripts/v8-flags.mjs).
  const endio = (done: Bio): void => {
    if (done.status !== 0 && ioend.error === 0) ioend.error = done.status;
    ioend.pending -= 1;
    if (ioend.pending === 0) iomap_finish_ioend_buffered(inode, wb, ioend);
  };
  for (const b of ioend.bios) b.endio = endio;
  for (const b of ioend.bios.slice()) k.submit_bio(b);
}

/** What a stable-writes device would transfer now for a writeback bio: its folio pieces as they are at that moment. */
function liveFolios(list: ReadonlyArray<[Folio, number, number]>): NonNullable<Bio['live']> {
  return (rel, len) => sliceData(list.flatMap(([f, p, n]) => folioBytes(f, p, n)), rel, len);
}

/**
 * iomap_finish_ioend_buffered (after the file system's completion work):
 * record an error on the mapping and end writeback on every folio whose
 * pending bytes reach zero; folios stay clean even on error.
 */
function iomap_finish_ioend_buffered(inode: Inode, wb: WritebackOps, ioend: Ioend): void {
  // The file system's completion sees failed ioends too (it converts nothing, and cancels COW staging).
  const e = wb.end_ioend(ioend);
  if (e < 0 && ioend.error === 0) ioend.error = e;
  if (ioend.error !== 0) mapping_set_error(inode.mapping, ioend.error);
  for (const piece of ioend.pieces) {
    const f = piece.folio;
    f.setWbReqs(f.wbReqs.filter((r) => r !== ioend.req));
    if (f.ifs !== null) {
      f.ifs.writeBytesPending -= piece.len;
      if (f.ifs.writeBytesPending > 0) continue;
    } else if (f.wbReqs.length > 0) continue;
    if (f.writeback) folio_end_writeback(inode.mapping, f);
  }
}

export function addToIoend(k: Kernel, inode: Inode, wb: WritebackOps, wpc: WritepageCtx, m: Iomap, folio: Folio, pos: number, len: number): void {
  const addr = iomapAddr(m, pos);
  const unwritten = m.type === 'unwritten';
  const shared = (m.flags & IOMAP_F_SHARED) !== 0;
  const cur = wpc.ioend;
  if (cur === null || cur.unwritten !== unwritten || cur.shared !== shared || cur.offset + cur.size !== pos || cur.addr + cur.size !== addr) {
    if (cur !== null) {
      wpc.submitted.push(cur);
      ioendSubmit(k, inode, wb, cur);
    }
    wpc.ioend = { req: k.newReq(), ino: inode.ino, offset: pos, size: 0, addr, unwritten, shared, pieces: [], bios: [], pending: 0, error: 0 };
  }
  const io = wpc.ioend!;
  io.size += len;
  io.pieces.push({ folio, pos, len });
  if (!folio.wbReqs.includes(io.req)) folio.setWbReqs([...folio.wbReqs, io.req]);
}

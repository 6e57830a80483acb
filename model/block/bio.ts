/**
 * Bios and bvecs (include/linux/blk_types.h, include/linux/bvec.h,
 * block/bio.c).  A bvec is a piece of user or kernel memory with its own
 * address, so memory alignment is visible to the splitter; a write bvec also
 * carries the symbolic content it transfers.
 */
import type { Span } from '../lib/content.ts';
import { pushSpan, sliceData } from '../lib/content.ts';
import { SECTOR_SHIFT } from './blk-settings.ts';
import type { DunScheme } from '../crypto/crypto.ts';

export type ReqOp = 'read' | 'write' | 'flush';

/** Request flags (include/linux/blk_types.h: enum req_flag_bits). */
export const REQ_SYNC = 1 << 0;
export const REQ_META = 1 << 1;
export const REQ_FUA = 1 << 2;
export const REQ_PREFLUSH = 1 << 3;
export const REQ_NOWAIT = 1 << 4;
export const REQ_ATOMIC = 1 << 5;
export const REQ_IDLE = 1 << 6;

/** blk_status_t, as the negative errno blk_status_to_errno gives. */
export type BlkStatus = number;

export interface Bvec {
  /** Virtual address of the first byte (user or kernel memory). */
  readonly addr: number;
  readonly len: number;
}

/** What a bio is for, for traces and invariants. */
export interface BioOrigin {
  readonly kind: 'dio' | 'dio-zero' | 'writeback' | 'writethrough' | 'read' | 'readahead' | 'zeroout' | 'flush' | 'journal';
  readonly ino: number;
  /** File byte position of the first byte, when it maps file data. */
  readonly pos: number;
  /** Step number that created it. */
  readonly step: number;
}

/** fscrypt/blk-crypto context attached to a bio (include/linux/blk-crypto.h: struct bio_crypt_ctx). */
export interface BioCryptCtx {
  readonly key: number;
  readonly dataUnitSize: number;
  /** DUN of the first data unit of the bio. */
  readonly dun: number;
  readonly dunBytes: number;
}

let nextBioId = 1;

/** Reset bio numbering so that a fresh model run numbers bios from 1. */
export function resetBioIds(): void {
  nextBioId = 1;
}

export class Bio {
  readonly id: number;
  op: ReqOp;
  opf: number;
  /** bi_iter.bi_sector */
  sector: number;
  bvecs: Bvec[];
  /** Write payload: exactly `size` bytes. */
  data: Span[];
  /** Read payload, filled at completion. */
  readData: Span[] = [];
  status: BlkStatus = 0;
  endio: ((bio: Bio) => void) | null = null;
  /** bio_chain: the parent completes when all its children have. */
  parent: Bio | null = null;
  remaining = 1;
  /**
   * Model bookkeeping: the failed write pieces of this bio and of the bios
   * split off it, held until this bio completes: the submitter's end_io (and
   * its mapping_set_error) sees the error only then (Disk.failedWrites).
   */
  readonly failedParts: Bio[] = [];
  crypt: BioCryptCtx | null = null;
  /** The payload was encrypted by the file system before submission (fscrypt bounce pages, no inline engine). */
  fsCrypt = false;
  /** File-system-layer en/decryption of this bio's data (writes: before submission; reads: after completion). */
  fsCrypto: DunScheme | null = null;
  /** Merged into a request behind another bio: the DUN the engine uses for this bio's first data unit. */
  mergedDun: number | null = null;
  origin: BioOrigin;
  /** Bytes, as bi_iter.bi_size. */
  size: number;
  /** Set when this bio was split off the front of another. */
  splitFrom: number | null = null;
  /** The I/O request (one DIO call, one writeback ioend, ...) this bio belongs to. */
  req = 0;
  /** Byte offset of this bio's first byte inside the bio it was split from (reads deliver data there). */
  relOff = 0;
  /** Where a read bio's data goes, shared by all parts of a split bio. */
  sink: ((relOff: number, data: Span[]) => void) | null = null;
  /**
   * A write's memory as the device would transfer it now, by offset in the
   * unsplit bio (null: kernel memory nobody changes, such as a bounce buffer).
   * `data` is what it held at submission, when protection information was
   * generated (bio_integrity_prep).
   */
  live: ((relOff: number, len: number) => Span[]) | null = null;
  /**
   * `live` reads a user's buffer (a zero-copy direct write), not a folio.
   * When the device transfers is not specified; the model picks, per kind,
   * the timing that exposes more: a user buffer is read at completion
   * (after a racing store: a checksum computed at submission no longer
   * matches what is stored), a folio at submission (a store after it is
   * not on disk, while the folio may be marked clean).
   */
  liveIsUserMemory = false;
  /** The device found the data it transferred different from the checksum (a guard tag error). */
  piMismatch = false;
  /**
   * The file range whose completion this bio's failure fails as a whole (a
   * writeback ioend: no part of it is converted or remapped), if wider than the bio.
   */
  ioRange: { readonly pos: number; readonly len: number } | null = null;

  constructor(op: ReqOp, opf: number, sector: number, origin: BioOrigin) {
    this.id = nextBioId++;
    this.op = op;
    this.opf = opf;
    this.sector = sector;
    this.bvecs = [];
    this.data = [];
    this.size = 0;
    this.origin = origin;
  }

  get byteAddr(): number {
    return this.sector << SECTOR_SHIFT;
  }

  /** bio_add_page without merging: one bvec per call. */
  addVec(addr: number, len: number, data: readonly Span[] | null): void {
    this.bvecs.push({ addr, len });
    // The bytes as runs: a page-by-page bio of one buffer is one span, not one per page.
    if (data !== null) for (const s of data) pushSpan(this.data, s);
    this.size += len;
  }
}

/**
 * bio_split: the first `bytes` bytes of `bio` become a new bio chained to
 * `bio`'s completion; `bio` keeps the rest (block/bio.c: bio_split, bio_chain).
 */
export function bio_split(bio: Bio, bytes: number, advanceDun = true): Bio {
  const front = new Bio(bio.op, bio.opf, bio.sector, bio.origin);
  front.crypt = bio.crypt;
  front.fsCrypt = bio.fsCrypt;
  front.splitFrom = bio.id;
  front.req = bio.req;
  front.sink = bio.sink;
  front.live = bio.live;
  front.ioRange = bio.ioRange;
  front.fsCrypto = bio.fsCrypto;
  if (bio.fsCrypto !== null) {
    const base = bio.fsCrypto;
    const k = bytes / base.dataUnitSize;
    bio.fsCrypto = { ...base, dunOf: (u) => base.dunOf(u + k) };
  }
  front.relOff = bio.relOff;
  bio.relOff += bytes;
  let left = bytes;
  const rest: Bvec[] = [];
  for (const v of bio.bvecs) {
    if (left >= v.len) {
      front.bvecs.push(v);
      left -= v.len;
    } else if (left > 0) {
      front.bvecs.push({ addr: v.addr, len: left });
      rest.push({ addr: v.addr + left, len: v.len - left });
      left = 0;
    } else {
      rest.push(v);
    }
  }
  front.size = bytes;
  if (bio.op === 'write') {
    front.data = sliceData(bio.data, 0, bytes);
    bio.data = sliceData(bio.data, bytes, bio.size - bytes);
  }
  bio.bvecs = rest;
  bio.size -= bytes;
  bio.sector += bytes >> SECTOR_SHIFT;
  // bio_chain(front, bio): bio completes only after front has.
  front.parent = bio;
  bio.remaining += 1;
  // The crypt context of the remainder advances by the data units split off
  // (bio_crypt_advance in block/blk-crypto.c).
  if (bio.crypt !== null && advanceDun) {
    bio.crypt = { ...bio.crypt, dun: bio.crypt.dun + Math.floor(bytes / bio.crypt.dataUnitSize) };
  }
  // PREFLUSH belongs to the first part only; FUA to every part.
  bio.opf &= ~REQ_PREFLUSH;
  return front;
}

/**
 * fs/iomap/ioend.c: the unit of buffered writeback I/O.  An ioend covers a
 * contiguous file range mapped to a contiguous device range of one type; its
 * completion runs the file system's end_io (unwritten conversion, on-disk
 * size) and ends writeback on the folios it covers.
 */
import type { Folio } from '../mm/folio.ts';
import type { Bio } from '../block/bio.ts';

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

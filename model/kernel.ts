/**
 * The services every modelled kernel function can reach: the disk and the
 * block layer, the current step, the design variant in force, the source
 * table and the event log the invariants read.  (In the kernel these are
 * globals and pointer chains; here they are one object passed down.)
 */
import type { Bio } from './block/bio.ts';
import type { Disk } from './block/disk.ts';
import type { IomapPair } from './iomap/iomap.ts';
import type { SourceTable } from './lib/sources.ts';
import type { Knobs } from './variants.ts';
import type { AlignedWrite } from './fs/super.ts';

/** Things that happen inside a step that invariants and traces look at. */
export type ModelEvent =
  | {
      readonly t: 'mapping';
      readonly ops: string;
      readonly ino: number;
      readonly pos: number;
      readonly len: number;
      readonly flags: number;
      readonly pair: IomapPair;
      /** The data fork at `pos` when the mapping was returned, if written there: the disk byte of `pos`, and whether its block is shared. */
      readonly data: { readonly addr: number; readonly shared: boolean } | null;
    }
  | { readonly t: 'bio-submit'; readonly bio: Bio }
  | { readonly t: 'bio-queue'; readonly bio: Bio }
  | { readonly t: 'bio-split'; readonly front: Bio; readonly rest: Bio }
  | { readonly t: 'bio-complete'; readonly bio: Bio }
  | { readonly t: 'commit'; readonly tid: number }
  | { readonly t: 'alloc'; readonly ino: number; readonly lblk: number; readonly pblk: number; readonly len: number; readonly unwritten: boolean; readonly align?: AlignedWrite }
  | { readonly t: 'free'; readonly ino: number; readonly pblk: number; readonly len: number }
  /** ext4_mb_normalize_request grew a request for file blocks [lblk, lblk+len) to [start, start+size). */
  | {
      readonly t: 'mb-normalize';
      readonly ino: number;
      readonly lblk: number;
      readonly len: number;
      readonly start: number;
      readonly size: number;
      readonly bpg: number;
      /** File block ranges the file had mapped or preallocated at the time, with which. */
      readonly taken: ReadonlyArray<readonly [number, number, string]>;
    }
  /** An allocation that had to be aligned (an atomic write's, the RFC's EXT4_MB_HINT_ALIGNED) failed with ENOSPC. */
  | { readonly t: 'aligned-alloc-fail'; readonly ino: number; readonly lblk: number; readonly len: number }
  | { readonly t: 'note'; readonly text: string };

/**
 * One bit per ModelEvent type: the types a step recorded, or a check
 * reads, as one number (checker/execute.ts calls an event check only at a
 * step that recorded one of its types).
 */
export const EVENT_BIT = {
  mapping: 1 << 0,
  'bio-submit': 1 << 1,
  'bio-queue': 1 << 2,
  'bio-split': 1 << 3,
  'bio-complete': 1 << 4,
  commit: 1 << 5,
  alloc: 1 << 6,
  free: 1 << 7,
  'mb-normalize': 1 << 8,
  'aligned-alloc-fail': 1 << 9,
  note: 1 << 10,
} as const satisfies Record<ModelEvent['t'], number>;

export interface Kernel {
  readonly disk: Disk;
  readonly v: Knobs;
  readonly sources: SourceTable;
  /** The step being executed (1-based). */
  step: number;
  /** A fresh I/O request id (groups the bios of one DIO call or ioend). */
  newReq(): number;
  /** submit_bio: through the block layer to the disk. */
  submit_bio(bio: Bio): void;
  /** Wait for every bio of request `req` (completes them). */
  wait_req(req: number): void;
  emit(e: ModelEvent): void;
  /**
   * Model bookkeeping for the oracle: file data [pos, pos+len) of inode
   * `ino` that was written back without an I/O error of its own and that
   * the file system dropped anyway (btrfs: a block of an ordered extent
   * another bio of which failed).  Reported with the step's failed writeback
   * bios (StepOutcome.ioErrors).
   */
  lostWriteback(ino: number, pos: number, len: number): void;
  /** Events are recorded only when someone (an invariant, a trace) listens. */
  readonly recording: boolean;
}

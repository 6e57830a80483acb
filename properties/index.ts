/**
 * The invariant registry.
 */
import type { Invariant } from './invariant.ts';
import { cowPartialBlockPreserved, cowSourceUnchanged, dsyncDurable, durabilityFsync, noLostWrite, noStaleExposure, readYourWrites } from './data.ts';
import { alignedWhenRequired, noDoubleAllocation, noLeakAfterRemount, refcountConsistent } from './alloc.ts';
import { validMapping } from './iomap.ts';
import { noBufferedFallback, noTornWrite, singleUnsplitBio } from './atomic.ts';
import { dioAlignmentEnforced, dunMatchesPosition, noDunWrapInBio, noPlaintextOnDisk, noSplitDataUnit } from './crypto.ts';
import { dirtyIffDirtyBlocks, noCleanWhileBlockDirty, stableUnderWriteback, writebackIffIoInFlight } from './folio.ts';
import { fsyncReportsWritebackError } from './errors.ts';
import { checksumMatchesData } from './integrity.ts';

export const INVARIANTS: readonly Invariant[] = [
  readYourWrites,
  noStaleExposure,
  noLostWrite,
  durabilityFsync,
  dsyncDurable,
  cowSourceUnchanged,
  cowPartialBlockPreserved,
  noTornWrite,
  noBufferedFallback,
  singleUnsplitBio,
  noSplitDataUnit,
  dunMatchesPosition,
  noDunWrapInBio,
  dioAlignmentEnforced,
  noPlaintextOnDisk,
  noDoubleAllocation,
  noLeakAfterRemount,
  refcountConsistent,
  alignedWhenRequired,
  validMapping,
  dirtyIffDirtyBlocks,
  noCleanWhileBlockDirty,
  writebackIffIoInFlight,
  stableUnderWriteback,
  fsyncReportsWritebackError,
  checksumMatchesData,
];

/**
 * Not a property of the kernel: the model checks its own assertions (a
 * folio starting writeback twice, a journal delta for an unknown inode) and
 * a failed one is reported, shrunk and saved like any violation.
 */
export const MODEL_INTERNAL: Invariant = {
  id: 'model/no-internal-error',
  statement: 'The model never fails one of its own consistency assertions (a bug in iospec, not in the kernel).',
  source: 'iospec',
  oracle: false,
  events: false,
  check: null,
};

export function findInvariant(id: string): Invariant | undefined {
  return id === MODEL_INTERNAL.id ? MODEL_INTERNAL : INVARIANTS.find((i) => i.id === id);
}

export type { Invariant, CheckContext } from './invariant.ts';

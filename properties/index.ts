/**
 * The invariant registry: every invariant the checker knows, in the order
 * they are reported; `InvariantId` (properties/ids.ts) is made of their ids.
 */
import type { Invariant } from './invariant.ts';
import { invariant } from './invariant.ts';
import { cowPartialBlockPreserved, cowSourceUnchanged, dsyncDurable, durabilityFsync, noLostWrite, noStaleExposure, readYourWrites } from './data.ts';
import { alignedFailsOnlyWhenNoneFree, alignedWhenRequired, mbNormalizeBounds, noDoubleAllocation, noLeakAfterRemount, preallocAccounted, refcountConsistent } from './alloc.ts';
import { validMapping } from './iomap.ts';
import { noBufferedFallback, noTornWrite, singleUnsplitBio } from './atomic.ts';
import { dioAlignmentEnforced, dunMatchesPosition, noDunWrapInBio, noPlaintextOnDisk, noSplitDataUnit } from './crypto.ts';
import { dirtyIffDirtyBlocks, noCleanWhileBlockDirty, stableUnderWriteback, writebackIffIoInFlight } from './folio.ts';
import { fsyncReportsWritebackError } from './errors.ts';
import { checksumMatchesData, noFalseChecksumError } from './integrity.ts';
import type { InvariantId } from './ids.ts';

export const DECLARED_INVARIANTS = [
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
  preallocAccounted,
  mbNormalizeBounds,
  alignedFailsOnlyWhenNoneFree,
  validMapping,
  dirtyIffDirtyBlocks,
  noCleanWhileBlockDirty,
  writebackIffIoInFlight,
  stableUnderWriteback,
  fsyncReportsWritebackError,
  checksumMatchesData,
  noFalseChecksumError,
] as const;

export const INVARIANTS: readonly Invariant<InvariantId>[] = DECLARED_INVARIANTS;

/**
 * Not a property of the kernel: the model checks its own assertions (a
 * folio starting writeback twice, a journal delta for an unknown inode);
 * a step that fails one has an `internal` result (checker/execute.ts), which
 * is reported, shrunk and saved like any violation.
 */
export const MODEL_INTERNAL = invariant({
  id: 'model/no-internal-error',
  statement: 'The model never fails one of its own consistency assertions (a bug in iospec, not in the kernel).',
  source: 'iospec',
  kind: 'state',
  events: [],
  check: (ctx) => (ctx.out.result.internal !== undefined ? `step ${ctx.n}: ${ctx.out.result.internal}` : null),
});

export function findInvariant(id: string): Invariant<InvariantId> | undefined {
  return id === MODEL_INTERNAL.id ? MODEL_INTERNAL : INVARIANTS.find((i) => i.id === id);
}

/** Is `id` an invariant id this iospec knows? */
export function isInvariantId(id: string): id is InvariantId {
  return findInvariant(id) !== undefined;
}

export type { Invariant, CheckContext, OracleInvariant, StateInvariant } from './invariant.ts';
export type { InvariantId } from './ids.ts';

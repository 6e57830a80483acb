/**
 * The invariant registry.
 */
import type { Invariant } from './invariant.ts';
import { durabilityFsync, noStaleExposure, readYourWrites } from './data.ts';
import { noDoubleAllocation, noLeakAfterRemount } from './alloc.ts';
import { dirtyIffDirtyBlocks, writebackIffIoInFlight } from './folio.ts';

export const INVARIANTS: readonly Invariant[] = [
  readYourWrites,
  noStaleExposure,
  durabilityFsync,
  noDoubleAllocation,
  noLeakAfterRemount,
  dirtyIffDirtyBlocks,
  writebackIffIoInFlight,
];

export function findInvariant(id: string): Invariant | undefined {
  return INVARIANTS.find((i) => i.id === id);
}

export type { Invariant, CheckContext } from './invariant.ts';

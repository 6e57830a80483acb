/**
 * What an invariant is: a stable id a reviewer can cite, a statement, its
 * source, and how it is decided — reachable from the declaration either way:
 *
 * - `state` invariants look at the model after each step (allocation,
 *   folio flags, bios): `check` returns a violation detail or null;
 * - `oracle` invariants are about what calls return (reads, sizes,
 *   errors): the oracle (oracle/oracle.ts) reports what it observed as
 *   facts (oracle/facts.ts), and `decides` says which facts break this
 *   invariant.  Every fact is decided by exactly one invariant.
 */
import type { System, StepOutcome } from '../model/system.ts';
import type { Step } from '../scenario/schema.ts';
import type { OracleFact } from '../oracle/facts.ts';
import type { ModelEvent } from '../model/kernel.ts';

export interface CheckContext {
  readonly step: Step;
  /** Step number, 1-based. */
  readonly n: number;
  readonly out: StepOutcome;
  readonly sys: System;
}

interface InvariantBase<Id extends string> {
  /** Stable id `family/kebab-name`. */
  readonly id: Id;
  /** One paragraph a reviewer can quote. */
  readonly statement: string;
  /** Kernel function, seed file or documentation it comes from. */
  readonly source: string;
}

/** Decided from the model's state after a step. */
export interface StateInvariant<Id extends string = string> extends InvariantBase<Id> {
  readonly kind: 'state';
  /**
   * The types of the step's model events (bios, mappings, allocations) the
   * check reads, and nothing else of the step: it is called only after a
   * step that recorded one of them.  Empty for a check of the whole state,
   * called after every step.
   */
  readonly events: ReadonlyArray<ModelEvent['t']>;
  /** A violation detail, or null. */
  check(ctx: CheckContext): string | null;
}

/** Decided from what the oracle observed. */
export interface OracleInvariant<Id extends string = string> extends InvariantBase<Id> {
  readonly kind: 'oracle';
  /** Is this fact a violation of this invariant? */
  decides(f: OracleFact): boolean;
}

export type Invariant<Id extends string = string> = StateInvariant<Id> | OracleInvariant<Id>;

/** Declare an invariant, keeping its id's literal type (the InvariantId union is made of them). */
export function invariant<const Id extends string>(inv: StateInvariant<Id>): StateInvariant<Id>;
export function invariant<const Id extends string>(inv: OracleInvariant<Id>): OracleInvariant<Id>;
export function invariant<const Id extends string>(inv: Invariant<Id>): Invariant<Id> {
  return inv;
}

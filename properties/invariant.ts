/**
 * What an invariant is: a stable id a reviewer can cite, a statement, its
 * source, and a check.  Invariants about what reads return are decided by
 * the oracle (oracle/oracle.ts); invariants about the model's internal state
 * (allocation, folio flags, bios) look at the System after each step.
 */
import type { System, StepOutcome } from '../model/system.ts';
import type { Step } from '../scenario/schema.ts';

export interface CheckContext {
  readonly step: Step;
  /** Step number, 1-based. */
  readonly n: number;
  readonly out: StepOutcome;
  readonly sys: System;
}

export interface Invariant {
  /** Stable id `family/kebab-name`. */
  readonly id: string;
  /** One paragraph a reviewer can quote. */
  readonly statement: string;
  /** Kernel function, seed file or documentation it comes from. */
  readonly source: string;
  /** Decided by the oracle from what reads return. */
  readonly oracle: boolean;
  /** Needs the model's event log (bios, mappings). */
  readonly events: boolean;
  /** State check after a step: a violation detail, or null. */
  readonly check: ((ctx: CheckContext) => string | null) | null;
}

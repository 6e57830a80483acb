/**
 * What a known limitation is: a difference between the model and this
 * machine's kernel with its reason, matched against a disagreement.  The
 * generic ones are in kernel/limitations.ts, each file system's in its
 * harness (model/fs/registry.ts).
 */
import type { StepResult } from '../model/system.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import type { Step } from '../scenario/schema.ts';
import type { Disagreement } from './compare.ts';

export interface DisagreementContext {
  readonly system: ResolvedSystem;
  readonly steps: readonly Step[];
  /** 0-based index of the step that disagrees. */
  readonly index: number;
  readonly d: Disagreement;
  readonly model: readonly StepResult[];
  readonly kernel: readonly StepResult[];
}

export interface Limitation {
  readonly name: string;
  readonly reason: string;
  readonly matches: (c: DisagreementContext) => boolean;
}

/** The steps before the one that disagrees. */
export function stepsBefore(c: DisagreementContext): readonly Step[] {
  return c.steps.slice(0, c.index);
}

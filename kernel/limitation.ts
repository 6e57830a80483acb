/**
 * What a known limitation is: a difference between the model and this
 * machine's kernel with its reason, matched against a disagreement.  The
 * generic ones are in kernel/limitations.ts, each file system's in its
 * harness (model/fs/registry.ts).
 */
import type { SuperBlock } from '../model/fs/super.ts';
import type { StepResult } from '../model/system.ts';
import { System } from '../model/system.ts';
import { Knobs } from '../model/variants.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import type { Step } from '../scenario/schema.ts';
import type { Disagreement } from './compare.ts';
import { compareResults } from './compare.ts';

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

/**
 * Did the model's state satisfy `reached` after some step before the one
 * that disagrees?  For a limitation about something the kernel does in a
 * state the model enters without doing it (allocating a tree block).
 */
export function modelReachedBefore(c: DisagreementContext, reached: (sb: SuperBlock) => boolean): boolean {
  const sys = new System(c.system, new Knobs(), { recording: false });
  try {
    for (let i = 0; i < c.index; i++) {
      sys.exec(c.steps[i]!, i + 1);
      if (reached(sys.sb)) return true;
    }
  } catch {
    // A model error explains nothing.
  }
  return false;
}

/**
 * Would the model give the kernel's answers, up to and including the step
 * that disagrees, had the scenario also done `extra(step, index)` after each
 * step?  For a limitation that names something the kernel did on its own
 * (a transaction commit, a writeback) that the model can be asked to do.
 */
export function agreesWithExtraSteps(c: DisagreementContext, extra: (s: Step, i: number) => readonly Step[]): boolean {
  const sys = new System(c.system, new Knobs(), { recording: false });
  let n = 0;
  try {
    for (let i = 0; i <= c.index; i++) {
      const s = c.steps[i];
      const k = c.kernel[i];
      if (s === undefined || k === undefined || compareResults(sys.exec(s, ++n).result, k) !== null) return false;
      if (i < c.index) for (const x of extra(s, i)) sys.exec(x, ++n);
    }
  } catch {
    // A model error explains nothing: the disagreement is reported as it is.
    return false;
  }
  return true;
}

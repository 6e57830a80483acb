/**
 * Running a scenario on the model: one result per step.
 */
import type { StepOutcome, StepResult } from '../model/system.ts';
import { System } from '../model/system.ts';
import type { LoadedScenario } from './load.ts';

export interface ModelRun {
  readonly results: StepResult[];
  readonly outcomes: StepOutcome[];
  readonly system: System;
}

/** Execute every step of a scenario on a fresh model. */
export function runOnModel(sc: LoadedScenario, onResult?: (r: StepResult) => void): ModelRun {
  const sys = new System(sc.system, sc.knobs, { recording: false });
  const results: StepResult[] = [];
  const outcomes: StepOutcome[] = [];
  sc.doc.steps.forEach((step, i) => {
    const o = sys.exec(step, i + 1);
    results.push(o.result);
    outcomes.push(o);
    onResult?.(o.result);
  });
  return { results, outcomes, system: sys };
}

/** The result as printed: model-only extras dropped unless asked for. */
export function printable(r: StepResult, extras: boolean): StepResult {
  if (extras) return r;
  const { crash: _c, completed: _d, ...rest } = r;
  return rest;
}

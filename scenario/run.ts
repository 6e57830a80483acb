/**
 * Running a scenario on the model: one result per step.
 */
import type { StepOutcome, StepResult } from '../model/system.ts';
import { System } from '../model/system.ts';
import type { LoadedScenario } from './load.ts';
import { hexByte } from '../model/lib/content.ts';

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

/** A result as `iospec run` prints it: the bytes read as [value, length] runs with the value in hex, as traces and xfs_io -S write it. */
export type PrintedResult = Omit<StepResult, 'data'> & { data?: Array<[string, number]> };

/** The result as printed: data runs in hex; model-only extras dropped unless asked for. */
export function printable(r: StepResult, extras: boolean): PrintedResult {
  const { data, crash, completed, ...rest } = r;
  return {
    ...rest,
    ...(data !== undefined ? { data: data.map(([v, n]): [string, number] => [hexByte(v), n]) } : {}),
    ...(extras && crash !== undefined ? { crash } : {}),
    ...(extras && completed !== undefined ? { completed } : {}),
  };
}

/**
 * `iospec bench`: how fast the model runs.  Figures, not tests: speed goals
 * are checked by reading these numbers, never by timed tests.
 */
import fc from 'fast-check';
import { System } from '../model/system.ts';
import { UPSTREAM } from '../model/variants.ts';
import { resolveSystem } from '../scenario/resolve.ts';
import type { SystemDoc } from '../scenario/schema.ts';
import { arbRecipe, resolve } from '../checker/generate.ts';
import type { Recipe } from '../checker/generate.ts';
import { runChecked } from '../checker/execute.ts';
import type { StepSource } from '../checker/execute.ts';
import { INVARIANTS } from '../properties/index.ts';

export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly detail: string;
}

function recipes(n: number, seed: number): Recipe[] {
  return fc.sample(arbRecipe(), { numRuns: n, seed });
}

/** Model steps per second on one long random sequence, without the oracle. */
export function modelSpeed(system: SystemDoc, steps: number, seed: number): { stepsPerSecond: number; steps: number; ms: number } {
  const rs = recipes(steps, seed);
  const sys = new System(resolveSystem(system), UPSTREAM, { recording: false });
  let n = 0;
  const t0 = performance.now();
  const exec = (src: ReturnType<typeof resolve> | StepSource): void => {
    if (typeof src === 'function') {
      const out = src(sys);
      for (const x of Array.isArray(out) ? out : [out]) exec(x as StepSource);
      return;
    }
    if (Array.isArray(src)) {
      for (const x of src) exec(x as StepSource);
      return;
    }
    n++;
    sys.exec(src, n);
  };
  for (const r of rs) exec(resolve(r, sys));
  const ms = performance.now() - t0;
  return { stepsPerSecond: Math.round(n / (ms / 1000)), steps: n, ms: Math.round(ms) };
}

/** Checker steps per second: model + oracle + every invariant, on one long sequence. */
export function checkerSpeed(system: SystemDoc, steps: number, seed: number): { stepsPerSecond: number; steps: number; ms: number } {
  const rs = recipes(steps, seed);
  const t0 = performance.now();
  const r = runChecked(resolveSystem(system), UPSTREAM, rs.map((x) => (s: System) => resolve(x, s) as StepSource | StepSource[]), INVARIANTS);
  const ms = performance.now() - t0;
  return { stepsPerSecond: Math.round(r.steps.length / (ms / 1000)), steps: r.steps.length, ms: Math.round(ms) };
}

export function runBench(opts: { steps: number; seed: number }): BenchFigure[] {
  const out: BenchFigure[] = [];
  for (const fs of ['ext4', 'xfs'] as const) {
    const m = modelSpeed({ fs }, opts.steps, opts.seed);
    out.push({ name: `model.${fs}.stepsPerSecond`, value: m.stepsPerSecond, unit: 'steps/s', detail: `${m.steps} steps of one random sequence in ${m.ms} ms (model only)` });
    const c = checkerSpeed({ fs }, opts.steps, opts.seed);
    out.push({ name: `checker.${fs}.stepsPerSecond`, value: c.stepsPerSecond, unit: 'steps/s', detail: `${c.steps} steps in ${c.ms} ms with the oracle and all invariants` });
  }
  return out;
}

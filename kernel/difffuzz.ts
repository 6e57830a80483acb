/**
 * `iospec diff --fuzz`: differential fuzzing of the model against this
 * machine's kernel.  Scenarios come from the checker's generators,
 * constrained to what the kernel runner can express (no model-only steps,
 * crashes that keep all of what the device accepted or, through the FUSE
 * recorder, none of what was not flushed; loop-device geometry); each
 * runs on both, and the first disagreement is minimised against both and
 * saved as a scenario file with the kernel's answers.
 */
import fc from 'fast-check';
import type { StepResult } from '../model/system.ts';
import { UPSTREAM } from '../model/variants.ts';
import { runChecked } from '../checker/execute.ts';
import type { StepSource } from '../checker/execute.ts';
import type { Recipe } from '../checker/generate.ts';
import { arbRecipes, resolve } from '../checker/generate.ts';
import { ensureRecorder } from './build.ts';
import { judgeKernelRun } from '../checker/kernel-judge.ts';
import { knownFinding } from '../checker/findings.ts';
import type { KnownFinding } from '../checker/findings.ts';
import { INVARIANTS } from '../properties/index.ts';
import type { Violation } from '../checker/execute.ts';
import type { System } from '../model/system.ts';
import { formatScenario } from '../checker/counterexample.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import { resolveSystem } from '../scenario/resolve.ts';
import type { ScenarioDoc, Step, SystemDoc } from '../scenario/schema.ts';
import { compareResults } from './compare.ts';
import type { Disagreement } from './compare.ts';
import { explain } from './limitations.ts';
import { runOnKernel } from './runner.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { DiffTarget } from './diff-target.ts';
import { join } from 'node:path';

export interface DiffFuzzOptions {
  /** What to fuzz: a file system type's differential target (its harness's diffTargets). */
  readonly target: DiffTarget;
  readonly count: number;
  readonly seed: number;
  readonly timeMs: number;
  readonly maxSteps: number;
  readonly out: string | null;
  /** Kernel runs allowed for minimising one disagreement. */
  readonly shrinkBudget: number;
  readonly onProgress?: (done: number, total: number, found: number) => void;
  /**
   * Run only the scenarios whose number n (1 to count) has n - 1 = index
   * mod count: one worker's share of `diff --fuzz --jobs N` (every worker
   * draws the same inputs from the seed).  Default: all of them.
   */
  readonly slice?: Slice;
  /** Asked before each scenario: true ends the run there (a worker whose parent is gone). */
  readonly shouldStop?: () => boolean;
}

/** Worker `index` (0-based) of `count`. */
export interface Slice {
  readonly index: number;
  readonly count: number;
}

export interface FoundDisagreement {
  /** The scenario's number in the run (1 to --count): the same for every --jobs. */
  readonly scenario: number;
  readonly step: number;
  readonly op: string;
  readonly field: string;
  readonly model: unknown;
  readonly kernel: unknown;
  readonly limitation: string | null;
  readonly steps: number;
  readonly file: string | null;
}

export interface DiffFuzzReport {
  readonly fs: string;
  readonly scenarios: number;
  readonly steps: number;
  readonly agreed: number;
  readonly disagreements: FoundDisagreement[];
  readonly limitations: Record<string, number>;
  /** Scenarios with a crash that keeps a subset: compared up to it, judged by the oracle after it. */
  readonly crashSubsets: number;
  readonly elapsedMs: number;
}

const KERNEL_WEIGHTS = { writeback: 0, complete: 0, journal_commit: 0, reclaim: 0, device_error: 0 } as const;

export interface Input {
  readonly system: SystemDoc;
  readonly recipes: Recipe[];
}

/** A generated input's system (its writeback done at each step's end, as the loop device does), concrete steps and model results. */
export function onModel(t: DiffTarget, input: Input): { cfg: ResolvedSystem; steps: Step[]; results: StepResult[] } {
  // The kernel's loop device completes background writeback long before the next step.
  input.system.device = { ...input.system.device, completion: 'step-end' };
  const cfg = resolveSystem(input.system);
  const sources: StepSource[] = [...(t.prefix ?? []), ...input.recipes.map((r) => (s: System) => resolve(r, s) as StepSource | StepSource[])];
  const r = runChecked(cfg, UPSTREAM, sources, [], {});
  return { cfg, steps: r.steps, results: r.results };
}

/**
 * The first step where the answers differ, up to the first crash that keeps
 * a subset of the writes not flushed: after it the kernel holds the
 * recorder's subset of its own writes, not the model's, and its answers are
 * judged by the oracle instead (partialCrashViolation).
 */
function firstDiff(steps: readonly Step[], model: readonly StepResult[], kernel: readonly StepResult[]): { index: number; d: Disagreement } | null {
  const partial = partialCrash(steps);
  const upTo = partial < 0 ? model.length : Math.min(model.length, partial + 1);
  for (let i = 0; i < upTo; i++) {
    const k = kernel[i];
    if (k === undefined) return { index: i, d: { field: 'result', model: model[i], kernel: 'missing' } };
    const d = compareResults(model[i]!, k);
    if (d !== null) return { index: i, d };
  }
  return null;
}

/** Does this step crash keeping a subset of the writes not flushed (a keep list or a pattern)? */
export function isSubsetCrash(s: Step): boolean {
  return s.op === 'crash' && ((s.keep !== undefined && typeof s.keep !== 'string') || s.pattern !== undefined);
}

/** The first crash that keeps a subset of the writes not flushed, or -1. */
export function partialCrash(steps: readonly Step[]): number {
  return steps.findIndex(isSubsetCrash);
}

/**
 * After a crash that keeps a subset, the kernel's answers judged by the
 * model's oracle (checker/kernel-judge.ts); a known upstream finding is not
 * a disagreement.
 */
export function partialCrashViolation(cfg: ResolvedSystem, doc: ScenarioDoc['system'], steps: readonly Step[], kernel: readonly StepResult[]): Violation | null {
  const j = partialCrashJudgement(cfg, doc, steps, kernel);
  return j === null || j.finding !== null ? null : j.violation;
}

/** The same judgement, with the known upstream finding a violation comes from (or null). */
export function partialCrashJudgement(cfg: ResolvedSystem, doc: ScenarioDoc['system'], steps: readonly Step[], kernel: readonly StepResult[]): { violation: Violation; finding: KnownFinding | null } | null {
  const p = partialCrash(steps);
  if (p < 0) return null;
  const v = judgeKernelRun(cfg, steps, kernel, p + 2, INVARIANTS);
  return v === null ? null : { violation: v, finding: knownFinding(doc, steps, kernel, v) };
}

async function both(cfg: ResolvedSystem, steps: readonly Step[]): Promise<{ model: StepResult[]; kernel: StepResult[]; diff: { index: number; d: Disagreement } | null }> {
  const model = runChecked(cfg, UPSTREAM, steps, [], {}).results;
  const kernel = await runOnKernel(cfg, steps);
  return { model, kernel, diff: firstDiff(steps, model, kernel) };
}

/** Delta debugging on the concrete steps, keeping the same kind of disagreement. */
async function minimise(cfg: ResolvedSystem, steps: Step[], first: { index: number; d: Disagreement }, budget: number): Promise<{ steps: Step[]; kernel: StepResult[]; model: StepResult[]; diff: { index: number; d: Disagreement } }> {
  const key = (s: readonly Step[], x: { index: number; d: Disagreement }) => `${s[x.index]!.op}:${x.d.field.split('.')[0]}`;
  const want = key(steps, first);
  let cur = steps.slice(0, first.index + 1);
  let best = await both(cfg, cur);
  if (best.diff === null) return { steps, ...(await both(cfg, steps)), diff: first };
  let runs = 1;
  let changed = true;
  while (changed && runs < budget) {
    changed = false;
    for (let i = cur.length - 2; i >= 0 && runs < budget; i--) {
      const cand = cur.slice(0, i).concat(cur.slice(i + 1));
      const r = await both(cfg, cand);
      runs++;
      if (r.diff !== null && key(cand, r.diff) === want) {
        cur = cand.slice(0, r.diff.index + 1);
        best = r;
        changed = true;
      }
    }
  }
  return { steps: cur, model: best.model, kernel: best.kernel, diff: best.diff! };
}

/**
 * The differential generator of a target: the checker's, without the
 * model-only steps (writeback, complete, journal_commit, reclaim and the
 * crash preparations that use them) and without device_error (the kernel
 * runner can fail sectors, README "Failing sectors", but only over the
 * FUSE recorder and not on btrfs or after an XFS clone).  With the FUSE
 * recorder (`recorder`) a crash may keep any subset of the writes not
 * flushed: all and none exactly as the model does, a subset judged by the
 * oracle afterwards (the kernel's writes are not the model's).
 */
export function diffArbitrary(t: DiffTarget, maxSteps: number, recorder: boolean): fc.Arbitrary<Input> {
  const paths = t.paths ?? ['f', 'g', 'd/h'];
  return fc.record({
    system: t.systems,
    recipes: arbRecipes(maxSteps, { weights: KERNEL_WEIGHTS, paths, crashKeep: recorder ? undefined : 'all', realKernel: true, placement: t.placement === true }, Math.ceil(maxSteps / 2)),
  });
}

export async function diffFuzz(o: DiffFuzzOptions): Promise<DiffFuzzReport> {
  const t0 = Date.now();
  const t = o.target;
  const inputs = fc.sample(diffArbitrary(t, o.maxSteps, 'bin' in ensureRecorder()), { numRuns: o.count, seed: o.seed });
  const report: { scenarios: number; steps: number; agreed: number; disagreements: FoundDisagreement[]; limitations: Record<string, number>; crashSubsets: number } = {
    crashSubsets: 0,
    scenarios: 0,
    steps: 0,
    agreed: 0,
    disagreements: [],
    limitations: {},
  };
  const slice = o.slice ?? { index: 0, count: 1 };
  for (let n = 1; n <= inputs.length; n++) {
    if ((n - 1) % slice.count !== slice.index) continue;
    const input = inputs[n - 1]!;
    if (Date.now() - t0 > o.timeMs || o.shouldStop?.() === true) break;
    const { cfg, ...m } = onModel(t, input);
    const kernel = await runOnKernel(cfg, m.steps);
    report.scenarios++;
    report.steps += m.steps.length;
    const diff = firstDiff(m.steps, m.results, kernel);
    if (partialCrash(m.steps) >= 0) report.crashSubsets++;
    const judged = diff === null ? partialCrashViolation(cfg, input.system, m.steps, kernel) : null;
    if (judged !== null) {
      // After a crash keeping a subset, the kernel's answers broke an invariant the oracle judges.
      let file: string | null = null;
      if (o.out !== null) {
        mkdirSync(o.out, { recursive: true });
        file = join(o.out, `crash-${t.name}-${o.seed}-${n}.json`);
        writeFileSync(file, formatScenario({ format: 'iospec-scenario/1', name: `${t.label} kernel breaks ${judged.invariant} after a crash that keeps a subset`, description: `Found by iospec diff --fuzz (seed ${o.seed}): after the crash at step ${partialCrash(m.steps) + 1}, which keeps a subset of the writes not flushed (the FUSE recorder applies it to its own log of the kernel's writes), the kernel's answers break ${judged.invariant} at step ${judged.step}: ${judged.detail}`, system: input.system, steps: m.steps, expect: kernel as unknown as Array<Record<string, unknown>> }));
      }
      report.disagreements.push({ scenario: n, step: judged.step, op: m.steps[judged.step - 1]!.op, field: `invariant ${judged.invariant}`, model: 'what the oracle allows after the crash', kernel: judged.detail, limitation: null, steps: m.steps.length, file });
    } else if (diff === null) {
      report.agreed++;
    } else {
      let lim = explain({ system: cfg, steps: m.steps, index: diff.index, d: diff.d, model: m.results, kernel });
      const min = lim === null ? await minimise(cfg, m.steps, diff, o.shrinkBudget) : null;
      if (lim === null && min !== null) lim = explain({ system: cfg, steps: min.steps, index: min.diff.index, d: min.diff.d, model: min.model, kernel: min.kernel });
      if (lim !== null) {
        report.limitations[lim.name] = (report.limitations[lim.name] ?? 0) + 1;
      } else if (min !== null) {
        let file: string | null = null;
        if (o.out !== null) {
          mkdirSync(o.out, { recursive: true });
          const doc: ScenarioDoc = {
            format: 'iospec-scenario/1',
            name: `model and ${t.label} kernel disagree on ${min.steps[min.diff.index]!.op} (${min.diff.d.field})`,
            description: `Found by iospec diff --fuzz (seed ${o.seed}). At step ${min.diff.index + 1} the model answers ${JSON.stringify(min.diff.d.model)} and the kernel ${JSON.stringify(min.diff.d.kernel)}.`,
            system: input.system,
            steps: min.steps,
            expect: min.kernel as unknown as Array<Record<string, unknown>>,
            meta: { disagreement: { step: min.diff.index + 1, field: min.diff.d.field, model: min.diff.d.model, kernel: min.diff.d.kernel }, seed: o.seed },
          };
          file = join(o.out, `diff-${t.name}-${o.seed}-${n}.json`);
          writeFileSync(file, formatScenario(doc));
        }
        report.disagreements.push({
          scenario: n,
          step: min.diff.index + 1,
          op: min.steps[min.diff.index]!.op,
          field: min.diff.d.field,
          model: min.diff.d.model,
          kernel: min.diff.d.kernel,
          limitation: null,
          steps: min.steps.length,
          file,
        });
      }
    }
    o.onProgress?.(report.scenarios, o.count, report.disagreements.length);
  }
  return { fs: t.label, ...report, elapsedMs: Date.now() - t0 };
}

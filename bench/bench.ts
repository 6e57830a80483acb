/**
 * `iospec bench`: how fast the model runs.  Figures, not tests: speed goals
 * are checked by reading these numbers, never by timed tests.
 */
import { fs_types } from '../model/filesystems.ts';
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
import { check, knobsOf, minimizeSteps } from '../checker/check.ts';
import { loadScenario } from '../scenario/load.ts';
import { runOnModel } from '../scenario/run.ts';
import { KernelUnavailable, kernelUnsupportedReason, runOnKernel } from '../kernel/runner.ts';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { GCProfiler } from 'node:v8';
import { bundleIsFresh } from '../scripts/bundle.mjs';
import { join } from 'node:path';
import type { Step } from '../scenario/schema.ts';
import { exhaustive } from '../checker/exhaustive.ts';
import { knownFinding } from '../checker/findings.ts';
import { defaultJobs, NO_SHARD, progressOf, workerArgv, workerSeed } from '../checker/jobs.ts';
import { VARIANTS } from '../model/variants.ts';
import type { VariantInfo } from '../model/variants.ts';

export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly detail: string;
}

function recipes(n: number, seed: number): Recipe[] {
  return fc.sample(arbRecipe(), { numRuns: n, seed });
}

/**
 * Run recipes on a model, no oracle, no invariants: all of them once, or
 * (`cycle`) round and round until `limit` steps.  Returns the steps run.
 */
function runRecipes(sys: System, rs: readonly Recipe[], limit: number, cycle = false): number {
  let n = 0;
  // A stack of what is left to run, as runChecked keeps it (no array per step for the harness).
  const stack: Array<StepSource | ReturnType<typeof resolve>> = [];
  const exec = (first: ReturnType<typeof resolve>): void => {
    stack.push(first);
    for (let src = stack.pop(); src !== undefined; src = stack.pop()) {
      if (typeof src === 'function') {
        const out = src(sys);
        if (Array.isArray(out)) for (let i = out.length - 1; i >= 0; i--) stack.push(out[i] as StepSource);
        else stack.push(out as StepSource);
      } else if (Array.isArray(src)) {
        for (let i = src.length - 1; i >= 0; i--) stack.push(src[i] as StepSource);
      } else {
        if (n >= limit && !cycle) {
          stack.length = 0;
          return;
        }
        n++;
        sys.exec(src as Step, n);
      }
    }
  };
  if (cycle) for (let i = 0; n < limit; i = (i + 1) % rs.length) exec(resolve(rs[i]!, sys));
  else for (let i = 0; i < rs.length && n < limit; i++) exec(resolve(rs[i]!, sys));
  return n;
}

/** What one speed figure measured. */
export interface Speed {
  readonly stepsPerSecond: number;
  readonly steps: number;
  readonly ms: number;
  /** Every timed round's steps per second, in order (warm figures). */
  readonly rounds: readonly number[];
  /** The untimed rounds before them (warm figures). */
  readonly untimed: number;
}

/**
 * Warm rounds: V8 compiles a function with its optimizing compiler only once
 * it is hot, and the model has hundreds of them: the first seconds of any
 * run are slower (a 25,000-step sequence runs at a third to a half of its
 * later speed the first time).  `check` spends seconds to hours past that
 * point, so the figure is the steady one: untimed rounds on fresh systems
 * (at least `warmup` of them, for at least `warmupMs`), then the median of
 * the timed rounds (at least `timed` of them, for at least `timedMs`).
 * Three untimed and three timed rounds were too few for XFS on this host
 * (2026-12-05, ten fresh processes, each timing sixteen rounds in a row
 * after ext4's bench): the second round ran at 64-114k steps/s and most
 * processes were level at 100-140k from the fourth or fifth, but four of
 * the ten ran at 69-98k for 8 to 16 rounds (2-4 s): two rose to 102-117k
 * after that, two were still there at their last round.  Traced
 * (--trace-opt --trace-deopt), a slow process compiled and deoptimized the
 * same functions as a fast one, and its recovery came with no compile or
 * deopt near it; six more processes an hour later were all level at
 * 100-130k: spells of a slow host, which a median of three rounds (under
 * a second) cannot outlast.  In bench runs 32 and 33 of 2026-12-04, XFS's
 * figure was 83k and 88k where the same process's later rounds (the
 * checker's) timed the same model at 126k and 101k.
 */
export const WARM = { warmup: 3, warmupMs: 3000, timed: 5, timedMs: 6000 } as const;

type Rounds = { readonly warmup: number; readonly warmupMs?: number; readonly timed: number; readonly timedMs?: number };

/** Run `round` at least `n` times and for at least `ms`; the results. */
function repeat<T>(round: () => T, n: number, ms: number): T[] {
  const t0 = performance.now();
  const rs: T[] = [];
  while (rs.length < n || performance.now() - t0 < ms) rs.push(round());
  return rs;
}

function warm(round: () => { steps: number; ms: number }, rounds: Rounds = WARM): Speed {
  const untimed = repeat(round, rounds.warmup, rounds.warmupMs ?? 0).length;
  return medianSpeed(repeat(round, Math.max(1, rounds.timed), rounds.timedMs ?? 0), untimed);
}

/** The median of timed rounds, with each round's steps per second; `untimed` rounds ran before them. */
function medianSpeed(rs: ReadonlyArray<{ steps: number; ms: number }>, untimed: number): Speed {
  const per = rs.map((r) => Math.round(r.steps / (Math.max(r.ms, 0.001) / 1000)));
  const mid = [...rs].sort((a, b) => a.steps / a.ms - b.steps / b.ms)[Math.floor(rs.length / 2)]!;
  return { stepsPerSecond: Math.round(mid.steps / (Math.max(mid.ms, 0.001) / 1000)), steps: mid.steps, ms: Math.round(mid.ms), rounds: per, untimed };
}

/** One timed run of the model alone on `rs`, up to `limit` steps. */
function modelRound(system: SystemDoc, rs: readonly Recipe[], limit: number): { steps: number; ms: number } {
  const sys = new System(resolveSystem(system), UPSTREAM, { recording: false });
  const t0 = performance.now();
  const n = runRecipes(sys, rs, limit);
  return { steps: n, ms: performance.now() - t0 };
}

/** Model steps per second on one long random sequence, without the oracle (warm: see WARM). */
export function modelSpeed(system: SystemDoc, steps: number, seed: number, rounds = WARM): Speed {
  const rs = recipes(steps, seed);
  return warm(() => modelRound(system, rs, Number.MAX_SAFE_INTEGER), rounds);
}

/**
 * A soak of the model alone: `steps` steps on one system, the generated
 * recipes (20,000 of them) cycled until the count is reached.
 */
export function soakSpeed(system: SystemDoc, steps: number, seed: number): { steps: number; ms: number } {
  const rs = recipes(20_000, seed);
  const sys = new System(resolveSystem(system), UPSTREAM, { recording: false });
  const t0 = performance.now();
  const n = runRecipes(sys, rs, steps, true);
  return { steps: n, ms: Math.round(performance.now() - t0) };
}

/**
 * The conformance corpus (test/conformance/) on the model and on this
 * machine's kernel: total time of each, and the ratio.  Null when the
 * kernel cannot be used here.
 */
export async function corpusRatio(dir: string): Promise<{ scenarios: number; modelMs: number; kernelMs: number } | null> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  let modelMs = 0;
  let kernelMs = 0;
  let n = 0;
  for (const f of files) {
    const sc = loadScenario(join(dir, f));
    if (kernelUnsupportedReason(sc.system) !== null) continue;
    const t0 = performance.now();
    runOnModel(sc);
    modelMs += performance.now() - t0;
    const t1 = performance.now();
    try {
      await runOnKernel(sc.system, sc.doc.steps);
    } catch (e) {
      if (e instanceof KernelUnavailable) return null;
      throw e;
    }
    kernelMs += performance.now() - t1;
    n++;
  }
  return { scenarios: n, modelMs: Math.round(modelMs), kernelMs: Math.round(kernelMs) };
}

/** One timed run of the checker (model, oracle and every invariant) on `rs`. */
function checkerRound(system: SystemDoc, rs: readonly Recipe[]): { timing: { steps: number; ms: number }; run: ReturnType<typeof runChecked> } {
  const srcs = rs.map((x) => (s: System) => resolve(x, s) as StepSource | StepSource[]);
  const t0 = performance.now();
  const run = runChecked(resolveSystem(system), UPSTREAM, srcs, INVARIANTS);
  return { timing: { steps: run.steps.length, ms: performance.now() - t0 }, run };
}

/** The checker against the model alone on the same steps: see checkerOverModel. */
export interface OverModel {
  readonly model: Speed;
  readonly checker: Speed;
  /** The median of the rounds' checker/model ratios, and each. */
  readonly ratio: number;
  readonly ratios: readonly number[];
  /** Where the checker stopped before the sequence's end: the invariant and step (a known upstream finding, or a bug). */
  readonly stopped: { readonly invariant: string; readonly step: number; readonly finding: string | null } | null;
}

/**
 * The checker's speed over the model's, on the same steps, in rounds of
 * one model run then one checker run (warm: untimed rounds first, as for
 * WARM; then at least nine timed rounds over at least WARM.timedMs): a
 * drift of the host's speed weighs on both of a round alike, and the
 * figure is the median of the rounds' ratios.  Nine rounds alone were too
 * short a time on this host: ext4's rounds are 17,037 steps (about 0.1 s
 * of model, 0.2 s of checker), and bench run 38 (2026-12-05) had nine
 * ratios from 0.38 to 0.75 and a median of 0.49, where the fourteen runs
 * before had 0.51-0.55.  Where the checker stops
 * early (a sequence that runs into a known upstream finding), the model is
 * timed on the steps the checker ran, not on more.
 */
export function checkerOverModel(system: SystemDoc, steps: number, seed: number, rounds: Rounds = { ...WARM, timed: 9 }): OverModel {
  const rs = recipes(steps, seed);
  const first = checkerRound(system, rs).run;
  const limit = first.steps.length;
  const v = first.violation;
  const stopped = v === null ? null : { invariant: v.invariant, step: v.step, finding: knownFinding(system, first.steps, first.results, v)?.id ?? null };
  const round = (): { m: { steps: number; ms: number }; c: { steps: number; ms: number } } => ({ m: modelRound(system, rs, limit), c: checkerRound(system, rs).timing });
  const untimed = repeat(round, rounds.warmup, rounds.warmupMs ?? 0).length;
  const timed = repeat(round, Math.max(1, rounds.timed), rounds.timedMs ?? 0);
  const ratios = timed.map(({ m, c }) => Math.round(((c.steps / c.ms) / (m.steps / m.ms)) * 100) / 100);
  const ratio = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!;
  return { model: medianSpeed(timed.map((r) => r.m), untimed), checker: medianSpeed(timed.map((r) => r.c), untimed), ratio, ratios, stopped };
}

/**
 * Time to the first (shrunk) counterexample on a variant, over seeds 1..n,
 * each run capped at `capMs`: the median and the maximum, and the longest
 * shrunk counterexample.  A seed that finds nothing within the cap counts
 * as the cap (and is reported).
 */
export function variantCatchTimes(v: VariantInfo, seeds: number, capMs: number): { medianMs: number; maxMs: number; maxSteps: number; missed: number } {
  const times: number[] = [];
  let maxSteps = 0;
  let missed = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const t0 = performance.now();
    const r = check({ invariants: INVARIANTS, variant: v, seed, runs: 1_000_000_000, maxSteps: 40, timeMs: capMs });
    times.push(performance.now() - t0);
    if (r.counterexample === null) missed++;
    else maxSteps = Math.max(maxSteps, r.counterexample.steps.length);
  }
  times.sort((a, b) => a - b);
  return { medianMs: Math.round(times[Math.floor(times.length / 2)]!), maxMs: Math.round(times[times.length - 1]!), maxSteps, missed };
}

/**
 * Shrinking a long failing run: about `noise` random steps (generated on
 * the variant, the checker's own generators) followed by a saved
 * counterexample of the variant; the seeds are tried in turn until the
 * whole run still fails after step `noise`.  Returns the time
 * minimizeSteps takes and the length it ends with.
 */
export function shrinkSpeed(variant: string, cxFile: string, noise: number, seed: number): { ms: number; from: number; to: number; invariant: string } | null {
  const v = VARIANTS.find((x) => x.name === variant)!;
  const knobs = knobsOf(v);
  const cx = loadScenario(cxFile);
  for (let s = seed; s < seed + 20; s++) {
    const rs = recipes(noise, s);
    const pre = runChecked(cx.system, knobs, rs.map((x) => (sys: System) => resolve(x, sys) as StepSource | StepSource[]), []);
    const full: Step[] = [...pre.steps.slice(0, noise), ...cx.doc.steps];
    const r = runChecked(cx.system, knobs, full, INVARIANTS);
    if (r.violation === null || r.violation.step <= noise) continue;
    const t0 = performance.now();
    const min = minimizeSteps(cx.doc.system, knobs, full, INVARIANTS, r.violation.invariant);
    return { ms: Math.round(performance.now() - t0), from: r.steps.length, to: min.steps.length, invariant: r.violation.invariant };
  }
  return null;
}

/** Long failing runs to shrink: durability, atomic writes through a crash (both file systems), folio states. */
const SHRINK_CASES: ReadonlyArray<readonly [string, string]> = [
  ['fsync-no-flush', 'counterexamples/fsync-no-flush.durability--fsync.1.json'],
  ['xfs-atomic-end-cow', 'counterexamples/xfs-atomic-end-cow.atomic--no-torn-write.1.json'],
  ['ext4-atomic-no-force-commit', 'counterexamples/ext4-atomic-no-force-commit.atomic--no-torn-write.1.json'],
  ['wt-partial-folio-clean', 'counterexamples/wt-partial-folio-clean.folio--dirty-iff-dirty-blocks.1.json'],
];

/** Median wall time of `iospec --version` in a new process (node's own start included), with the bundle and through tsx. */
function startupMs(tsx: boolean, times = 5): number {
  const bin = join(import.meta.dirname, '..', 'bin', 'iospec.mjs');
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, [bin, '--version'], { env: { ...process.env, IOSPEC_TSX: tsx ? '1' : '0' }, stdio: 'ignore' });
    ms.push(performance.now() - t0);
  }
  return Math.round(ms.sort((a, b) => a - b)[Math.floor(times / 2)]!);
}

/** A group of `check` worker processes that jobsInterleaved starts and stops together. */
interface WorkerGroup {
  readonly procs: ChildProcess[];
  /** Each process's last progress line: its steps, its own elapsed time, and when it arrived (performance.now()). */
  readonly last: Array<{ steps: number; elapsedMs: number; at: number }>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What jobsInterleaved measured (steps per second). */
export interface JobsFigures {
  /** The lone workers' rates, phase by phase (the two seeds in turn), and the N workers' (added up). */
  readonly lone: readonly number[];
  readonly together: readonly number[];
  /** Each cycle's ratio: its two N-worker phases over its two lone phases. */
  readonly ratios: readonly number[];
  /** The first `warmMs` of each group, start-up included: each lone worker's, and the N workers'. */
  readonly cold: { readonly lone: readonly number[]; readonly together: number };
}

/**
 * `iospec check --jobs 1` against `--jobs N` on upstream (every invariant,
 * sequences of up to 40 steps), warm and interleaved.  Three groups of
 * worker processes, each started as `check --jobs` starts its workers
 * (checker/jobs.ts: workerArgv): one lone worker on each of the N-worker
 * run's first two seeds, and the N workers.  One group runs at a time; the
 * others are stopped (SIGSTOP: no CPU, their memory idle).  Each group
 * first runs `warmMs` alone; then `cycles` cycles of four phases of
 * `phaseMs` (first lone, N, second lone, N), each counted from a second
 * after it starts, from the processes' own progress lines.  So both sides
 * are warm, and a spell of a slow host weighs on both alike.
 *
 * Why so (2026-12-05): one 70 s run of each, in the order 1, N, N, 1,
 * counted from 40 s, gave 1.78x, 2.41x and 1.62x in three bench runs within
 * the hour: a lone run at 38-56k steps/s and a pair at 77-104k, with the
 * host's speed moving as much within minutes; above 2 on two cores is a
 * slow spell of the host during the lone runs, not a gain.  Runs that short
 * are cold: each worker's optimizing compiler works for 10-20 s, and two
 * workers' compilers share the cores with them (in 10 s windows of a 60 s
 * run, two workers made 61k, 69k, 72k and 80k steps/s from 20 s on while
 * one alone was level from 20 s).  The lone workers draw the sequences of
 * the N workers' first two: a search's cost per step depends on its seed
 * for good (alone, the second worker's seed ran at 32-44k steps/s where
 * seed 1 ran at 36-61k, six pairs of 40 s runs, 2026-12-04).
 */
export async function jobsInterleaved(seed: number, n: number, warmMs: number, phaseMs: number, cycles: number): Promise<JobsFigures> {
  const SETTLE_MS = 1000;
  const lifetimeMs = 3 * warmMs + cycles * 4 * (phaseMs + SETTLE_MS) + 60_000;
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];
  const groups: WorkerGroup[] = [];
  const stepsOf = (g: WorkerGroup): number => g.last.reduce((sum, x) => sum + x.steps, 0);
  let failure: string | null = null;
  let done = false;
  const group = (seeds: readonly number[], shared: boolean): WorkerGroup => {
    const dir = mkdtempSync(join(tmpdir(), 'iospec-bench-jobs-'));
    dirs.push(dir);
    const g: WorkerGroup = { procs: [], last: seeds.map(() => ({ steps: 0, elapsedMs: 0, at: -Infinity })) };
    groups.push(g);
    seeds.forEach((s, i) => {
      const child = spawn(process.execPath, workerArgv({ seed: s, runs: 1_000_000_000, args: ['--max-steps', '40'], timeMs: lifetimeMs, dir, shared }), { stdio: ['ignore', 'ignore', 'pipe'] });
      child.kill('SIGSTOP');
      createInterface({ input: child.stderr! }).on('line', (line) => {
        const p = progressOf(line);
        if (p === null) return;
        g.last[i] = { steps: p.steps, elapsedMs: p.elapsedMs, at: performance.now() };
      });
      child.on('error', (e) => {
        failure ??= `the worker with seed ${s} could not run: ${e.message}`;
      });
      child.on('exit', (code, signal) => {
        if (!done) failure ??= `the worker with seed ${s} ended (${signal ?? `exit status ${code}`}) before the measurement did`;
      });
      g.procs.push(child);
      procs.push(child);
    });
    return g;
  };
  // Stopped workers cannot see that the bench is gone: they are killed with it, however it ends.
  const cleanUp = (): void => {
    for (const c of procs) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanUp();
    process.kill(process.pid, sig);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.once(sig, onSignal);
  process.on('exit', cleanUp);
  const check = (): void => {
    if (failure !== null) throw new Error(`bench: ${failure}`);
  };
  // Run a group for `ms`; its steps per second from `SETTLE_MS` on (or from the start, start-up included).
  const run = async (g: WorkerGroup, ms: number, settle: boolean): Promise<number> => {
    const resumed = performance.now();
    for (const c of g.procs) c.kill('SIGCONT');
    if (!settle) {
      await sleep(ms);
      for (const c of g.procs) c.kill('SIGSTOP');
      check();
      return Math.round(stepsOf(g) / (ms / 1000));
    }
    await sleep(SETTLE_MS);
    const a = g.last.map((x) => ({ ...x }));
    const others = groups.filter((x) => x !== g);
    const before = others.map(stepsOf);
    await sleep(ms);
    const b = g.last.map((x) => ({ ...x }));
    for (const c of g.procs) c.kill('SIGSTOP');
    check();
    // The method's own check: a stopped group made no steps.
    if (others.some((x, i) => stepsOf(x) !== before[i])) throw new Error('bench: a stopped group of workers made steps while another ran');
    // Each process's rate between two of its own progress lines of this phase (its own clock: no stopped time between them), added up.
    return Math.round(b.reduce((sum, x, i) => {
      const from = a[i]!;
      if (from.at < resumed || x.elapsedMs <= from.elapsedMs) throw new Error(`bench: a worker wrote no progress within ${SETTLE_MS} ms of being continued`);
      return sum + ((x.steps - from.steps) / (x.elapsedMs - from.elapsedMs)) * 1000;
    }, 0));
  };
  try {
    const seeds = Array.from({ length: n }, (_, w) => workerSeed(seed, NO_SHARD, w));
    const lone = [group([seeds[0]!], false), group([seeds[Math.min(1, n - 1)]!], false)];
    const together = group(seeds, n > 1);
    const cold = { lone: [await run(lone[0]!, warmMs, false), await run(lone[1]!, warmMs, false)], together: await run(together, warmMs, false) };
    const l: number[] = [];
    const t: number[] = [];
    const ratios: number[] = [];
    for (let c = 0; c < cycles; c++) {
      l.push(await run(lone[0]!, phaseMs, true));
      t.push(await run(together, phaseMs, true));
      l.push(await run(lone[1]!, phaseMs, true));
      t.push(await run(together, phaseMs, true));
      ratios.push(Math.round(((t[2 * c]! + t[2 * c + 1]!) / Math.max(1, l[2 * c]! + l[2 * c + 1]!)) * 100) / 100);
    }
    return { lone: l, together: t, ratios, cold };
  } finally {
    done = true;
    cleanUp();
    for (const sig of signals) process.removeListener(sig, onSignal);
    process.removeListener('exit', cleanUp);
  }
}

export interface GcFigures {
  readonly steps: number;
  readonly ms: number;
  /** What the collector cost, in ms of the main thread, and how many of each collection. */
  readonly gcMs: number;
  readonly scavenges: number;
  readonly markCompacts: number;
  /** Bytes the scavenges moved into the old generation (its growth across each of them). */
  readonly promotedBytes: number;
}

/**
 * The garbage collector's share of a search as `check` runs it (many
 * short sequences, each on a new System): `runs` sequences of upstream
 * with every invariant, in this process, watched by V8's GCProfiler.  A
 * search should promote almost nothing: what a sequence builds dies with
 * it.  A regression of the kind scripts/v8-flags.mjs describes (closures
 * made in the old generation, hidden classes per object) shows here as
 * megabytes promoted per thousand steps and a GC share of a tenth or more.
 */
export function searchGc(runs: number, seed: number): GcFigures {
  const prof = new GCProfiler();
  prof.start();
  const t0 = performance.now();
  const r = check({ invariants: INVARIANTS, variant: null, seed, runs, maxSteps: 40, timeMs: 10 * 60_000 });
  const ms = performance.now() - t0;
  const stats = prof.stop().statistics;
  let gcUs = 0;
  let scavenges = 0;
  let markCompacts = 0;
  let promotedBytes = 0;
  const oldUsed = (h: (typeof stats)[number]['beforeGC']): number => h.heapSpaceStatistics.find((x) => x.spaceName === 'old_space')?.spaceUsedSize ?? 0;
  for (const g of stats) {
    gcUs += g.cost;
    if (g.gcType === 'Scavenge') {
      scavenges++;
      promotedBytes += Math.max(0, oldUsed(g.afterGC) - oldUsed(g.beforeGC));
    } else if (g.gcType === 'MarkSweepCompact') {
      markCompacts++;
    }
  }
  return { steps: r.steps, ms, gcMs: gcUs / 1000, scavenges, markCompacts, promotedBytes };
}

/** A loop of bench/host-probe.mjs: iterations of each kind for about half a second on this machine. */
const HOST_PROBE_ITERATIONS = { cpu: 500_000_000, memory: 10_000_000 } as const;

/**
 * What `procs` processes running at once get done on this machine against
 * one alone, for a loop that needs only its core (`cpu`) and for one that
 * waits on the memory system too (`memory`: a pointer chase through 4 MiB,
 * past a core's own caches).  The ceiling of what `check --jobs` can gain
 * here: its workers' work is of the second kind, and on a virtual machine
 * whose cores share their caches and memory bandwidth with other guests,
 * two memory-bound processes can gain far less than two cores' worth, and
 * how much less moves with the host (2026-12-04: 1.1-1.8x in three rounds
 * of the same minute, 1.95x an hour later, while the loop in registers
 * gained 1.9-2.0x).  `cycles` cycles of 1, N, N, 1 processes, as
 * the jobs figures; each cycle's ratio is its N-process rounds' work per
 * second over its lone rounds', and the figure is the median of those
 * ratios (one cycle alone gave 2.28x once: a slow spell of the host during
 * its lone rounds).
 */
export async function hostScaling(kind: 'cpu' | 'memory', procs: number, n: number = HOST_PROBE_ITERATIONS[kind], cycles = 3): Promise<{ ratio: number; ratios: number[]; aloneMs: number[]; togetherMs: number[][] }> {
  const probe = join(import.meta.dirname, '..', 'bench', 'host-probe.mjs');
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const c = spawn(process.execPath, [probe, kind, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('error', reject);
      c.on('close', (code) => (code === 0 ? resolve((JSON.parse(out) as { ms: number }).ms) : reject(new Error(`${probe} ${kind} exited with ${code}`))));
    });
  // Work per second of a round: the sum of each process's loops over its time.
  const rate = (ms: readonly number[]): number => ms.reduce((r, m) => r + n / m, 0);
  const aloneMs: number[] = [];
  const togetherMs: number[][] = [];
  const ratios: number[] = [];
  for (let c = 0; c < cycles; c++) {
    const rounds: number[][] = [];
    for (const k of [1, procs, procs, 1]) rounds.push(await Promise.all(Array.from({ length: k }, one)));
    const [a, t1, t2, b] = rounds as [number[], number[], number[], number[]];
    aloneMs.push(Math.round(a[0]!), Math.round(b[0]!));
    togetherMs.push(t1.map(Math.round), t2.map(Math.round));
    ratios.push(Math.round(((rate(t1) + rate(t2)) / (rate(a) + rate(b))) * 100) / 100);
  }
  return { ratio: [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)]!, ratios, aloneMs, togetherMs };
}

/** The schedule of the `check --jobs` figures (see jobsInterleaved): each group's first run, and the cycles of phases that count. */
const JOBS_WARM_MS = 40_000;
const JOBS_PHASE_MS = 12_000;
const JOBS_CYCLES = 3;
/** The sequences of the search whose garbage collection `bench` reports (a few seconds). */
const SEARCH_GC_RUNS = 8000;

export async function runBench(opts: { steps: number; seed: number; variants: boolean; soak: number; kernel: boolean }): Promise<BenchFigure[]> {
  const out: BenchFigure[] = [];
  const fresh = bundleIsFresh();
  out.push({ name: 'startup.ms', value: startupMs(false), unit: 'ms', detail: fresh ? '`iospec --version` in a new process, from the bundle dist/iospec.cjs and its code cache (median of 5; the first run writes the cache if there is none)' : 'dist/iospec.cjs is missing or older than the sources (run `npm run build`): this is the tsx start' });
  out.push({ name: 'startup.tsx.ms', value: startupMs(true), unit: 'ms', detail: 'the same through tsx (IOSPEC_TSX=1: the TypeScript compiled at every start)' });
  const ex0 = performance.now();
  const ex = exhaustive({ depth: 3, invariants: INVARIANTS, variant: null });
  const exMs = Math.round(performance.now() - ex0);
  out.push({ name: 'exhaustive.depth3.upstream', value: exMs, unit: 'ms', detail: `${ex.sequences} sequences, ${ex.steps} steps (${Math.round(ex.steps / (exMs / 1000))} steps/s), ${ex.counterexample === null ? 'no violation' : `VIOLATION ${ex.counterexample.violation.invariant}`}` });
  if (opts.variants) {
    for (const v of VARIANTS) {
      const t = variantCatchTimes(v, 5, 30_000);
      const e0 = performance.now();
      const e = exhaustive({ depth: 3, invariants: INVARIANTS, variant: v });
      const eMs = Math.round(performance.now() - e0);
      const exDetail = e.counterexample !== null ? `exhaustive depth 3: ${eMs} ms, ${e.counterexample.steps.length} steps` : `exhaustive depth 3: not caught (${eMs} ms)`;
      out.push({ name: `variant.${v.name}`, value: t.medianMs, unit: 'ms', detail: `random: median time to a shrunk counterexample over seeds 1-5, max ${t.maxMs} ms, longest ${t.maxSteps} steps${t.missed > 0 ? `, ${t.missed} seed(s) found nothing in 30 s` : ''}; ${exDetail}` });
    }
  }
  for (const [variant, file] of SHRINK_CASES) {
    const sh = shrinkSpeed(variant, file, 1000, opts.seed);
    out.push(sh === null
      ? { name: `shrink.${variant}`, value: -1, unit: 'ms', detail: 'no failing 1000-step run built (the noise itself failed, or the counterexample no longer fails after it)' }
      : { name: `shrink.${variant}`, value: sh.ms, unit: 'ms', detail: `a ${sh.from}-step run failing ${sh.invariant} (1000 random steps, then ${file}) shrunk to ${sh.to} steps` });
  }
  for (const fs of fs_types().map((t) => t.name)) {
    const warmDetail = (s: Speed): string => `warm: median of ${s.rounds.length} timed rounds (${s.rounds.join(', ')} steps/s) after ${s.untimed} untimed`;
    const m = modelSpeed({ fs }, opts.steps, opts.seed);
    out.push({ name: `model.${fs}.stepsPerSecond`, value: m.stepsPerSecond, unit: 'steps/s', detail: `${m.steps} steps of one random sequence in ${m.ms} ms (model only); ${warmDetail(m)}` });
    const o = checkerOverModel({ fs }, opts.steps, opts.seed);
    const c = o.checker;
    const stop = o.stopped === null ? '' : `; the sequence stops the checker at step ${o.stopped.step} (${o.stopped.invariant}${o.stopped.finding !== null ? `: the known upstream finding ${o.stopped.finding}` : ', NOT a known finding'}), so both are timed on those ${o.stopped.step} steps`;
    out.push({ name: `checker.${fs}.stepsPerSecond`, value: c.stepsPerSecond, unit: 'steps/s', detail: `${c.steps} steps in ${c.ms} ms with the oracle and all invariants; ${warmDetail(c)}` });
    out.push({ name: `checker.${fs}.overModel`, value: o.ratio, unit: 'x', detail: `the checker (oracle and every invariant watching) over the model alone on the same steps, both warm: the median of ${o.ratios.length} rounds of one model run then one checker run (${o.ratios.join(', ')}; the model at ${o.model.stepsPerSecond} steps/s in them)${stop}` });
    if (opts.soak > 0) {
      const s = soakSpeed({ fs }, opts.soak, opts.seed);
      out.push({ name: `soak.${fs}.ms`, value: s.ms, unit: 'ms', detail: `${s.steps} model steps on one system (20,000 generated recipes, cycled): ${Math.round(s.steps / (s.ms / 1000))} steps/s` });
    }
  }
  const gc = searchGc(SEARCH_GC_RUNS, opts.seed);
  const perK = (x: number): number => Math.round((x / Math.max(1, gc.steps)) * 1000);
  out.push({ name: 'checker.search.gcShare', value: Math.round((gc.gcMs / gc.ms) * 1000) / 1000, unit: 'x', detail: `the garbage collector's share of a search (check, seed ${opts.seed}, ${SEARCH_GC_RUNS} sequences of up to 40 steps, all file systems, every invariant, in this process): ${Math.round(gc.gcMs)} ms of ${Math.round(gc.ms)} ms, ${gc.steps} steps (${Math.round(gc.steps / (gc.ms / 1000))} steps/s); ${gc.scavenges} scavenges, ${gc.markCompacts} mark-compacts` });
  out.push({ name: 'checker.search.promotedPer1000Steps', value: perK(gc.promotedBytes / 1024), unit: 'KiB', detail: `what the scavenges of that search moved to the old generation: ${(gc.promotedBytes / 1e6).toFixed(1)} MB in all (near nothing is right: what a sequence builds dies with it; see scripts/v8-flags.mjs)` });
  // One worker against one per core, in the same run: what --jobs buys on this machine (jobsInterleaved).
  const cores = defaultJobs();
  const j = await jobsInterleaved(opts.seed, cores, JOBS_WARM_MS, JOBS_PHASE_MS, JOBS_CYCLES);
  const avg = (xs: readonly number[]): number => Math.round(xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length));
  const loneSeeds = [workerSeed(opts.seed, NO_SHARD, 0), workerSeed(opts.seed, NO_SHARD, Math.min(1, cores - 1))];
  const how = `warm: ${JOBS_CYCLES} cycles of four ${JOBS_PHASE_MS / 1000} s phases (one worker alone, seed ${loneSeeds[0]}; ${cores} workers; one alone, seed ${loneSeeds[1]}; ${cores} workers), each group stopped (SIGSTOP) while another runs, after ${JOBS_WARM_MS / 1000} s of each alone; each phase counted from 1 s after it starts`;
  const j1s = avg(j.lone);
  const jns = avg(j.together);
  const coldRatio = Math.round((j.cold.together / Math.max(1, avg(j.cold.lone))) * 100) / 100;
  out.push({ name: 'checker.jobs1.stepsPerSecond', value: j1s, unit: 'steps/s', detail: `check --jobs 1, the mean of its phases (${j.lone.join(', ')} steps/s); ${how}; its first ${JOBS_WARM_MS / 1000} s, start-up included: ${j.cold.lone.join(' and ')} steps/s` });
  out.push({ name: 'checker.jobsN.stepsPerSecond', value: jns, unit: 'steps/s', detail: `check --jobs ${cores} (the cores here), the mean of its phases (${j.together.join(', ')} steps/s); ${how}; its first ${JOBS_WARM_MS / 1000} s, start-up included: ${j.cold.together} steps/s` });
  out.push({ name: 'checker.jobsN.speedup', value: Math.round((jns / Math.max(1, j1s)) * 100) / 100, unit: 'x', detail: `jobs=${cores} over jobs=1, warm, the means of their phases (each cycle's: ${j.ratios.join(', ')}; the first ${JOBS_WARM_MS / 1000} s of each, start-up included: ${coldRatio}x)${cores === 1 ? ' (one core here: nothing to gain)' : ''}` });
  // What N processes at once can gain on this machine at all, measured in the same minutes.
  for (const kind of ['cpu', 'memory'] as const) {
    const h = await hostScaling(kind, cores);
    const what = kind === 'cpu' ? 'a loop in registers' : 'a pointer chase through 4 MiB (memory-bound, as the workers are)';
    out.push({ name: `host.scaling.${kind}`, value: h.ratio, unit: 'x', detail: `${cores} processes of ${what} at once over one alone: the median of ${h.ratios.length} cycles' ratios (${h.ratios.join(', ')}), each of rounds of 1, ${cores}, ${cores}, 1 processes (alone ${h.aloneMs.join(', ')} ms; together ${h.togetherMs.map((t) => t.join('+')).join(', ')} ms): the most --jobs ${cores} can gain here for work of that kind` });
  }
  if (opts.kernel) {
    const k = await corpusRatio(join(import.meta.dirname, '..', 'test', 'conformance'));
    out.push(k === null
      ? { name: 'corpus.kernelOverModel', value: -1, unit: 'x', detail: 'the kernel cannot be used here (root, loop devices, mkfs)' }
      : { name: 'corpus.kernelOverModel', value: Math.round(k.kernelMs / Math.max(1, k.modelMs)), unit: 'x', detail: `test/conformance: ${k.scenarios} scenarios, model ${k.modelMs} ms, kernel ${k.kernelMs} ms (mkfs, loop device and mount included)` });
  }
  return out;
}

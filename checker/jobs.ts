/**
 * Several workers for one check (`iospec check --jobs N`) and shards of a
 * campaign (`iospec check --shard I/N`).
 *
 * Each worker is a child process, `iospec check --jobs 1 --seed <its seed>
 * --runs <its share>` with the run's settings (bin/iospec.mjs: the bundle
 * when fresh, tsx otherwise), so a worker is exactly the command that
 * repeats it.  The workers share one directory:
 *
 * - the first worker whose sequence fails creates `found` there (an
 *   exclusive create, atomic between processes) and goes on to shrink; a
 *   worker that fails later finds the file taken and ends without a
 *   counterexample;
 * - every worker looks for `found` before each sequence and ends its search
 *   when it is there (as the time budget ends it: the sequences run so far
 *   stay repeatable).
 *
 * Every worker has the whole time budget, from its own start (its
 * start-up, a fraction of a second, is not counted, as with one worker);
 * the progress of each worker comes as lines on its stderr, and the totals
 * are the sums of the workers' own reports (CheckReport), so nothing is
 * counted twice or guessed.  A worker still running GRACE_MS after the
 * counterexample is shrunk (inside a long soak sequence) is killed and
 * counted as far as its last progress line.
 */
import { V8_FLAGS, WORKER_V8_FLAGS } from '../scripts/v8-flags.mjs';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CheckReport, Progress } from './check.ts';

/** This run is shard `index` (1 to `count`) of a campaign of `count` shards. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** A run that is not part of a sharded campaign. */
export const NO_SHARD: Shard = { index: 1, count: 1 };

/** `--shard I/N`, 1 <= I <= N; null for anything else. */
export function parseShard(v: string): Shard | null {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (m === null) return null;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count || count > 0xffff) return null;
  return { index, count };
}

/** The default number of workers: the cores this process may use. */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/** Murmur3's 32-bit finaliser: a bijection of the 32-bit integers, with fmix32(0) = 0. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The seed of worker `worker` (0-based) of shard `shard` in a run with seed
 * `seed`.  The pair is numbered g = worker * N + (I - 1) (N shards; one
 * number per pair whatever number of workers each shard has), and
 *
 *     seed(g) = seed                           for g = 0
 *     seed(g) = (seed mod 2^32) XOR fmix32(g)  otherwise
 *
 * fmix32 is a bijection with fmix32(0) = 0, so for a given seed no two
 * (shard, worker) pairs share a seed, and worker 0 of shard 1 (the whole of
 * a run with --jobs 1 and no --shard) keeps the seed itself: such a run
 * draws the same sequences as before there were workers.
 */
export function workerSeed(seed: number, shard: Shard, worker: number): number {
  const g = worker * shard.count + (shard.index - 1);
  if (g === 0) return seed;
  return ((seed >>> 0) ^ fmix32(g)) >>> 0;
}

/** `--runs` split between `jobs` workers: the first `runs mod jobs` workers get one more. */
export function splitRuns(runs: number, jobs: number): number[] {
  return Array.from({ length: jobs }, (_, i) => Math.floor(runs / jobs) + (i < runs % jobs ? 1 : 0));
}

/** What a worker prints on stderr, one line each (a worker is `iospec check --worker DIR`). */
export const PROGRESS_TAG = '@iospec-progress ';

/** A worker's progress line (from workerHooks), or null for any other line of its stderr. */
export function progressOf(line: string): Progress | null {
  return line.startsWith(PROGRESS_TAG) ? (JSON.parse(line.slice(PROGRESS_TAG.length)) as Progress) : null;
}
export const FOUND_TAG = '@iospec-found';
/** A worker's stdout: one line, `{"worker": CheckReport, "cpuMs": ...}`. */
export interface WorkerOutput {
  readonly worker: CheckReport;
  /** The CPU time of the worker's process, all its threads (V8 compiles and collects garbage on threads of its own). */
  readonly cpuMs: number;
}

/** What a worker prints on stdout at its end. */
export function workerOutput(report: CheckReport): string {
  const cpu = process.cpuUsage();
  const out: WorkerOutput = { worker: report, cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
  return JSON.stringify(out);
}

/** How often a worker looks for another's counterexample (a worker's sequences take a millisecond or two each). */
const STOP_POLL_MS = 50;

/**
 * The hooks a worker process gives check(): the shared `found` file in
 * `dir`, and its progress as lines on stderr (written synchronously: the
 * search does not yield to the event loop).
 */
export function workerHooks(dir: string): { shouldStop: () => boolean; claimFailure: () => boolean; onProgress: (p: Progress) => void } {
  const found = join(dir, 'found');
  const parent = process.ppid;
  // The file system is asked at most every STOP_POLL_MS: asked before every sequence, the stat was a
  // twentieth of a worker's time (a 40 s profile, 2026-12-04: 82,000 sequences).
  let nextPoll = 0;
  let stop = false;
  return {
    // Another worker failed first, or the run that started this worker is gone.
    shouldStop: () => {
      if (stop) return true;
      const now = Date.now();
      if (now < nextPoll) return false;
      nextPoll = now + STOP_POLL_MS;
      stop = existsSync(found) || process.ppid !== parent;
      return stop;
    },
    claimFailure: () => {
      try {
        closeSync(openSync(found, 'wx'));
      } catch {
        return false;
      }
      writeSync(2, `${FOUND_TAG}\n`);
      return true;
    },
    onProgress: (p) => {
      writeSync(2, `${PROGRESS_TAG}${JSON.stringify(p)}\n`);
    },
  };
}

export interface JobsOptions {
  /** The run's seed (--seed): the workers' seeds derive from it (workerSeed). */
  readonly seed: number;
  readonly shard: Shard;
  /** Sequences for each worker; its length is the number of workers; a worker given 0 does not start. */
  readonly jobRuns: readonly number[];
  /** The time budget: every worker checks for this long from its start (as a run with --jobs 1 does), all at once. */
  readonly timeMs: number;
  /** The settings every worker gets, as `iospec check` arguments: --variant, --fs, --systems, --invariant, --max-steps, --soak. */
  readonly args: readonly string[];
  /** Called every `progressMs` with the workers' totals. */
  readonly onProgress?: (p: JobsProgress) => void;
  readonly progressMs?: number;
  /** A line a worker printed on stderr that is not part of the protocol (an error). */
  readonly onWorkerOutput?: (worker: number, line: string) => void;
}

export interface JobsProgress extends Progress {
  /** Workers still running. */
  readonly running: number;
}

export interface WorkerOutcome {
  readonly worker: number;
  readonly seed: number;
  /** Sequences it was given. */
  readonly runsGiven: number;
  /**
   * Its own report; null when it did not start (given 0 sequences) or had
   * to be stopped by force after the counterexample was shrunk (its
   * sequences and steps are then those of its last progress line).
   */
  readonly report: CheckReport | null;
  readonly runs: number;
  readonly steps: number;
  readonly killed: boolean;
  /** The CPU time its process used (null without a report). */
  readonly cpuMs: number | null;
}

export interface JobsReport {
  /** The sums over the workers; the counterexample (and runsToFailure, repeatRuns) of the failing worker. */
  readonly report: CheckReport;
  readonly workers: readonly WorkerOutcome[];
  /** The worker whose counterexample this is, or null. */
  readonly failing: number | null;
}

/** The command line entry (bin/iospec.mjs: the bundle when fresh, tsx otherwise): what a worker process runs. */
export const BIN = join(import.meta.dirname, '..', 'bin', 'iospec.mjs');
/** How long the others may take to end their sequence once the counterexample is shrunk (a soak sequence can be long). */
const GRACE_MS = 3000;

interface Running {
  readonly worker: number;
  readonly seed: number;
  readonly runsGiven: number;
  readonly child: ChildProcess | null;
  last: Progress;
  report: CheckReport | null;
  cpuMs: number | null;
  killed: boolean;
  done: Promise<void>;
}

/**
 * The node arguments of one worker process: `iospec check --jobs 1` with
 * its seed, sequences, settings and time budget, reporting to the shared
 * folder `dir`.  The worker gets the V8 flags itself (bin/iospec.mjs would
 * otherwise start a process for them); workers that share the machine
 * (`shared`) collect garbage on one thread each (scripts/v8-flags.mjs).
 */
export function workerArgv(w: { seed: number; runs: number; args: readonly string[]; timeMs: number; dir: string; shared: boolean }): string[] {
  const flags = w.shared ? WORKER_V8_FLAGS : V8_FLAGS;
  return [...flags, BIN, 'check', '--jobs', '1', '--seed', String(w.seed), '--runs', String(w.runs), ...w.args, '--time', String(Math.max(1, w.timeMs) / 1000), '--json', '--worker', w.dir];
}

/** Run the workers of one check and add up what they did. */
export async function runJobs(opts: JobsOptions): Promise<JobsReport> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'iospec-jobs-'));
  let found: number | null = null;
  const workers: Running[] = [];
  let failure: Error | null = null;
  const stopAll = (): void => {
    for (const w of workers) if (w.child !== null && w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  };
  const busyWorkers = opts.jobRuns.filter((n) => n > 0).length;
  try {
    opts.jobRuns.forEach((runsGiven, worker) => {
      const seed = workerSeed(opts.seed, opts.shard, worker);
      const w: Running = { worker, seed, runsGiven, child: null, last: { runs: 0, steps: 0, elapsedMs: 0, phase: 'search' }, report: null, cpuMs: null, killed: false, done: Promise.resolve() };
      if (runsGiven === 0) {
        workers.push(w);
        return;
      }
      const child = spawn(process.execPath, workerArgv({ seed, runs: runsGiven, args: opts.args, timeMs: opts.timeMs, dir, shared: busyWorkers > 1 }), { stdio: ['ignore', 'pipe', 'pipe'] });
      const r: Running = { ...w, child };
      let stdout = '';
      const errLines: string[] = [];
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (s: string) => {
        stdout += s;
      });
      createInterface({ input: child.stderr }).on('line', (line) => {
        const p = progressOf(line);
        if (p !== null) r.last = p;
        else if (line === FOUND_TAG) found ??= worker;
        else {
          errLines.push(line);
          opts.onWorkerOutput?.(worker, line);
        }
      });
      r.done = new Promise<void>((resolve) => {
        child.on('error', (e) => {
          failure ??= new Error(`worker ${worker} (seed ${seed}) could not run: ${e.message}`);
          stopAll();
          resolve();
        });
        child.on('close', (code, signal) => {
          if (r.killed) return resolve();
          const last = stdout.trim().split('\n').pop() ?? '';
          if ((code === 0 || code === 1 || code === 5) && last.startsWith('{"worker":')) {
            const o = JSON.parse(last) as WorkerOutput;
            r.report = o.worker;
            r.cpuMs = o.cpuMs;
          } else {
            failure ??= new Error(`worker ${worker} (seed ${seed}) ended with ${signal ?? `exit status ${code}`}: ${errLines.slice(-5).join(' / ') || 'no output'}`);
            stopAll();
          }
          resolve();
        });
      });
      workers.push(r);
    });
    const sum = (): JobsProgress => {
      const running = workers.filter((w) => w.child !== null && w.report === null && !w.killed).length;
      return {
        runs: workers.reduce((n, w) => n + (w.report?.runs ?? w.last.runs), 0),
        steps: workers.reduce((n, w) => n + (w.report?.steps ?? w.last.steps), 0),
        // The workers' own time, the one the budget counts (not their start-up).
        elapsedMs: Math.max(0, ...workers.map((w) => w.report?.elapsedMs ?? w.last.elapsedMs)),
        phase: found !== null ? 'shrink' : 'search',
        running,
      };
    };
    const timer = opts.onProgress === undefined ? null : setInterval(() => opts.onProgress!(sum()), opts.progressMs ?? 1000);
    try {
      // Until a worker has shrunk its counterexample, or every worker has ended; then the others get a little time to end their sequence.
      const winner = (): boolean => workers.some((w) => w.report?.counterexample != null);
      await new Promise<void>((resolve) => {
        const settle = (): void => {
          if (failure !== null || winner() || workers.every((w) => w.child === null || w.report !== null)) resolve();
        };
        for (const w of workers) void w.done.then(settle);
        settle();
      });
      const all = Promise.all(workers.map((w) => w.done)).then(() => 'all' as const);
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<'grace'>((resolve) => {
        graceTimer = setTimeout(() => resolve('grace'), GRACE_MS);
      });
      if ((await Promise.race([all, grace])) === 'grace') {
        for (const w of workers) if (w.child !== null && w.report === null) w.killed = true;
        stopAll();
        await all;
      }
      clearTimeout(graceTimer);
    } finally {
      if (timer !== null) clearInterval(timer);
    }
  } finally {
    stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  if (failure !== null) throw failure;
  const winner = workers.find((w) => w.report?.counterexample != null) ?? null;
  return {
    report: merge(opts.seed, workers, winner, Date.now() - t0, opts.args.includes('--variant')),
    workers: workers.map((w) => ({ worker: w.worker, seed: w.seed, runsGiven: w.runsGiven, report: w.report, runs: w.report?.runs ?? w.last.runs, steps: w.report?.steps ?? w.last.steps, killed: w.killed, cpuMs: w.cpuMs })),
    failing: winner?.worker ?? null,
  };
}

function add(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** The workers' reports added up; what concerns the counterexample is the failing worker's. */
function merge(seed: number, workers: readonly Running[], winner: Running | null, elapsedMs: number, variant: boolean): CheckReport {
  const ops: Record<string, number> = {};
  const errnos: Record<string, number> = {};
  const reached: Record<string, number> = {};
  const coverage: Record<string, number> = {};
  const findings: Record<string, number> = {};
  let runs = 0;
  let steps = 0;
  let repeatRuns = 0;
  let cutShort = 0;
  let variantSequences: number | null = variant ? 0 : null;
  for (const w of workers) {
    const r = w.report;
    runs += r?.runs ?? w.last.runs;
    steps += r?.steps ?? w.last.steps;
    if (r === null) continue;
    add(ops, r.ops);
    add(errnos, r.errnos);
    add(reached, r.reached);
    add(coverage, r.coverage);
    add(findings, r.findings);
    repeatRuns += r.repeatRuns;
    cutShort += r.cutShort ?? 0;
    if (variantSequences !== null) variantSequences += r.variantSequences ?? 0;
  }
  const w = winner?.report ?? null;
  return {
    seed,
    runs,
    runsToFailure: w?.runsToFailure ?? null,
    steps,
    elapsedMs,
    ops,
    errnos,
    reached,
    coverage,
    findings,
    variantSequences,
    // With a counterexample, the repeat command is the failing worker's alone.
    repeatRuns: w !== null ? w.repeatRuns : repeatRuns,
    cutShort,
    counterexample: w?.counterexample ?? null,
  };
}

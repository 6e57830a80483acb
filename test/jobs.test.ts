/**
 * `check --jobs N` and `check --shard I/N`: the seeds of workers and shards,
 * the sequences they draw, the repeat command of a failing worker, and the
 * usage errors.  The sequences are compared in this process (check() with
 * the derived seeds); the CLI runs in this process too, spawning its worker
 * processes as it does for a user.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { check } from '../checker/check.ts';
import { NO_SHARD, parseShard, splitRuns, workerHooks, workerSeed } from '../checker/jobs.ts';
import type { Shard } from '../checker/jobs.ts';
import { iospec } from './cli-helpers.ts';
import { INVARIANTS } from '../properties/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'iospec-jobs-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));


interface Summary {
  seed: number;
  runs: number;
  steps: number;
  repeat: string;
  repeatRuns: number;
  jobs: number;
  shard?: string;
  workers: Array<{ worker: number; seed: number; runs: number; steps: number; repeatRuns: number }>;
  failingWorker: { worker: number; seed: number } | null;
  counterexample: { file: string; invariant: string; step: number; detail: string; steps: number } | null;
}

/** The generated inputs (system and recipes) of a check with this seed, in order. */
function inputs(seed: number, runs: number): string[] {
  const seen: string[] = [];
  check({ invariants: INVARIANTS, variant: null, seed, runs, maxSteps: 40, timeMs: 120_000, onInput: (i) => seen.push(JSON.stringify(i)) });
  return seen;
}

describe('seeds of workers and shards', () => {
  it('a run with one worker and no shard keeps its seed; every other worker of every shard gets its own', () => {
    expect(workerSeed(42, NO_SHARD, 0)).toBe(42);
    expect(workerSeed(2 ** 40 + 3, NO_SHARD, 0)).toBe(2 ** 40 + 3);
    for (const seed of [0, 1, 42, 0xffffffff, 2 ** 40 + 3]) {
      const seeds = new Set<number>();
      // Shards of 3 and 5 workers in the same campaign: the numbering does not depend on how many workers a shard has.
      for (let index = 1; index <= 8; index++) for (let w = 0; w < (index % 2 === 0 ? 3 : 5); w++) seeds.add(workerSeed(seed, { index, count: 8 }, w));
      expect(seeds.size).toBe(4 * 3 + 4 * 5);
      for (const s of seeds) expect(Number.isSafeInteger(s) && s >= 0).toBe(true);
    }
  });

  it('the shards of a run with a fixed seed never repeat one another\'s sequences', () => {
    const shards: Shard[] = [1, 2, 3].map((index) => ({ index, count: 3 }));
    const byWorker = shards.flatMap((shard) => [0, 1].map((w) => ({ name: `shard ${shard.index} worker ${w}`, seq: inputs(workerSeed(9, shard, w), 25) })));
    const owner = new Map<string, string>();
    const repeated: string[] = [];
    for (const { name, seq } of byWorker) {
      expect(seq).toHaveLength(25);
      for (const s of new Set(seq)) {
        const o = owner.get(s);
        // The one input two random streams can both draw by chance: the first open and the read-back, nothing else.
        if (o !== undefined && (JSON.parse(s) as { recipes: unknown[] }).recipes.length > 1) repeated.push(`${o} and ${name}: ${s}`);
        owner.set(s, name);
      }
    }
    expect(repeated).toEqual([]);
    // Not the same stream shifted either: each worker's first sequences are its own.
    expect(new Set(byWorker.map((w) => w.seq.slice(0, 5).join('\n'))).size).toBe(byWorker.length);
  });

  it('--runs is split evenly; --shard is I/N with 1 <= I <= N', () => {
    expect(splitRuns(10, 3)).toEqual([4, 3, 3]);
    expect(splitRuns(1, 2)).toEqual([1, 0]);
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['0/2', '3/2', 'x', '1/0', '1/', '-1/2', '1.5/2']) expect(parseShard(bad), bad).toBeNull();
  });
});

describe('check --jobs and --shard', () => {
  it('with --jobs 1 and no shard, a run is what it was before there were workers', async () => {
    const r = JSON.parse((await iospec('check', '--jobs', '1', '--seed', '3', '--runs', '40', '--json')).out) as Summary;
    const direct = check({ invariants: INVARIANTS, variant: null, seed: 3, runs: 40, maxSteps: 40, timeMs: 120_000 });
    expect(r.steps).toBe(direct.steps);
    expect(r.repeat).toMatch(/^npx iospec check --seed 3 --runs 40 --jobs 1 /);
  });

  it('a shard\'s workers run with the derived seeds, and its clean run repeats exactly', async () => {
    const first = JSON.parse((await iospec('check', '--shard', '2/3', '--jobs', '2', '--seed', '9', '--time', '1', '--json', '--out', tmp)).out) as Summary;
    expect(first.shard).toBe('2/3');
    expect(first.workers.map((w) => w.seed)).toEqual([0, 1].map((w) => workerSeed(9, { index: 2, count: 3 }, w)));
    expect(first.runs).toBe(first.workers.reduce((n, w) => n + w.runs, 0));
    // The time budget decided how far each worker got: the repeat gives each worker's sequences.
    expect(first.repeat).toBe(`npx iospec check --seed 9 --runs ${first.repeatRuns} --jobs 2 --job-runs ${first.workers.map((w) => w.repeatRuns).join(',')} --shard 2/3 --time 600`);
    const again = JSON.parse((await iospec(...first.repeat.replace(/^npx iospec /, '').split(' '), '--json', '--out', tmp)).out) as Summary;
    expect(again.workers.map((w) => [w.seed, w.runs, w.steps])).toEqual(first.workers.map((w) => [w.seed, w.repeatRuns, w.steps]));
  });

  it('a worker sees another\'s counterexample within a poll interval, and then stops for good', async () => {
    const dir = mkdtempSync(join(tmp, 'hooks-'));
    const hooks = workerHooks(dir);
    expect(hooks.shouldStop()).toBe(false);
    writeFileSync(join(dir, 'found'), '');
    // Asked again at once, it may not have looked yet; 50 ms later (STOP_POLL_MS) it has.
    await new Promise((r) => setTimeout(r, 60));
    expect(hooks.shouldStop()).toBe(true);
    rmSync(join(dir, 'found'));
    expect(hooks.shouldStop()).toBe(true);
  });

  it('the first counterexample stops the other workers, is written once, and the failing worker\'s repeat command reproduces it', async () => {
    const out = join(tmp, 'cx');
    const r = await iospec('check', '--variant', 'write-end-no-dirty-bits', '--jobs', '2', '--seed', '1', '--time', '60', '--json', '--out', out);
    expect(r.code).toBe(1);
    const s = JSON.parse(r.out) as Summary;
    expect(s.failingWorker).not.toBeNull();
    const failing = s.failingWorker!;
    expect(failing.seed).toBe(workerSeed(1, NO_SHARD, failing.worker));
    expect(s.repeat).toMatch(new RegExp(`^npx iospec check --seed ${failing.seed} --runs \\d+ --jobs 1 --variant write-end-no-dirty-bits `));
    expect(readdirSync(out)).toHaveLength(1);
    const file = join(out, readdirSync(out)[0]!);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { seed: number }).seed).toBe(failing.seed);
    // The failing worker alone, in this process: the same counterexample, to the byte.
    const again = await iospec(...s.repeat.replace(/^npx iospec /, '').split(' '), '--json', '--out', out);
    expect(again.code).toBe(1);
    const a = JSON.parse(again.out) as Summary;
    expect({ ...a.counterexample, file: null }).toEqual({ ...s.counterexample, file: null });
    expect(readFileSync(a.counterexample!.file, 'utf8')).toBe(readFileSync(file, 'utf8'));
  });

  it('refuses what it cannot do, in one line, exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--jobs', '0'], /--jobs: at least 1/],
      [['--shard', '3/2'], /--shard: I\/N, this run being shard I of N \(1 <= I <= N\), got "3\/2"/],
      [['--shard', 'x'], /--shard: .*got "x"/],
      [['--exhaustive', '--jobs', '2'], /--exhaustive runs in one process/],
      [['--exhaustive', '--shard', '1/2'], /--exhaustive covers its whole scope in one run/],
      [['--job-runs', '3,x'], /--job-runs: comma-separated numbers/],
      [['--jobs', '3', '--job-runs', '1,2'], /--job-runs: 2 numbers for --jobs 3/],
      [['--runs', '5', '--job-runs', '1,2'], /--runs must be their sum, 3/],
    ];
    for (const [args, msg] of cases) {
      const r = await iospec('check', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.err).toMatch(msg);
    }
  });
});

/**
 * `bench`'s checker-over-model figure compares like with like: the model
 * alone is timed on exactly the steps the checker ran, also where the
 * sequence runs into a finding that stops the checker early (on ext4,
 * seed 1's 20,000 recipes do, at the time of writing), and the figure
 * names what stopped it.
 */
import { describe, expect, it } from 'vitest';
import { checkerOverModel, hostScaling, jobsInterleaved, searchGc } from '../bench/bench.ts';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { check } from '../checker/check.ts';
import { INVARIANTS } from '../properties/index.ts';

describe('bench: checker over model', () => {
  it('times the model on the steps the checker ran, and names what stopped the checker', () => {
    const o = checkerOverModel({ fs: 'ext4' }, 20_000, 1, { warmup: 0, timed: 1 });
    expect(o.ratios).toHaveLength(1);
    expect(o.ratio).toBe(o.ratios[0]);
    expect(o.model.steps).toBe(o.checker.steps);
    if (o.stopped !== null) {
      expect(o.checker.steps).toBe(o.stopped.step);
      // Upstream stops only at a known upstream finding (else it is a bug the bench must not hide).
      expect(o.stopped.finding).not.toBeNull();
    } else {
      expect(o.checker.steps).toBeGreaterThan(20_000);
    }
  });
});

describe('bench: the garbage collector during a search', () => {
  // What the figure is of, not how fast (no timed test): the same search as `check`, and collections it watched.
  // In a process of its own with 1 MiB semi-spaces, so that the search must collect: in this worker the young
  // generation may have grown to 128 MiB already (scripts/v8-flags.mjs), which that search may not fill.
  it('watches the search check makes with that seed, and counts its collections', () => {
    const bench = join(import.meta.dirname, '..', 'bench', 'bench.ts');
    const r = spawnSync(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', '--input-type=module', '-e', `const { searchGc } = await import(${JSON.stringify(pathToFileURL(bench).href)}); console.log(JSON.stringify(searchGc(300, 3)));`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const gc = JSON.parse(r.stdout) as ReturnType<typeof searchGc>;
    const same = check({ invariants: INVARIANTS, variant: null, seed: 3, runs: 300, maxSteps: 40, timeMs: 600_000 });
    expect(gc.steps).toBe(same.steps);
    expect(gc.scavenges).toBeGreaterThan(0);
    expect(gc.gcMs).toBeGreaterThan(0);
    expect(gc.gcMs).toBeLessThan(gc.ms);
    expect(gc.promotedBytes).toBeGreaterThanOrEqual(0);
  });
});

describe("bench: the host's own scaling, the ceiling of --jobs", () => {
  // What the figure is of, not how fast: rounds of 1, N, N, 1 processes of the probe, each of which ran its loop.
  it('runs cycles of the probe alone, N at a time twice, alone again, for both kinds of loop', async () => {
    for (const kind of ['cpu', 'memory'] as const) {
      const h = await hostScaling(kind, 2, 100_000, 2);
      expect(h.aloneMs).toHaveLength(4);
      expect(h.togetherMs).toEqual([expect.any(Array), expect.any(Array), expect.any(Array), expect.any(Array)]);
      for (const t of h.togetherMs) expect(t).toHaveLength(2);
      expect(h.ratios).toHaveLength(2);
      expect(h.ratios).toContain(h.ratio);
      expect(Math.min(...h.aloneMs, ...h.togetherMs.flat())).toBeGreaterThanOrEqual(0);
    }
  });
  it('the probe refuses what it cannot run', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bench', 'host-probe.mjs'), 'disk', '10'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage');
  });
});

describe('bench: --jobs 1 against --jobs N', () => {
  // What the figure is of, not how fast: each group ran its phases (the bench itself throws if a stopped
  // group made a step while another ran), and every worker process and folder is gone afterwards.
  it('runs one group of workers at a time, in cycles, and leaves no worker behind', async () => {
    const ours = (): string[] => readdirSync(tmpdir()).filter((f) => f.startsWith('iospec-bench-jobs-'));
    const before = ours();
    const j = await jobsInterleaved(1, 2, 2000, 1000, 1);
    expect(j.lone).toHaveLength(2);
    expect(j.together).toHaveLength(2);
    expect(j.ratios).toHaveLength(1);
    for (const x of [...j.lone, ...j.together, ...j.cold.lone, j.cold.together]) expect(x).toBeGreaterThan(0);
    expect(ours()).toEqual(before);
    const left = spawnSync('pgrep', ['-f', 'iospec-bench-jobs-'], { encoding: 'utf8' });
    if (left.error === undefined) expect(left.stdout).toBe('');
  });
});

/**
 * Coverage points and the generation that reaches them (README: Coverage
 * and reach): a check reports every declared point; generated crashes
 * mostly find writes not yet durable; templates reach a block with three
 * owners; feedback keeps a seed and a count repeatable.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../../checker/check.ts';
import { INVARIANTS } from '../../properties/index.ts';
import { cover, coverageCounts, describePoint, resetCoverage } from '../../model/lib/coverage.ts';
import { VARIANTS } from '../../model/variants.ts';
import { coverageLine } from '../../cli/main.ts';

const run = (seed: number, runs: number, fs?: string) => check({ invariants: INVARIANTS, variant: null, seed, runs, maxSteps: 40, timeMs: 60_000, fs });

describe('coverage points', () => {
  it('are declared once each, with a meaning, one per variant among them', () => {
    resetCoverage();
    const points = Object.keys(coverageCounts());
    expect(new Set(points).size).toBe(points.length);
    for (const p of points) expect(describePoint(p), p).not.toBe('');
    for (const v of VARIANTS) expect(points).toContain(`variant: ${v.name}`);
    // The pairs the iomap core rules out are not points.
    expect(points).not.toContain('iomap: buffered write over hole');
  });

  it('refuse a name that is not declared', () => {
    expect(() => cover('folio: no such transition')).toThrow(/not declared/);
  });

  it('are counted by a check and reported, zeroes included', () => {
    const r = run(7, 300);
    expect(Object.keys(r.coverage)).toEqual(Object.keys(coverageCounts()));
    for (const p of ['folio: clean -> dirty', 'folio: writeback start', 'folio: writeback end', 'crash: write in the device cache', 'crash: pending write lost', 'iomap: buffered write over delalloc', 'iomap: direct write over mapped']) {
      expect(r.coverage[p], p).toBeGreaterThan(0);
    }
    expect(Object.values(r.coverage).some((n) => n === 0)).toBe(true);
    expect(coverageLine(r.coverage)).toMatch(/^coverage: \d+ of \d+ points reached; never: /);
  });
});

describe('generation', () => {
  it('gives crashes that find writes not yet durable, at least half of them', () => {
    const r = run(3, 800);
    const pending = r.reached['crash with writes not durable'] ?? 0;
    const nothing = r.reached['crash with nothing pending'] ?? 0;
    expect(pending + nothing).toBeGreaterThan(100);
    expect(pending).toBeGreaterThanOrEqual(nothing);
  });

  it('reaches a block with three owners (the clone-twice template) on XFS', () => {
    expect(run(1, 400, 'xfs').coverage['block: third owner']).toBeGreaterThan(0);
  });

  it('repeats a run from its seed and count, feedback included', () => {
    const a = run(11, 400);
    const b = run(11, 400);
    expect(b.steps).toBe(a.steps);
    expect(b.ops).toEqual(a.ops);
    expect(b.coverage).toEqual(a.coverage);
  });
});

/**
 * Every invariant has teeth: at least one variant claims to break it, and
 * the checker, watching that invariant alone, finds a counterexample on
 * that variant — and none on upstream over the same space (every sequence
 * of up to 3 operations, whose upstream side is test/upstream.test.ts, run
 * once with every invariant watching; or the same seed and budget of random
 * ones).
 */
import { describe, expect, it } from 'vitest';
import { check } from '../checker/check.ts';
import { exhaustive } from '../checker/exhaustive.ts';
import { SMALL_SCOPE } from './helpers.ts';
import { INVARIANTS } from '../properties/index.ts';
import { VARIANTS } from '../model/variants.ts';
import type { SystemHint } from '../model/variants.ts';

const SEEDS = [1, 2, 3];
const BUDGETS = [20_000, 150_000];

describe('every invariant catches a variant', () => {
  for (const inv of INVARIANTS) {
    it(inv.id, () => {
      const claimants = VARIANTS.filter((v) => v.breaks.includes(inv.id));
      expect(claimants.map((v) => v.name), `${inv.id}: no variant claims to break it`).not.toEqual([]);
      // Exhaustive small scope first: a claimant caught there (upstream is clean over the same space: test/upstream.test.ts).
      for (const v of claimants) {
        const ex = exhaustive({ depth: SMALL_SCOPE, invariants: [inv], variant: v });
        if (ex.counterexample === null) continue;
        expect(ex.counterexample.violation.invariant).toBe(inv.id);
        return;
      }
      let caught: { variant: string; seed: number; runs: number; fs: string | undefined; systems: SystemHint | undefined } | null = null;
      // Cheap attempts first: every claimant and seed with a small budget, then the full one.
      search: for (const budget of BUDGETS) {
        for (const seed of SEEDS) for (const v of claimants) {
          const r = check({ invariants: [inv], variant: v, seed, runs: budget, maxSteps: 40, timeMs: 600_000 });
          if (r.counterexample !== null) {
            expect(r.counterexample.violation.invariant).toBe(inv.id);
            caught = { variant: v.name, seed, runs: r.runsToFailure ?? budget, fs: v.fs?.length === 1 ? v.fs[0] : undefined, systems: v.systems };
            break search;
          }
        }
      }
      expect(caught, `${inv.id}: none of ${claimants.map((v) => v.name).join(', ')} was caught`).not.toBeNull();
      // Upstream, on the same file systems, same seed and budget: nothing.
      const up = check({ invariants: [inv], variant: null, seed: caught!.seed, runs: caught!.runs, maxSteps: 40, timeMs: 600_000, fs: caught!.fs, systems: caught!.systems });
      expect(up.counterexample?.violation ?? null).toBeNull();
    });
  }
});

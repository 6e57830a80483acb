/**
 * Every variant breaks an invariant it claims to break: the checker finds a
 * counterexample on the variant, shrunk to a short sequence, and finds none
 * on upstream over the same space: every sequence of up to 3 operations
 * (exhaustive small scope; upstream's side is test/upstream.test.ts, run once
 * for all variants) or, when that is not enough, the same seed and the same
 * number of random sequences.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../checker/check.ts';
import { INVARIANTS } from '../properties/index.ts';
import { VARIANTS } from '../model/variants.ts';
import { replay } from '../checker/replay.ts';
import { parseScenario } from '../scenario/load.ts';
import { counterexampleDoc } from '../checker/counterexample.ts';
import { exhaustive } from '../checker/exhaustive.ts';
import { SMALL_SCOPE } from './helpers.ts';

/** Seeds tried in order; the run budget per seed. */
const SEEDS = [1, 2, 3, 4, 5];
const BUDGETS = [25_000, 250_000];

/**
 * The tests for the variants whose index in VARIANTS is `part` modulo
 * `parts`: the variants are split over test files so that vitest runs them
 * on every worker at once (test/variants-1.test.ts, ...).
 */
export function describeVariants(part: number, parts: number): void {
  describe(`each variant is caught, upstream is not (part ${part + 1} of ${parts})`, () => {
    for (const v of VARIANTS.filter((_v, i) => i % parts === part)) {
      if (v.breaks.length === 0) {
        // A design the checker finds no fault in (an RFC as posted): it must stay clean like upstream.
        it(`${v.name} (claims to break nothing)`, () => {
          expect(exhaustive({ depth: SMALL_SCOPE, invariants: INVARIANTS, variant: v }).counterexample?.violation ?? null).toBeNull();
          const r = check({ invariants: INVARIANTS, variant: v, seed: 1, runs: 25_000, maxSteps: 40, timeMs: 600_000 });
          expect(r.counterexample?.violation ?? null).toBeNull();
        });
        continue;
      }
      it(v.name, () => {
        // Exhaustive small scope first (every sequence of up to 3 operations): when it finds
        // the variant, upstream is clean over the same whole space (test/upstream.test.ts).
        const ex = exhaustive({ depth: SMALL_SCOPE, invariants: INVARIANTS, variant: v });
        if (ex.counterexample !== null) {
          const c = ex.counterexample;
          expect(v.breaks).toContain(c.violation.invariant);
          expect(c.steps.length).toBeLessThanOrEqual(12);
          const doc = counterexampleDoc(c.system, v.name, c.steps, c.results, c.violation, 0, c.path);
          expect(replay(parseScenario(JSON.parse(JSON.stringify(doc)))).reproduced).toBe(true);
          return;
        }
        let found = null;
        let seed = 0;
        let runs = 0;
        // Cheap attempts first: every seed with a small budget, then the full one.
        search: for (const budget of BUDGETS) {
          for (seed of SEEDS) {
            const r = check({ invariants: INVARIANTS, variant: v, seed, runs: budget, maxSteps: 40, timeMs: 600_000 });
            if (r.counterexample !== null) {
              found = r.counterexample;
              runs = r.runsToFailure ?? budget;
              break search;
            }
          }
        }
        expect(found, `${v.name}: no counterexample with seeds ${SEEDS.join(',')}`).not.toBeNull();
        const c = found!;
        expect(v.breaks).toContain(c.violation.invariant);
        expect(c.steps.length).toBeLessThanOrEqual(12);
        // The saved counterexample replays to the same violation at the same step.
        const doc = counterexampleDoc(c.system, v.name, c.steps, c.results, c.violation, seed, c.path);
        const rep = replay(parseScenario(JSON.parse(JSON.stringify(doc))));
        expect(rep.reproduced).toBe(true);
        // Upstream, same seed, same budget, same kind of systems: nothing.
        const up = check({ invariants: INVARIANTS, variant: null, seed, runs, maxSteps: 40, timeMs: 600_000, systems: v.systems });
        expect(up.counterexample?.violation ?? null).toBeNull();
      });
    }
  });
}

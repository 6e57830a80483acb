/**
 * Bounded property runs of every invariant on upstream: the checker must
 * find nothing.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../checker/check.ts';
import { INVARIANTS } from '../properties/index.ts';

describe('upstream passes every invariant (bounded runs)', () => {
  for (const inv of INVARIANTS) {
    it(inv.id, () => {
      const r = check({ invariants: [inv], variant: null, seed: 20261121, runs: 2500, maxSteps: 40, timeMs: 600_000 });
      expect(r.counterexample?.violation ?? null).toBeNull();
      expect(r.runs).toBe(2500);
    });
  }

  it('all invariants together, longer sequences', () => {
    const r = check({ invariants: INVARIANTS, variant: null, seed: 7, runs: 3000, maxSteps: 80, timeMs: 600_000 });
    expect(r.counterexample?.violation ?? null).toBeNull();
  });
});

/**
 * Bounded property runs of every invariant on upstream: the checker must
 * find nothing.  One search watches them all: a run stops at its first
 * violation, so when none is found every invariant was decided at every
 * step of every sequence — the same steps each would see watching alone
 * (the generated sequences do not depend on the invariants watched).
 */
import { describe, expect, it } from 'vitest';
import { check } from '../checker/check.ts';
import type { CheckReport } from '../checker/check.ts';
import { INVARIANTS } from '../properties/index.ts';

const RUNS = 2500;
let shared: CheckReport | null = null;
const search = (): CheckReport => (shared ??= check({ invariants: INVARIANTS, variant: null, seed: 20261121, runs: RUNS, maxSteps: 40, timeMs: 600_000 }));

describe('upstream passes every invariant (bounded runs)', () => {
  for (const inv of INVARIANTS) {
    it(inv.id, () => {
      const r = search();
      expect(r.runs).toBe(RUNS);
      expect(r.counterexample?.violation.invariant ?? null).not.toBe(inv.id);
      expect(r.counterexample?.violation ?? null).toBeNull();
    });
  }

  it('all invariants together, longer sequences', () => {
    const r = check({ invariants: INVARIANTS, variant: null, seed: 7, runs: 3000, maxSteps: 80, timeMs: 600_000 });
    expect(r.counterexample?.violation ?? null).toBeNull();
  });
});

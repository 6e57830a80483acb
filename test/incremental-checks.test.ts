/**
 * The folio checks pass over a file whose cache, size, block map, in-flight
 * I/O and disk contents did not change since it last passed them
 * (properties/folio.ts, AddressSpace.gen), and the clean-folio check over
 * the folios of a file that did not change themselves (Folio.gen).  A change the model made without
 * telling the mapping would let a check miss a violation; here every
 * variant that breaks a folio invariant, and upstream, is searched twice
 * with the same seed, incrementally and walking every folio of every file
 * at every step: the two searches must end alike (same sequences run, same
 * counterexample or none).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { check } from '../checker/check.ts';
import type { CheckReport } from '../checker/check.ts';
import { INVARIANTS } from '../properties/index.ts';
import { setIncrementalFolioChecks } from '../properties/folio.ts';
import { VARIANTS } from '../model/variants.ts';
import type { VariantInfo } from '../model/variants.ts';

const FOLIO = INVARIANTS.filter((i) => i.id.startsWith('folio/'));
const CASES: Array<VariantInfo | null> = [null, ...VARIANTS.filter((v) => v.breaks.some((id) => id.startsWith('folio/')))];

function search(v: VariantInfo | null, seed: number, mode: 'audit' | 'off'): CheckReport {
  setIncrementalFolioChecks(mode);
  return check({ invariants: FOLIO, variant: v, seed, runs: 1500, maxSteps: 60, timeMs: 600_000 });
}

afterEach(() => setIncrementalFolioChecks('on'));

describe('incremental folio checks decide as the full walk does', () => {
  it('covers the folio invariants and the variants that break them', () => {
    expect(FOLIO.map((i) => i.id).sort()).toEqual(['folio/dirty-iff-dirty-blocks', 'folio/no-clean-while-block-dirty', 'folio/stable-under-writeback', 'folio/writeback-iff-io-in-flight']);
    expect(CASES.length).toBeGreaterThanOrEqual(6);
  });
  for (const v of CASES) {
    it(v?.name ?? 'upstream', () => {
      const seed = 4242;
      // 'audit' throws where a file or a folio is passed over although it changed.
      const inc = search(v, seed, 'audit');
      const full = search(v, seed, 'off');
      expect(inc.runs).toBe(full.runs);
      expect(inc.steps).toBe(full.steps);
      expect(inc.counterexample?.violation ?? null).toEqual(full.counterexample?.violation ?? null);
      expect(inc.counterexample?.steps ?? null).toEqual(full.counterexample?.steps ?? null);
      // A variant's search finds its folio violation (the comparison is not between two empty runs).
      if (v !== null && v.breaks.some((id) => id.startsWith('folio/'))) expect(full.counterexample).not.toBeNull();
    });
  }
});

/**
 * Upstream breaks nothing over the small scope: for each registered file
 * system, every sequence of up to 3 operations (checker/exhaustive.ts), with
 * every invariant watching, runs clean (known kernel findings aside: they are
 * listed, not violations of the model).  The variant and invariant tests
 * rely on this once, instead of re-running the same upstream space for each
 * variant: a variant caught in this scope is caught where upstream is clean,
 * watching all invariants or any one of them.
 */
import { describe, expect, it } from 'vitest';
import { exhaustive } from '../checker/exhaustive.ts';
import { INVARIANTS } from '../properties/index.ts';
import { fs_types } from '../model/filesystems.ts';
import { SMALL_SCOPE } from './helpers.ts';

describe(`upstream is clean over every sequence of up to ${SMALL_SCOPE} operations`, () => {
  for (const t of fs_types()) {
    it(t.name, () => {
      const r = exhaustive({ depth: SMALL_SCOPE, invariants: INVARIANTS, variant: null, fs: t.name });
      expect(r.complete).toBe(true);
      expect(r.sequences).toBeGreaterThan(1000);
      expect(r.counterexample?.violation ?? null).toBeNull();
    });
  }
});

/**
 * The differential generator (`diff --fuzz`) makes only steps the kernel
 * runner sends: a model-only step (writeback, complete, journal_commit,
 * reclaim) is answered "unsupported" by the kernel and not
 * compared, while the model takes it, so the two would then disagree for
 * no reason (an atomic write's crash left writes in flight this way once).
 * Likewise the steps between a power cut and the remount, which the kernel
 * runner does not run (xfs seed 2061, scenario 3329: an open there closed
 * the old descriptor in the model only).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffArbitrary, onModel } from '../../kernel/difffuzz.ts';
import { modelOnlyStep } from '../../kernel/protocol.ts';
import { fs_types } from '../../model/filesystems.ts';

describe('the differential generator', () => {
  for (const t of fs_types().flatMap((fs) => fs.harness.diffTargets)) {
    it(`${t.name}: no model-only step in 150 generated scenarios, and every crash followed by its remount`, () => {
      let crashes = 0;
      for (const input of fc.sample(diffArbitrary(t, 30, true), { numRuns: 150, seed: 2032 })) {
        const { steps } = onModel(t, input);
        expect(steps.filter((s) => modelOnlyStep(s) || s.op === 'device_error').map((s) => s.op)).toEqual([]);
        crashes += steps.filter((s) => s.op === 'crash').length;
        // The kernel runs nothing between a power cut and the remount: nothing is generated there.
        steps.forEach((s, i) => {
          if (s.op === 'crash') expect(steps[i + 1]?.op ?? 'remount').toBe('remount');
        });
      }
      expect(crashes).toBeGreaterThan(20);
    });
  }
});

/**
 * Every counterexample kept in counterexamples/ still reproduces: the same
 * invariant fails at the same step.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../scenario/load.ts';
import { replay } from '../checker/replay.ts';

const DIR = join(import.meta.dirname, '..', 'counterexamples');
const FILES = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.json')).sort() : [];

describe('counterexamples/ replay', () => {
  it('has counterexamples', () => expect(FILES.length).toBeGreaterThan(0));
  for (const f of FILES) {
    it(f, () => {
      const r = replay(loadScenario(join(DIR, f)));
      expect(r.expected, `${f} records no violation`).not.toBeNull();
      expect(r.run.violation).toMatchObject({ invariant: r.expected!.invariant, step: r.expected!.step });
      expect(r.reproduced).toBe(true);
    });
  }
});

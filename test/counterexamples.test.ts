/**
 * Every counterexample kept in counterexamples/ still reproduces: the same
 * invariant fails at the same step, with the file's variant on, and not
 * on upstream (a witness must show what the variant changes).  Every
 * variant -> invariant break a variant claims (model/variants.ts: breaks)
 * has its witness here.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../scenario/load.ts';
import { replay } from '../checker/replay.ts';
import { runChecked } from '../checker/execute.ts';
import { findVariant, Knobs, UPSTREAM, variantKnobs, VARIANTS } from '../model/variants.ts';
import { findInvariant } from '../properties/index.ts';
import { setIncrementalChecks } from '../properties/incremental.ts';

const DIR = join(import.meta.dirname, '..', 'counterexamples');
const FILES = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.json')).sort() : [];

describe('counterexamples/ replay', () => {
  // What the checks would pass over as unchanged or without their events is checked anyway, and a
  // difference throws (properties/incremental.ts): each witness is caught by a check that was called.
  beforeAll(() => setIncrementalChecks('audit'));
  afterAll(() => setIncrementalChecks('on'));
  it('has counterexamples', () => expect(FILES.length).toBeGreaterThan(0));
  it('holds a witness of every claimed variant -> invariant break', () => {
    const missing = VARIANTS.flatMap((v) => v.breaks.filter((inv) => !FILES.some((f) => f.startsWith(`${v.name}.${inv.replace('/', '--')}.`))).map((inv) => `${v.name} -> ${inv}`));
    expect(missing).toEqual([]);
  });
  for (const f of FILES) {
    it(f, () => {
      const sc = loadScenario(join(DIR, f));
      const r = replay(sc);
      expect(r.expected, `${f} records no violation`).not.toBeNull();
      expect(r.run.violation).toMatchObject({ invariant: r.expected!.invariant, step: r.expected!.step });
      expect(r.reproduced).toBe(true);
      // The file is named for its variant and the invariant it breaks.
      const v = findVariant(f.split('.')[0]!);
      expect(v, `${f}: named for a variant`).toBeDefined();
      expect(sc.knobs.names(), `${f}: the variant it is named for is on (with what it implies)`).toEqual(variantKnobs(v!).names());
      expect(f.split('.')[1]).toBe(r.expected!.invariant.replace('/', '--'));
      // Without the variant (on what it builds on: the RFC of a variant of an RFC) the same steps do not break it.
      const inv = findInvariant(r.expected!.invariant)!;
      const base = new Knobs(v!.implies ?? []);
      const without = runChecked(sc.system, base.names().length === 0 ? UPSTREAM : base, sc.doc.steps, [inv]);
      expect(without.violation, `${f} fails without ${v!.name} too`).toBeNull();
    });
  }
});

/**
 * Model-only scenarios (test/scenarios/): behaviour this machine's kernel
 * cannot show (devices with hardware atomic writes), with the expected
 * answers written from the kernel's rules.  The model must give them; no
 * invariant may fire, except where the scenario records a known upstream
 * finding, which it must then show.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../scenario/load.ts';
import { runOnModel } from '../scenario/run.ts';
import { compareResults } from '../kernel/compare.ts';
import type { StepResult } from '../model/system.ts';
import { replay } from '../checker/replay.ts';
import { knownFindings } from '../checker/findings.ts';

const DIR = join(import.meta.dirname, 'scenarios');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('model-only scenarios', () => {
  for (const f of FILES) {
    it(f, () => {
      const sc = loadScenario(join(DIR, f));
      const want = sc.doc.expect as unknown as StepResult[] | undefined;
      expect(want, `${f} has no expected answers`).toBeDefined();
      const got = runOnModel(sc).results;
      expect(got.length).toBe(want!.length);
      got.forEach((r, i) => expect(compareResults(r, want![i]!), `${f} step ${i + 1}`).toBeNull());
      const run = replay(sc).run;
      const known = knownFindings().find((k) => k.scenarios.includes(`test/scenarios/${f}`));
      if (known === undefined) expect(run.violation).toBeNull();
      else expect(run.violation !== null && known.matches(sc.doc.system, run.steps, run.results, run.violation), `${f} no longer shows ${known.id}`).toBe(true);
    });
  }
});

/**
 * The conformance corpus: scenarios checked against this machine's kernel,
 * with the kernel's answers recorded in each file's `expect`
 * (`iospec run --kernel --record FILE`).  The model must give the same
 * answers (physical block addresses aside); no invariant may fire on them;
 * and where the kernel is available it is run again to catch drift.
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
import { kernelUnsupportedReason, runOnKernel } from '../kernel/runner.ts';
import { probeKernel } from '../kernel/probe.ts';

const DIR = join(import.meta.dirname, 'conformance');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

function firstDisagreement(a: readonly StepResult[], b: readonly StepResult[]): string | null {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) return `step ${i + 1}: missing result`;
    const d = compareResults(x, y);
    if (d !== null) return `step ${i + 1} ${d.field}: ${JSON.stringify(d.model)} vs ${JSON.stringify(d.kernel)}`;
  }
  return null;
}

describe('model agrees with the recorded kernel answers', () => {
  it('has a corpus', () => expect(FILES.length).toBeGreaterThan(10));
  for (const f of FILES) {
    it(f, () => {
      const sc = loadScenario(join(DIR, f));
      expect(sc.doc.expect, `${f} has no recorded kernel answers`).toBeDefined();
      const model = runOnModel(sc).results;
      expect(firstDisagreement(model, sc.doc.expect as unknown as StepResult[])).toBeNull();
    });
  }
});

describe('no invariant fires on the corpus (it is upstream behaviour), except known upstream findings', () => {
  for (const f of FILES) {
    it(f, () => {
      const sc = loadScenario(join(DIR, f));
      const r = replay(sc);
      // Unless the scenario is the record of a known upstream finding, which it must then show.
      const known = knownFindings().find((k) => k.scenarios.includes(`test/conformance/${f}`));
      if (known === undefined) expect(r.run.violation).toBeNull();
      else expect(r.run.violation !== null && known.matches(sc.doc.system, r.run.steps, r.run.results, r.run.violation), `${f} no longer shows ${known.id}`).toBe(true);
    });
  }
});

describe('the kernel still gives the recorded answers', () => {
  for (const f of FILES) {
    const sc = loadScenario(join(DIR, f));
    const probe = probeKernel(sc.system.fs);
    const why = kernelUnsupportedReason(sc.system) ?? (probe.ok ? null : probe.missing.join('; '));
    it.skipIf(why !== null)(`${f}${why !== null ? ` — skipped: ${why}` : ''}`, async () => {
      const kernel = await runOnKernel(sc.system, sc.doc.steps);
      expect(firstDisagreement(kernel, sc.doc.expect as unknown as StepResult[])).toBeNull();
    });
  }
});

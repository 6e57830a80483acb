/**
 * A short differential fuzz of every file system's targets on this kernel
 * (the long one is `iospec diff --fuzz`, see README): model and kernel
 * agree, or the difference is a listed limitation.  Skipped, with the
 * reason in the test name, where the kernel cannot be used.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeKernel } from '../kernel/probe.ts';
import { diffFuzz } from '../kernel/difffuzz.ts';
import type { DiffFuzzReport, FoundDisagreement } from '../kernel/difffuzz.ts';
import { diffFuzzJobs, mergeDiffReports } from '../kernel/difffuzz-jobs.ts';
import { fs_types } from '../model/filesystems.ts';

describe('differential fuzzing (short; the long run is `iospec diff --fuzz`)', () => {
  for (const fs of fs_types()) for (const target of fs.harness.diffTargets) {
    const p = probeKernel(fs.name);
    const whyNot = p.ok ? null : p.missing.join('; ');
    it.skipIf(whyNot !== null)(`${target.label}: model and kernel agree, or the difference is a listed limitation${whyNot !== null ? ` — skipped: ${whyNot}` : ''}`, async () => {
      // Disagreements are saved (shrunk) for `iospec diff FILE`; the failure message names the files.
      const out = join(tmpdir(), 'iospec-kernel-runner-test');
      const r = await diffFuzz({ target, count: 25, seed: 20261121, timeMs: 600_000, maxSteps: 30, out, shrinkBudget: 60 });
      expect(r.scenarios).toBe(25);
      expect(r.disagreements.map((d) => `step ${d.step} ${d.op} ${d.field}: model ${JSON.stringify(d.model)} kernel ${JSON.stringify(d.kernel)} (${d.file})`)).toEqual([]);
    });
  }
});

describe('diff --fuzz --jobs: the workers share the scenarios, the outcome does not depend on their number', () => {
  const target = fs_types().flatMap((fs) => fs.harness.diffTargets).find((t) => t.name === 'xfs')!;
  const p = probeKernel('xfs');
  const whyNot = p.ok ? null : p.missing.join('; ');
  it.skipIf(whyNot !== null)(`2 workers run the same 6 scenarios as one process${whyNot !== null ? ` — skipped: ${whyNot}` : ''}`, async () => {
    const o = { target, count: 6, seed: 7, timeMs: 600_000, maxSteps: 20, out: null, shrinkBudget: 0 };
    const one = await diffFuzz(o);
    const two = await diffFuzzJobs(o, 2);
    expect(two.scenarios).toBe(6);
    expect({ ...two, elapsedMs: 0 }).toEqual({ ...one, elapsedMs: 0 });
  });
});

describe('mergeDiffReports', () => {
  it('adds up the workers and orders the disagreements by scenario', () => {
    const d = (scenario: number): FoundDisagreement => ({ scenario, step: 1, op: 'pread', field: 'data', model: 'a', kernel: 'b', limitation: null, steps: 3, file: null });
    const part = (scenarios: number, ds: FoundDisagreement[], lim: Record<string, number>): DiffFuzzReport => ({ fs: 'xfs', scenarios, steps: scenarios * 10, agreed: scenarios - ds.length, disagreements: ds, limitations: lim, crashSubsets: 1, elapsedMs: 5 });
    const m = mergeDiffReports([part(3, [d(5)], { x: 1 }), part(2, [d(2)], { x: 2, y: 1 })], 9);
    expect(m).toEqual({ fs: 'xfs', scenarios: 5, steps: 50, agreed: 3, disagreements: [d(2), d(5)], limitations: { x: 3, y: 1 }, crashSubsets: 2, elapsedMs: 9 });
  });
});

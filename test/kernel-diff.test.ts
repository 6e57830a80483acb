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

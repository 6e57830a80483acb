/**
 * Reproducers: every counterexample and conformance scenario exports to an
 * xfs_io script that bash accepts, with every step accounted for (a command
 * or a marked comment).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../scenario/load.ts';
import { runOnModel } from '../scenario/run.ts';
import { toXfsIo } from '../kernel/export.ts';
import { toVitest } from '../kernel/regression.ts';

const DIRS = ['counterexamples', 'test/conformance'].map((d) => join(import.meta.dirname, '..', d));

describe('xfs_io export', () => {
  for (const dir of DIRS) {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
      it(`${dir.split('/').slice(-1)[0]}/${f}`, () => {
        const sc = loadScenario(join(dir, f));
        const script = toXfsIo(sc.doc, sc.system, runOnModel(sc).results);
        sc.doc.steps.forEach((_s, i) => expect(script, `step ${i + 1} missing`).toContain(`step ${i + 1}:`));
        execFileSync('bash', ['-n'], { input: script });
      });
    }
  }
  it('marks what xfs_io cannot do', () => {
    const sc = loadScenario(join(import.meta.dirname, 'conformance', 'xfs-clone-checks.json'));
    expect(toXfsIo(sc.doc, sc.system, null)).toContain('xfs_io open has no option for O_WRONLY');
  });
});

describe('vitest regression export', () => {
  it('asserts the recorded violation, and a clean upstream for a variant', () => {
    const sc = loadScenario(join(import.meta.dirname, '..', 'counterexamples', 'dio-no-bounce.integrity--checksum-matches-data.1.json'));
    const t = toVitest(sc.doc, 'counterexamples/dio-no-bounce.integrity--checksum-matches-data.1.json');
    expect(t).toContain('expect(r.violation?.invariant).toBe("integrity/checksum-matches-data")');
    expect(t).toContain(`expect(r.violation?.step).toBe(${sc.doc.violates!.step})`);
    expect(t).toContain("it('upstream: the same steps break nothing'");
  });
  it('an upstream counterexample (a kernel finding) has no upstream-clean test', () => {
    const sc = loadScenario(join(import.meta.dirname, 'conformance', 'xfs-atomic-sync-ondisk-size.json'));
    const t = toVitest({ ...sc.doc, violates: { invariant: 'sync/dsync-durable', step: 8, detail: '' } }, 'x.json');
    expect(t).not.toContain('upstream: the same steps break nothing');
  });
});

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

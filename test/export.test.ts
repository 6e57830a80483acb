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
import { toFsxOps } from '../kernel/export-fsx.ts';
import { toC } from '../kernel/export-c.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

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

/** The grammar fsx's read_op accepts: an op name, 3 numbers (4 for clone_range), flag words. */
const FSX_LINE = /^(read|write|mapread|mapwrite|truncate|fallocate|punch_hole|zero_range|collapse_range|insert_range|fsync)( 0x[0-9a-f]+){3}( keep_size)?$|^clone_range( 0x[0-9a-f]+){4}$/;

const hasCc = (() => {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('fsx and C exports', () => {
  const all = DIRS.flatMap((dir) => readdirSync(dir).filter((x) => x.endsWith('.json')).sort().map((f) => join(dir, f)));
  it('every fsx line parses as fsx --replay-ops reads it, every step is accounted for', () => {
    for (const file of all) {
      const sc = loadScenario(file);
      const ops = toFsxOps(sc.doc, runOnModel(sc).results);
      sc.doc.steps.forEach((_s, i) => expect(ops, `${file}: step ${i + 1} missing`).toContain(`step ${i + 1}:`));
      for (const line of ops.split('\n')) if (line !== '' && !line.startsWith('#')) expect(line, file).toMatch(FSX_LINE);
    }
  });
  it.skipIf(!hasCc)(`every C reproducer compiles${hasCc ? '' : ' — skipped: no C compiler'}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'iospec-c-'));
    for (const file of all) {
      const sc = loadScenario(file);
      const src = join(dir, 'repro.c');
      writeFileSync(src, toC(sc.doc, sc.system, runOnModel(sc).results));
      execFileSync('cc', ['-Wall', '-Werror', '-o', join(dir, 'repro'), src], { stdio: 'pipe' });
    }
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

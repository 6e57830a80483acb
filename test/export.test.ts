/**
 * Reproducers: every counterexample and conformance scenario exports to an
 * xfs_io script that bash accepts, with every step accounted for (a command
 * or a marked comment).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../scenario/load.ts';
import { runOnModel } from '../scenario/run.ts';
import { toXfsIo } from '../kernel/export.ts';
import { toVitest } from '../kernel/regression.ts';
import { toFsxOps } from '../kernel/export-fsx.ts';
import { toC, toCProgram, type CProgram } from '../kernel/export-c.ts';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { probeKernel } from '../kernel/probe.ts';
import { parseScenario } from '../scenario/load.ts';

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
  // xfs_io runs a -c command on every open file: the export uses -C (once, on
  // the current file) and follows xfs_io's file table through opens, closes
  // and a name opened again (the old file is closed first, as in the model).
  const reopened = parseScenario({
    format: 'iospec-scenario/1',
    name: 'a name opened again: buffered, then O_DIRECT',
    system: { fs: 'xfs' },
    steps: [
      { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] },
      { op: 'pwrite', fd: 'A', offset: 0, length: 8192, fill: 0x81 },
      { op: 'open', path: 'g', fd: 'B', flags: ['O_RDWR', 'O_CREAT'] },
      { op: 'pwrite', fd: 'B', offset: 0, length: 100, fill: 0x22 },
      { op: 'fsync', fd: 'A' },
      { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_DIRECT'] },
      { op: 'pread', fd: 'A', offset: 1, length: 10 },
      { op: 'pread', fd: 'A', offset: 4096, length: 4096 },
      { op: 'pread', fd: 'B', offset: 0, length: 200 },
      { op: 'close', fd: 'B' },
      { op: 'pread', fd: 'A', offset: 0, length: 512 },
    ],
  });
  const reopenedScript = toXfsIo(reopened.doc, reopened.system, runOnModel(reopened).results);
  it('a name opened again: the old file is closed, reads go to the new one, every command is one-shot', () => {
    const lines = reopenedScript.split('\n');
    const at = (needle: string) => lines.findIndex((l) => l.includes(needle));
    expect(reopenedScript).not.toMatch(/ -c "/);
    expect(lines[at('step 5: fsync') - 1]).toContain('-C "file 0"');
    expect(at('step 6 reopens A')).toBe(at('step 5: fsync') + 1);
    expect(lines[at('step 6: open')]).toContain('open -d');
    // after B is closed, A is xfs_io's file 0 and current: no "file" command before step 11
    expect(lines[at('step 11:') - 1]).toContain('step 10: close B');
    expect(reopenedScript).toContain("check_reads '7|E:EINVAL;8|R:4096:81*4096;9|R:100:22*100;11|R:512:81*512'");
  });
  const xfs = probeKernel('xfs');
  it.skipIf(!xfs.ok)(`run on this kernel, each read prints its verdict and all agree with the model${xfs.ok ? '' : ` — skipped: ${xfs.missing.join('; ')}`}`, () => {
    const r = spawnSync('bash', ['-c', reopenedScript], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout.split('\n').filter((l) => l.startsWith('step '))).toEqual([
      'step 7: pread fails with Invalid argument, as the model predicts (EINVAL)',
      'step 8: pread returns 4096 bytes, as the model predicts',
      'step 9: pread returns 100 bytes, as the model predicts',
      'step 11: pread returns 512 bytes, as the model predicts',
    ]);
    expect(r.stdout).toContain('every read as the model predicts');
    expect(r.status).toBe(0);
    // a wrong prediction is caught, byte for byte
    const wrong = spawnSync('bash', ['-c', reopenedScript.replace('8|R:4096:81*4096', '8|R:4096:81*4000,82*96')], { encoding: 'utf8', timeout: 60_000 });
    expect(wrong.stdout).toContain('step 8: MISMATCH: byte 4000 reads 0x81, the model says 0x82');
    expect(wrong.status).toBe(1);
  });
  it('atomic writes: the script checks for pwrite -A and points to the C export where it is missing', () => {
    const sc = parseScenario({
      format: 'iospec-scenario/1',
      system: { fs: 'xfs', blockSize: 4096 },
      steps: [
        { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT', 'O_DIRECT'] },
        { op: 'pwrite', fd: 'A', offset: 0, length: 4096, fill: 1, flags: ['RWF_ATOMIC'] },
      ],
    });
    const script = toXfsIo(sc.doc, sc.system, runOnModel(sc).results);
    expect(script).toContain('pwrite -A (xfsprogs 6.12 or later');
    expect(script).toContain('npx iospec export --c');
    expect(script).toContain('-C "pwrite -q -S 0x01 -b 4096 -A -V 1 0 4096"');
  });
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
    try {
      const programs = all.map((file) => {
        const sc = loadScenario(file);
        const results = runOnModel(sc).results;
        return { file, c: toCProgram(sc.doc, sc.system, results), text: () => toC(sc.doc, sc.system, results) };
      });
      // One unit instead of a compiler run per file (60 ms each, mostly the compiler starting and
      // parsing the same headers): the prelude every reproducer shares, once (checked to be the same
      // text in each), then each reproducer's own text (its comment, defines and main, renamed).
      const fdCount = (c: CProgram): number => Number(/^#define FD_COUNT (\d+)$/m.exec(c.head.join('\n'))?.[1]);
      const prelude = programs[0]!.c.prelude;
      const unit = [`#define FD_COUNT ${Math.max(...programs.map((p) => fdCount(p.c)))}`, '#define FSTYPE ""', '#define MOUNT_OPTS ""', prelude];
      programs.forEach(({ file, c }, i) => {
        expect(c.prelude === prelude, `${file}: its prelude is not the others'`).toBe(true);
        expect(fdCount(c), file).toBeGreaterThan(0);
        unit.push('#undef FD_COUNT', '#undef FSTYPE', '#undef MOUNT_OPTS', `#line 1 "${file}.c"`, ...c.head);
        unit.push(`__attribute__((unused)) static const char *fstype_${i} = FSTYPE, *mount_opts_${i} = MOUNT_OPTS;`);
        unit.push(`#define main main_${i}`, ...c.main, '#undef main');
      });
      const whole = join(dir, 'all.c');
      writeFileSync(whole, unit.join('\n'));
      execFileSync('cc', ['-fsyntax-only', '-Wall', '-Werror', whole], { stdio: 'pipe' });
      // And one reproducer exactly as `iospec export --c` writes it, built and linked.
      const one = join(dir, 'repro.c');
      writeFileSync(one, programs[0]!.text());
      execFileSync('cc', ['-Wall', '-Werror', '-o', join(dir, 'repro'), one], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
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

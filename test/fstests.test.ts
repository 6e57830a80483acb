/**
 * Reproducers as fstests tests (kernel/export-fstests.ts): every
 * counterexample and conformance scenario exports to a test that bash
 * accepts, follows the suite's conventions, names the fstests helpers it
 * needs, and whose golden output the test's own filter can print.  Where
 * xfs_io is installed, a few tests run under a stand-in for the harness on a
 * scratch directory (the filter and the golden output agree on a kernel that
 * does what the model says); the real ./check run is `npm run test:fstests`'s
 * job, not the suite's.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knownFindings } from '../checker/findings.ts';
import { loadScenario } from '../scenario/load.ts';
import { fstestsFor } from '../kernel/export-fstests.ts';

const ROOT = join(import.meta.dirname, '..');
const DIRS = ['counterexamples', 'test/conformance'];

describe('fstests export', () => {
  for (const dir of DIRS) {
    for (const f of readdirSync(join(ROOT, dir)).filter((x) => x.endsWith('.json')).sort()) {
      it(`${dir.split('/').slice(-1)[0]}/${f}`, () => {
        const sc = loadScenario(join(ROOT, dir, f));
        const t = fstestsFor(sc, '123');
        const s = t.script;
        sc.doc.steps.forEach((_s, i) => expect(s, `step ${i + 1} missing`).toContain(`step ${i + 1}:`));
        execFileSync('bash', ['-n'], { input: s });
        // The suite's conventions.
        expect(s.startsWith('#! /bin/bash\n# SPDX-License-Identifier: GPL-2.0\n# FS QA Test No. 123\n')).toBe(true);
        expect(s).toContain('\n. ./common/preamble\n_begin_fstest auto quick rw');
        expect(s).toMatch(/\n_require_scratch\n/);
        expect(s).toMatch(/\n_scratch_mkfs[^\n]* >> \$seqres\.full 2>&1/);
        expect(s).toMatch(/\n_scratch_mount[^\n]*\n/);
        expect(s.trimEnd().endsWith('_exit 0')).toBe(true);
        expect(t.dir).toBe(`tests/${sc.system.fs}`);
        const steps = sc.doc.steps;
        if (steps.some((x) => x.op === 'crash')) expect(s).toMatch(/_require_scratch_shutdown[\s\S]*_scratch_cycle_mount/);
        if (steps.some((x) => x.op === 'open' && x.flags.includes('O_DIRECT'))) expect(s).toContain('\n_require_odirect\n');
        if (steps.some((x) => x.op === 'clone')) expect(s).toContain('\n_require_scratch_reflink\n');
        if (s.includes(' -A ')) expect(s).toMatch(/\. \.\/common\/atomicwrites[\s\S]*_require_xfs_io_command "pwrite" "-A"/);
        // Every helper it names is called, and every xfs_io command it runs is required.
        for (const h of t.helpers) expect(s, h).toMatch(new RegExp(`(^|\\n|\\s|\\$\\()${h}\\b`));
        for (const c of new Set([...s.matchAll(/^ {2}-C "([a-z_]+)/gm)].map((m) => m[1]!))) {
          if (['open', 'close', 'file', 'help'].includes(c)) continue;
          expect(s, `xfs_io ${c} not required`).toContain(`_require_xfs_io_command "${c}"`);
        }
        // The golden output: the header line, then lines of the steps the filter judges, in order.
        const golden = t.golden.trimEnd().split('\n');
        expect(golden[0]).toBe('QA output created by 123');
        const judged = [...s.matchAll(/_iospec_filter '([^']*)'/g)].flatMap((m) => m[1]!.split(';').map((x) => Number(x.split('|')[0])));
        let last = 0;
        for (const l of golden.slice(1)) {
          const n = Number(/^step ([0-9]+): /.exec(l)?.[1] ?? NaN);
          expect(judged, l).toContain(n);
          expect(n, 'golden lines in step order').toBeGreaterThanOrEqual(last);
          last = n;
        }
      });
    }
  }

  // An upstream finding's golden output is what the invariant demands, not what the model of 6.18 answers.
  it.each([
    ['test/conformance/xfs-atomic-append-unaligned.json', [8, 13], 'step 13: bytes 0..4608: 0x02*512 0x03*4096'],
    ['test/conformance/xfs-atomic-sync-ondisk-size.json', [8], 'step 8: bytes 0..4096: 0x03*4096'],
    ['test/conformance/xfs-dio-append-reflink-unaligned.json', [5, 10], 'step 10: bytes 0..11776: 0x01*3584 0x00*512 0x01*3584 0x02*4096'],
    ['test/conformance/ext4-dio-extend-after-crash-stale-tail.json', [10], 'step 10: bytes 0..8704: 0x02*512 0x00*4096 0x03*4096'],
    ['test/conformance/ext4-mmap-beyond-eof-dio-extend.json', [6, 7, 9], 'step 9: bytes 0..8192: 0x01*4608 0x00*3584'],
    ['test/conformance/xfs-dio-sync-cow-ondisk-size.json', [12], 'step 12: bytes 0..4096: 0x03*4096'],
    ['test/conformance/xfs-dio-append-reflink-copy.json', [12], 'step 12: bytes 0..10240: 0x01*6144 0x02*4096'],
    ['test/conformance/xfs-atomic-append-unaligned-used-disk.json', [10], 'step 10: bytes 0..4608: 0x02*512 0x03*4096'],
    // A clone through an O_DSYNC file is durable: the size covers it and its bytes read back.
    ['test/conformance/xfs-sync-clone-ondisk-size.json', [12], 'step 12: bytes 1024..2048: 0x02*1024'],
    // The damage is the failure itself: the golden output is the read a correct kernel returns.
    ['test/conformance/xfs-dio-read-past-eof-delalloc.json', [6], 'step 6: pread returns 65537 bytes'],
  ])('%s: the golden output differs from the buggy kernel at the damaged reads', (file, differs, line) => {
    const t = fstestsFor(loadScenario(join(ROOT, file)));
    expect(t.differs).toEqual(differs);
    expect(t.golden.split('\n')).toContain(line);
    expect(t.script).toContain('Upstream finding');
  });

  it('every confirmed finding\'s scenario exports to a test that fails on a kernel with the bug', () => {
    const all = knownFindings().filter((f) => f.confirmed).flatMap((f) => f.scenarios);
    for (const file of all) {
      const sc = loadScenario(join(ROOT, file));
      const t = fstestsFor(sc);
      // The export cannot fail sectors (device_error; fstests's dm-error could): the reads after it
      // are not judged, and scripts/fstests-check.sh leaves such a scenario out (kernel runner only).
      if (sc.doc.steps.some((s) => s.op === 'device_error')) expect(t.script, file).toContain('the reads after it are not judged');
      else expect(t.differs.length, file).toBeGreaterThan(0);
    }
  });

  // A variant's counterexample: upstream is correct, so the golden output is the upstream model's.
  it('a counterexample of a variant: the golden output is what upstream answers', () => {
    const t = fstestsFor(loadScenario(join(ROOT, 'counterexamples/dio-no-invalidate.data--read-your-writes.1.json')));
    expect(t.differs).toEqual([]);
    expect(t.script).toContain('on the model variant dio-no-invalidate');
    expect(t.golden).toMatch(/step [0-9]+: pread returns/);
  });

  // The filter and the golden output, end to end: under a stand-in for the harness
  // (the helpers as plain commands) on a scratch directory, with the real xfs_io.
  const xfsIo = spawnSync('xfs_io', ['-V'], { encoding: 'utf8' });
  const why = xfsIo.status !== 0 ? 'xfs_io (xfsprogs) is not installed' : spawnSync('stdbuf', ['--version']).status !== 0 ? 'stdbuf (coreutils) is missing' : null;
  it.skipIf(why !== null)(`the golden output is what the test prints where the kernel answers as the model says${why !== null ? ` — skipped: ${why}` : ''}`, () => {
    const work = mkdtempSync(join(tmpdir(), 'iospec-fstests-'));
    try {
      mkdirSync(join(work, 'common'));
      for (const c of ['filter', 'reflink', 'atomicwrites']) writeFileSync(join(work, 'common', c), '');
      const scratch = join(work, 'scratch');
      writeFileSync(join(work, 'common', 'preamble'), [
        `_begin_fstest() { seq=123; seqres=${work}/res; status=1; : > $seqres.full; }`,
        '_notrun() { echo "notrun: $*"; exit 0; }', '_fail() { echo "fail: $*"; exit 1; }', '_exit() { exit "${1:-0}"; }',
        ...['_require_scratch', '_require_odirect', '_require_xfs_io_command', '_require_command', '_scratch_mount', '_scratch_cycle_mount'].map((h) => `${h}() { :; }`),
        `_scratch_mkfs() { rm -rf ${scratch}; mkdir -p ${scratch}; }`,
        `_filter_scratch() { sed -e "s#${scratch}#SCRATCH_MNT#g"; }`,
        `export SCRATCH_MNT=${scratch} XFS_IO_PROG=xfs_io`,
      ].join('\n'));
      for (const f of ['xfs-eof-reads', 'ext4-coherence']) {
        const t = fstestsFor(loadScenario(join(ROOT, 'test/conformance', `${f}.json`)), '123');
        writeFileSync(join(work, 't'), t.script);
        const fs = /FSTYP" = "([a-z0-9]+)"/.exec(t.script)![1]!;
        const r = spawnSync('bash', ['./t'], { cwd: work, encoding: 'utf8', env: { ...process.env, FSTYP: fs } });
        expect(`QA output created by 123\n${r.stdout}${r.stderr}`, f).toBe(t.golden);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

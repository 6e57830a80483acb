/**
 * Known upstream findings, from finding to fix: each confirmed finding has
 * its scenarios (the first as found, then the wider triggers, all recorded
 * on the kernel), a report for the maintainers (docs/findings/ID.md) and a
 * fix variant under which every one of its scenarios runs clean.  That the
 * fix is a clean design over the checker's whole search (exhaustive small
 * scope, random sequences, the finding's counter at zero) is proven with
 * the other clean designs (test/variants-teeth.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knownFindings } from '../checker/findings.ts';
import { loadScenario } from '../scenario/load.ts';
import { runChecked } from '../checker/execute.ts';
import { knobsOf } from '../checker/check.ts';
import { findVariant } from '../model/variants.ts';
import { INVARIANTS } from '../properties/index.ts';
import type { Step } from '../scenario/schema.ts';

const ROOT = join(import.meta.dirname, '..');

/** What a report must say, as a mail to the maintainers (issue 16, item 3). */
const REPORT_SECTIONS = ['Subject:', 'Kernel:', '## Damage', '## Reproducer', '## Code path', '## Proposed fix', '## Checking the fix'];

describe('every finding: its scenarios show it, and its fix makes each one clean', () => {
  for (const f of knownFindings()) {
    describe(f.id, () => {
      it('has its scenarios, each on the file system of the first', () => {
        for (const s of f.scenarios) expect(existsSync(join(ROOT, s)), s).toBe(true);
        const fss = new Set(f.scenarios.map((s) => loadScenario(join(ROOT, s)).system.fs));
        expect(fss.size).toBe(1);
      });
      if (f.confirmed) {
        it('is confirmed: its scenarios are recorded kernel answers, it has a report and a fix', () => {
          for (const s of f.scenarios) expect(s.startsWith('test/conformance/'), s).toBe(true);
          const report = join(ROOT, 'docs', 'findings', `${f.id}.md`);
          expect(existsSync(report), report).toBe(true);
          const text = readFileSync(report, 'utf8');
          for (const h of REPORT_SECTIONS) expect(text, `${f.id}.md: ${h}`).toContain(h);
          expect(text).toContain(`iospec check --variant ${f.fix}`);
          expect(f.fix, `${f.id} has no fix variant`).toBeDefined();
        });
      }
      const fix = f.fix === undefined ? undefined : findVariant(f.fix);
      if (fix === undefined) return;
      it(`fix ${fix.name}: claims to break nothing, and no scenario of the finding violates anything with it`, () => {
        expect(fix.breaks).toEqual([]);
        for (const s of f.scenarios) {
          const sc = loadScenario(join(ROOT, s));
          // Upstream the scenario shows the finding (test/conformance.test.ts); with the fix, nothing.
          const up = runChecked(sc.system, sc.knobs, sc.doc.steps, INVARIANTS);
          expect(up.violation, `${s} on upstream`).not.toBeNull();
          const fixed = runChecked(sc.system, knobsOf(fix), sc.doc.steps, INVARIANTS);
          expect(fixed.violation?.detail ?? null, `${s} with ${fix.name}`).toBeNull();
          // The fix's changed code ran: the scenario reached it.
          const knobs = knobsOf(fix);
          runChecked(sc.system, knobs, sc.doc.steps, INVARIANTS);
          expect(knobs.reached, `${s} never reaches ${fix.name}'s code`).toBeGreaterThan(0);
        }
      });
    });
  }
});

describe('ext4-dio-extend-stale-tail through a recovered EOF (diff --fuzz --fs ext4 --seed 2063, scenario 3809)', () => {
  const f = knownFindings().find((x) => x.id === 'ext4-dio-extend-stale-tail')!;
  const steps = [
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT', 'O_DIRECT'] },
    { op: 'crash', keep: 'all' },
    { op: 'remount' },
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_DIRECT'] },
    { op: 'pread', fd: 'A', offset: 0, length: 266752 },
    { op: 'pwrite', fd: 'A', offset: 1053184, length: 1024, fill: 5 },
    { op: 'pread', fd: 'A', offset: 0, length: 1048576 },
  ] as const satisfies readonly Step[];
  const results = (eof: number) => [{ step: 1, op: 'open', ret: 0 }, { step: 2, op: 'crash', ret: 0 }, { step: 3, op: 'remount', ret: 0 }, { step: 4, op: 'open', ret: 0 }, { step: 5, op: 'pread', ret: eof }, { step: 6, op: 'pwrite', ret: 1024 }, { step: 7, op: 'pread', ret: 1048576 }];
  const v = { invariant: 'data/no-stale-exposure' as const, step: 7, detail: '' };
  it('a stale-exposure after a direct write past an EOF inside a block is the finding', () => {
    expect(f.matches({ fs: 'ext4', blockSize: 1024 }, steps, results(201216), v)).toBe(true);
  });
  it('not when the recovered EOF is block aligned', () => {
    expect(f.matches({ fs: 'ext4', blockSize: 1024 }, steps, results(201728), v)).toBe(false);
  });
});

describe('btrfs-truncate-tail-after-crash: only when a commit took the extension before its zeroed block was written', () => {
  const f = knownFindings().find((x) => x.id === 'btrfs-truncate-tail-after-crash')!;
  const steps = (between: Step[], eof = 512): Step[] => [
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] },
    { op: 'pwrite', fd: 'A', offset: 0, length: 8192, fill: 21 },
    { op: 'fsync', fd: 'A' },
    { op: 'ftruncate', fd: 'A', length: eof },
    { op: 'fsync', fd: 'A' },
    { op: 'ftruncate', fd: 'A', length: 8192 },
    ...between,
    { op: 'journal_commit' },
    { op: 'crash' },
    { op: 'remount' },
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR'] },
    { op: 'pread', fd: 'A', offset: 0, length: 8192 },
  ];
  const ok = (s: Step[]) => s.map((x, i) => ({ step: i + 1, op: x.op, ret: 0 }));
  const v = (s: Step[]) => ({ invariant: 'data/read-your-writes' as const, step: s.length, detail: '' });
  it('matches the scenario', () => {
    const s = steps([]);
    expect(f.matches({ fs: 'btrfs', blockSize: 4096 }, s, ok(s), v(s))).toBe(true);
  });
  it('not when an fsync wrote the zeroed block back before the commit', () => {
    const s = steps([{ op: 'fsync', fd: 'A' }]);
    expect(f.matches({ fs: 'btrfs', blockSize: 4096 }, s, ok(s), v(s))).toBe(false);
  });
  it('not when the truncate left a block-aligned EOF', () => {
    const s = steps([], 4096);
    expect(f.matches({ fs: 'btrfs', blockSize: 4096 }, s, ok(s), v(s))).toBe(false);
  });
});

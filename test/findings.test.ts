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
import { resolveSystem } from '../scenario/resolve.ts';

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
      const without = f.cleanWithout;
      if (without !== undefined) {
        it('its scenarios break an invariant, and run clean on the system without its trigger', () => {
          for (const s of f.scenarios) {
            const sc = loadScenario(join(ROOT, s));
            expect(runChecked(sc.system, sc.knobs, sc.doc.steps, INVARIANTS).violation, `${s} on upstream`).not.toBeNull();
            const other = runChecked(resolveSystem(without(sc.doc.system)), sc.knobs, sc.doc.steps, INVARIANTS);
            expect(other.violation?.detail ?? null, `${s} without the trigger`).toBeNull();
          }
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

describe('xfs-sync-extend-eof-zeroing-not-durable: a synchronous write past a recovered EOF inside a block, then a crash (soak xfs seed 13)', () => {
  const f = knownFindings().find((x) => x.id === 'xfs-sync-extend-eof-zeroing-not-durable')!;
  const system = { fs: 'xfs' as const, blockSize: 1024 };
  // The soak's sequence after its first crash: a read at the recovered EOF (610815) pins it.
  const steps = (o: { eof?: number; flags?: string[]; rwf?: string[]; between?: Step[]; crash?: boolean } = {}): Step[] => [
    { op: 'open', path: 'f', fd: 'C', flags: ['O_RDWR', 'O_CREAT', 'O_DIRECT'] },
    { op: 'pwrite', fd: 'C', offset: 610304, length: 1024, fill: 247 },
    { op: 'crash', keep: 'all' },
    { op: 'remount' },
    { op: 'open', path: 'f', fd: 'C', flags: ['O_RDWR', 'O_CREAT'] },
    { op: 'pread', fd: 'C', offset: o.eof ?? 610815, length: 4096 },
    { op: 'fdatasync', fd: 'C' },
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT', ...(o.flags ?? ['O_SYNC'])] },
    ...(o.between ?? []),
    { op: 'pwrite', fd: 'A', offset: 676351, length: 1025, fill: 26, flags: o.rwf ?? [] },
    ...(o.crash === false ? [] : [{ op: 'crash' } as const, { op: 'remount' } as const]),
    { op: 'open', path: 'f', fd: 'B', flags: ['O_RDWR'] },
    { op: 'pread', fd: 'B', offset: 4096, length: 1048576 },
  ];
  const ok = (s: Step[]) => s.map((x, i) => ({ step: i + 1, op: x.op, ret: x.op === 'pread' && i < s.length - 1 ? 0 : x.op === 'pwrite' ? x.length ?? 0 : 0 }));
  const v = (s: Step[], invariant: 'data/read-your-writes' | 'cow/source-unchanged' = 'data/read-your-writes') => ({ invariant, step: s.length, detail: '' });
  it('matches the soak sequence, and its RWF_DSYNC, O_DSYNC and direct forms', () => {
    for (const s of [steps(), steps({ flags: [], rwf: ['RWF_DSYNC'] }), steps({ flags: ['O_DSYNC'] }), steps({ flags: ['O_DIRECT', 'O_DSYNC'] })]) expect(f.matches(system, s, ok(s), v(s))).toBe(true);
  });
  it('not for a write that is not synchronous', () => {
    const s = steps({ flags: [] });
    expect(f.matches(system, s, ok(s), v(s))).toBe(false);
  });
  it('not when the recovered EOF is block aligned', () => {
    const s = steps({ eof: 610304 });
    expect(f.matches(system, s, ok(s), v(s))).toBe(false);
  });
  it('not without a crash after the synchronous write', () => {
    const s = steps({ crash: false });
    expect(f.matches(system, s, ok(s), v(s))).toBe(false);
  });
  it('not when a truncate changed the file in between, but when another file was truncated', () => {
    const s = steps({ between: [{ op: 'ftruncate', fd: 'C', length: 620000 }] });
    expect(f.matches(system, s, ok(s), v(s))).toBe(false);
    const other = steps({ between: [{ op: 'open', path: 'g', fd: 'G', flags: ['O_RDWR', 'O_CREAT'] }, { op: 'ftruncate', fd: 'G', length: 620000 }] });
    expect(f.matches(system, other, ok(other), v(other))).toBe(true);
  });
  it('not when the read that pinned EOF was of another file', () => {
    const s = steps({ between: [] }).map((x) => (x.op === 'pread' && x.offset === 610815 ? { ...x, fd: 'G' } : x));
    s.splice(5, 0, { op: 'open', path: 'g', fd: 'G', flags: ['O_RDWR', 'O_CREAT'] });
    expect(f.matches(system, s, ok(s), v(s))).toBe(false);
  });
  it('not for another invariant', () => {
    const s = steps();
    expect(f.matches(system, s, ok(s), v(s, 'cow/source-unchanged'))).toBe(false);
  });
});

/**
 * Judging the kernel's answers by the oracle after a crash that keeps a
 * subset of the writes (checker/kernel-judge.ts): the model runs beside,
 * but after that crash its state is not the kernel's.
 */
import { describe, expect, it } from 'vitest';
import { judgeKernelRun } from '../../checker/kernel-judge.ts';
import { INVARIANTS } from '../../properties/index.ts';
import { resolveSystem } from '../../scenario/resolve.ts';
import type { Step } from '../../scenario/schema.ts';
import type { StepResult } from '../../model/system.ts';
import type { SystemDoc } from '../../scenario/schema.ts';
import { partialCrash } from '../../kernel/difffuzz.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

describe('a file an open found missing after a crash', () => {
  // diff --fuzz --fs xfs --count 200 --seed 41, shrunk: f is lost in the first crash (the open says
  // ENOENT), a second crash follows, then f is created again and appended to.  The append lands at
  // offset 0 on the kernel; the oracle had let the lost file's old size come back with the second crash
  // and placed the append at 8704, so the read of offset 0 looked like stale device bytes.
  const steps: Step[] = [
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] },
    { op: 'pwrite', fd: 'A', offset: 512, length: 8192, fill: 2 },
    { op: 'crash', pattern: [18, 106, 34, 165] },
    { op: 'remount' },
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR'] },
    { op: 'crash', pattern: [22, 156, 232, 101] },
    { op: 'remount' },
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT', 'O_APPEND', 'O_SYNC'] },
    { op: 'pwrite', fd: 'A', offset: 65536, length: 49152, fill: 3 },
    { op: 'crash', keep: 'all' },
    { op: 'remount' },
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_APPEND', 'O_SYNC'] },
    { op: 'pread', fd: 'A', offset: 0, length: 49152 },
  ];
  const kernel = (read: Array<[number, number]>): StepResult[] =>
    [
      { ret: 0 }, { ret: 8192 }, { ret: 0 }, { ret: 0 }, { errno: 'ENOENT' }, { ret: 0 }, { ret: 0 }, { ret: 0 }, { ret: 49152 }, { ret: 0 }, { ret: 0 }, { ret: 0 },
      { ret: 49152, data: read },
    ].map((r, i) => ({ step: i + 1, op: steps[i]!.op, ...r }) as StepResult);
  const system = resolveSystem({ fs: 'xfs' });

  it('it stays gone: the append after it was made again lands at offset 0', () => {
    expect(judgeKernelRun(system, steps, kernel([[3, 49152]]), 4, INVARIANTS)).toBeNull();
  });
  it('its old bytes coming back in the new file are stale data', () => {
    expect(judgeKernelRun(system, steps, kernel([[2, 8192], [3, 40960]]), 4, INVARIANTS)?.invariant).toBe('data/no-stale-exposure');
  });
});

describe('an append after a crash left the size uncertain', () => {
  // diff --fuzz --fs ext4 --count 5000 --seed 2041, scenario 41 (kernel answers recorded on 6.18): after two
  // crashes keeping subsets the file may have either of two sizes; the kernel appends 1024 bytes at the
  // size it has (14336), but reports only the bytes written. The oracle put the append at the larger
  // size and then called the kernel's statx (15360) a lost write (data/read-your-writes).
  const doc = JSON.parse(readFileSync(join(import.meta.dirname, 'data', 'ext4-crash-append-uncertain-size.json'), 'utf8')) as { system: SystemDoc; steps: Step[]; expect: StepResult[] };
  it('is not judged past it (the oracle cannot know where it landed): no false violation', () => {
    const from = partialCrash(doc.steps) + 2;
    expect(judgeKernelRun(resolveSystem(doc.system), doc.steps, doc.expect, from, INVARIANTS)).toBeNull();
  });
});

/**
 * Model behaviour with expected outcomes worked out from the kernel source
 * (and, where marked, checked on this machine's kernel: docs/kernel/*.md).
 */
import { describe, expect, it } from 'vitest';
import { open, pread, pwrite, run, runRecorded, statx } from '../helpers.ts';
import type { Step } from '../../scenario/schema.ts';
import { BTRFS_I } from '../../model/btrfs/btrfs_inode.ts';

const blocks = (r: { statx?: Record<string, number> } | undefined) => r?.statx?.["blocks"];

describe('iomap buffered writes: read-before-write or zeroing (__iomap_write_begin)', () => {
  function deviceReads(events: ReturnType<typeof runRecorded>['events'][number]): number {
    return events.filter((e) => e.t === 'bio-queue' && e.bio.op === 'read').length;
  }

  it('a partial overwrite of a written, uncached block reads it first; a partial write into a new block zeroes', () => {
    const r = runRecorded({ fs: 'xfs' }, [
      open('f', 'A', 'O_RDWR', 'O_CREAT'),
      pwrite('A', 0, 8192, 1),
      { op: 'fsync', fd: 'A' },
      { op: 'reclaim' },
      pwrite('A', 100, 10, 2),
      pwrite('A', 16384 + 100, 10, 3),
      pread('A', 16384, 4096),
    ]);
    expect(deviceReads(r.events[4]!)).toBe(1);
    expect(deviceReads(r.events[5]!)).toBe(0);
    expect(r.results[6]!.data).toEqual([
      [0, 100],
      [3, 10],
    ]);
  });

  it('a write covering whole blocks reads nothing', () => {
    const r = runRecorded({ fs: 'ext4', blockSize: 1024 }, [open('f', 'A', 'O_RDWR', 'O_CREAT'), pwrite('A', 0, 8192, 1), { op: 'fsync', fd: 'A' }, { op: 'reclaim' }, pwrite('A', 1024, 2048, 2)]);
    expect(deviceReads(r.events[4]!)).toBe(0);
  });
});

describe('direct I/O', () => {
  it('zeroes the rest of a new block around a sub-block write (iomap_dio_zero)', () => {
    for (const fs of ['ext4', 'xfs'] as const) {
      const r = run({ fs }, [open('f', 'A', 'O_RDWR', 'O_CREAT', 'O_DIRECT'), pwrite('A', 512, 512, 7), open('f', 'B', 'O_RDWR'), pread('B', 0, 4096)]);
      expect(r.results[3]!.data).toEqual([
        [0, 512],
        [7, 512],
      ]);
    }
  });

  it('rejects a misaligned offset; XFS before allocating, ext4 after (leaving an unwritten block)', () => {
    const steps: Step[] = [open('f', 'A', 'O_RDWR', 'O_CREAT', 'O_DIRECT'), { op: 'ftruncate', fd: 'A', length: 65536 }, pwrite('A', 100, 512, 1), statx('A')];
    expect(run({ fs: 'xfs' }, steps).results[2]!.errno).toBe('EINVAL');
    expect(blocks(run({ fs: 'xfs' }, steps).results[3]!)).toBe(0);
    expect(run({ fs: 'ext4' }, steps).results[2]!.errno).toBe('EINVAL');
    expect(blocks(run({ fs: 'ext4' }, steps).results[3]!)).toBe(8);
  });

  it('reads holes without any alignment check, and stops at EOF', () => {
    const r = run({ fs: 'xfs' }, [open('f', 'A', 'O_RDWR', 'O_CREAT', 'O_DIRECT'), { op: 'ftruncate', fd: 'A', length: 8192 }, pread('A', 100, 100), pread('A', 8192, 512), pread('A', 4096, 8192)]);
    expect(r.results[2]).toMatchObject({ ret: 100, data: [[0, 100]] });
    expect(r.results[3]).toMatchObject({ ret: 0 });
    expect(r.results[4]).toMatchObject({ ret: 4096 });
  });
});

describe('st_blocks', () => {
  it('XFS speculative preallocation (xfs_iomap_prealloc_size), trimmed at the first writable close (docs/kernel/xfs.md §9 B)', () => {
    const r = run({ fs: 'xfs' }, [open('f', 'A', 'O_RDWR', 'O_CREAT'), pwrite('A', 0, 65536, 1), statx('A'), pwrite('A', 65536, 65536, 2), statx('A'), { op: 'fsync', fd: 'A' }, statx('A'), { op: 'close', fd: 'A' }, open('f', 'A', 'O_RDWR'), statx('A')]);
    expect([r.results[2], r.results[4], r.results[6], r.results[9]].map(blocks)).toEqual([128, 384, 384, 256]);
  });

  it('ext4 counts delayed allocation reservations and extent tree blocks beyond four extents', () => {
    const steps: Step[] = [open('f', 'A', 'O_RDWR', 'O_CREAT'), pwrite('A', 0, 5000, 1), statx('A')];
    for (let i = 0; i < 5; i++) steps.push(pwrite('A', i * 65536, 4096, 2));
    steps.push({ op: 'fsync', fd: 'A' }, statx('A'));
    const r = run({ fs: 'ext4' }, steps);
    expect(blocks(r.results[2]!)).toBe(16);
    expect(blocks(r.results[steps.length - 1]!)).toBe(6 * 8 + 8);
  });
});

describe('after a crash', () => {
  it('fsynced data survives, unsynced buffered data does not, and the file system is shut down until the remount', () => {
    const r = run({ fs: 'ext4' }, [
      open('f', 'A', 'O_RDWR', 'O_CREAT'),
      pwrite('A', 0, 4096, 1),
      { op: 'fsync', fd: 'A' },
      pwrite('A', 4096, 4096, 2),
      { op: 'crash' },
      pread('A', 0, 10),
      { op: 'remount' },
      open('f', 'A', 'O_RDWR'),
      pread('A', 0, 8192),
    ]);
    expect(r.results[5]!.errno).toBe('EIO');
    expect(r.results[8]).toMatchObject({ ret: 4096, data: [[1, 4096]] });
  });
});

describe('btrfs: a buffered write that fails gives back what it set up (btrfs_delalloc_release_space)', () => {
  it('a write that cannot read its partly written first block leaves no delalloc range or reservation', () => {
    const steps: Step[] = [
      open('f', 'A', 'O_RDWR', 'O_CREAT', 'O_DIRECT'),
      pwrite('A', 0, 16384, 1),
      open('f', 'B', 'O_RDWR'),
      { op: 'device_error', fd: 'A', offset: 0, length: 4096 },
      pwrite('B', 512, 8192, 2),
    ];
    const { sys, results } = runRecorded({ fs: 'btrfs' }, steps);
    expect(results[4]?.errno).toBe('EIO');
    const inode = [...sys.sb.inodes.values()].find((i) => i.i_size === 16384)!;
    expect(BTRFS_I(inode).delalloc.isEmpty()).toBe(true);
    expect(inode.delayed).toBe(0);
    expect(sys.sb.alloc.reserved).toBe(0);
  });
});

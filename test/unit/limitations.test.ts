/**
 * The named limitations of ext4.  ext4-extent-count: a statx block count off by the
 * extent tree block, counted in blocks, or in clusters with bigalloc (a tree
 * block takes a whole cluster there); never more than two.
 * ext4-placement-writeback-thread: a placement difference once a sync or a
 * remount has had a kernel thread allocate.
 */
import { describe, expect, it } from 'vitest';
import { get_fs_type } from '../../model/filesystems.ts';
import { LIMITATIONS } from '../../kernel/limitations.ts';
import { resolveSystem } from '../../scenario/resolve.ts';
import { System } from '../../model/system.ts';
import { Knobs } from '../../model/variants.ts';
import type { Limitation } from '../../kernel/limitation.ts';
import type { ResolvedSystem } from '../../scenario/resolve.ts';
import type { Step, SystemDoc } from '../../scenario/schema.ts';

const extentCount = get_fs_type('ext4')!.harness.limitations.find((l) => l.name === 'ext4-extent-count')!;
const matches = (doc: SystemDoc, model: number, kernel: number): boolean =>
  extentCount.matches({ system: resolveSystem(doc), steps: [], index: 0, d: { field: 'statx.blocks', model, kernel }, model: [], kernel: [] });

/**
 * The context of a disagreement at the last step, an open after a crash:
 * the model's answers (ENOENT there), and the kernel's, the same but for
 * that open, which found the file.
 */
function fileBackAfterCrash(lim: Limitation, system: ResolvedSystem, st: Step[]): boolean {
  const sys = new System(system, new Knobs(), { recording: false });
  const model = st.map((s, i) => sys.exec(s, i + 1).result);
  const kernel = [...model.slice(0, -1), { step: st.length, op: 'open', ret: 0 }];
  return lim.matches({ system, steps: st, index: st.length - 1, d: { field: 'result', model: model[model.length - 1]!.errno, kernel: 'ret 0' }, model, kernel });
}

describe('ext4-extent-count', () => {
  it('one or two blocks on ext4', () => {
    expect(matches({ fs: 'ext4', blockSize: 4096 }, 16, 8)).toBe(true);
    expect(matches({ fs: 'ext4', blockSize: 4096 }, 24, 8)).toBe(true);
    expect(matches({ fs: 'ext4', blockSize: 4096 }, 32, 8)).toBe(false);
    expect(matches({ fs: 'ext4', blockSize: 4096 }, 12, 8)).toBe(false);
  });
  it('one or two clusters with bigalloc (diff --fuzz --fs ext4-bigalloc --seed 7, scenario 49: 256 against 192)', () => {
    const big: SystemDoc = { fs: 'ext4', blockSize: 2048, features: ['bigalloc'], clusterSize: 32768 };
    expect(matches(big, 256, 192)).toBe(true);
    expect(matches(big, 192 + 4, 192)).toBe(false);
    expect(matches(big, 192 + 3 * 64, 192)).toBe(false);
  });
});

describe('ext4-extent-tree-block after a fifth extent record in the model', () => {
  const tree = get_fs_type('ext4')!.harness.limitations.find((l) => l.name === 'ext4-extent-tree-block')!;
  // diff --fuzz --fs ext4 --count 5000 --seed 2051, scenario 1484: the direct write at 0 makes a fifth (unwritten) record.
  const w = (offset: number, length: number, fill: number): Step => ({ op: 'pwrite', fd: 'A', offset, length, fill });
  const steps: Step[] = [
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT', 'O_DIRECT'] },
    w(4096, 4096, 1), w(32768, 1024, 3), w(33792, 589824, 4), w(640000, 524288, 6), w(0, 4096, 10), w(8192, 8192, 11),
    { op: 'fiemap', fd: 'A', placement: true },
  ];
  const model = [[0, 0, 8192], [8192, -28672, 8192], [32768, 8192, 4096], [36864, -127598592, 589824], [638976, -126996480, 528384]];
  const kernel = [[0, 0, 8192], [8192, -1822720, 8192], [32768, 8192, 4096], [36864, -127598592, 589824], [638976, -126996480, 528384]];
  const ctx = (st: Step[], k: unknown) =>
    tree.matches({ system: resolveSystem({ fs: 'ext4', blockSize: 4096 }), steps: st, index: st.length - 1, d: { field: 'placement', model, kernel: k }, model: [], kernel: [] });
  it('explains an extent placed elsewhere once the model needed a tree block', () => {
    expect(ctx(steps, kernel)).toBe(true);
  });
  it('not without the fifth record, nor when the extents themselves differ', () => {
    expect(ctx([steps[0]!, ...steps.slice(5)], kernel)).toBe(false);
    expect(ctx(steps, kernel.map((e, i) => (i === 1 ? [e[0], e[1], 4096] : e)))).toBe(false);
  });
});

describe('ext4-extent-tree-block', () => {
  const tree = get_fs_type('ext4')!.harness.limitations.find((l) => l.name === 'ext4-extent-tree-block')!;
  const ctx = (model: unknown, kernel: unknown, field = 'placement') =>
    tree.matches({ system: resolveSystem({ fs: 'ext4', blockSize: 4096 }), steps: [], index: 0, d: { field, model, kernel }, model: [], kernel: [] });
  const head = [[0, 0, 36864], [36864, -258048, 98304], [143360, -151552, 24576], [176128, -118784, 8192], [237568, -57344, 24576]];
  it('explains the extents after the fifth shifted by a tree block (diff --fuzz --fs ext4 --seed 2041, scenario 3976)', () => {
    expect(ctx([...head, [262144, -1826816, 307200]], [...head, [262144, -1822720, 307200]])).toBe(true);
  });
  it('also when a later extent allocated from another goal stays in place (--fs ext4-encrypt --seed 3103, scenario 1324)', () => {
    const m = [[4096, 0, 4096], [131072, 126976, 24576], [962560, 958464, 12288], [1024000, 1019904, 12288], [1093632, -737280, 28672], [1314816, -786432, 4096]];
    const k = m.map((e, i) => (i === 4 ? [e[0], -733184, e[2]] : e));
    expect(ctx(m, k)).toBe(true);
    // Not when the fifth and sixth moved by different amounts.
    expect(ctx(m, k.map((e, i) => (i === 5 ? [e[0], -786432 + 8192, e[2]] : e)))).toBe(false);
  });
  it('and nothing else: a shift in the first four, of three blocks, uneven, other lengths, or another field', () => {
    expect(ctx(head.slice(0, 4), [[0, 0, 36864], [36864, -254048, 98304], ...head.slice(2, 4)])).toBe(false);
    expect(ctx([...head, [262144, -1826816, 307200]], [...head, [262144, -1826816 + 3 * 4096, 307200]])).toBe(false);
    expect(ctx([...head, [262144, 0, 4096], [266240, 4096, 4096]], [...head, [262144, 4096, 4096], [266240, 12288, 4096]])).toBe(false);
    expect(ctx([...head, [262144, 0, 4096]], [...head, [262144, 4096, 8192]])).toBe(false);
    expect(ctx([...head, [262144, 0, 4096]], [...head, [262144, 4096, 4096]], 'extents')).toBe(false);
  });
});

describe('ext4-placement-writeback-thread', () => {
  const wb = get_fs_type('ext4')!.harness.limitations.find((l) => l.name === 'ext4-placement-writeback-thread')!;
  const ctx = (steps: Step[], field: string) =>
    wb.matches({ system: resolveSystem({ fs: 'ext4' }), steps, index: steps.length - 1, d: { field, model: [], kernel: [] }, model: [], kernel: [] });
  it('explains a placement difference after a sync or a remount, and nothing else', () => {
    const open: Step = { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] };
    const fiemap: Step = { op: 'fiemap', fd: 'A', placement: true };
    expect(ctx([open, { op: 'remount' }, fiemap], 'placement')).toBe(true);
    expect(ctx([open, { op: 'sync' }, fiemap], 'placement')).toBe(true);
    expect(ctx([open, { op: 'fsync', fd: 'A' }, fiemap], 'placement')).toBe(false);
    expect(ctx([open, { op: 'sync' }, fiemap], 'extents')).toBe(false);
  });
});

describe('dontcache-drop-timing', () => {
  const lim = LIMITATIONS.find((l) => l.name === 'dontcache-drop-timing')!;
  const open: Step = { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] };
  const write = (flags: string[]): Step => ({ op: 'pwrite', fd: 'A', offset: 8704, length: 131072, fill: 1, flags });
  const read = (flags: string[]): Step => ({ op: 'pread', fd: 'A', offset: 0, length: 24577, flags });
  const ctx = (steps: Step[], field = 'result') =>
    lim.matches({ system: resolveSystem({ fs: 'ext4' }), steps, index: steps.length - 1, d: { field, model: 'ret 8192', kernel: 'ret 24577' }, model: [], kernel: [] });
  it('explains how much a RWF_NOWAIT read returns after a RWF_DONTCACHE write (ext4-bigalloc seed 2061, scenario 1927)', () => {
    expect(ctx([open, write(['RWF_DONTCACHE']), read(['RWF_NOWAIT'])])).toBe(true);
  });
  it('and nothing else: no DONTCACHE write before, a read without RWF_NOWAIT, another field', () => {
    expect(ctx([open, write([]), read(['RWF_NOWAIT'])])).toBe(false);
    expect(ctx([open, write(['RWF_DONTCACHE']), read([])])).toBe(false);
    expect(ctx([open, write(['RWF_DONTCACHE']), read(['RWF_NOWAIT'])], 'data')).toBe(false);
  });
});

describe('xfs-prealloc-placement', () => {
  const lim = get_fs_type('xfs')!.harness.limitations.find((l) => l.name === 'xfs-prealloc-placement')!;
  const U = ['FIEMAP_EXTENT_UNWRITTEN'];
  const ext = (logical: number, physical: number, length: number, flags: string[] = []) => ({ logical, physical, length, flags });
  const ctx = (model: ReturnType<typeof ext>[], kernel: ReturnType<typeof ext>[]) =>
    lim.matches({ system: resolveSystem({ fs: 'xfs', blockSize: 4096 }), steps: [], index: 0, d: { field: 'extents', model, kernel }, model: [{ step: 1, op: 'fiemap', ret: 0, extents: model }], kernel: [{ step: 1, op: 'fiemap', ret: 0, extents: kernel }] });
  // diff --fuzz --fs xfs --count 5000 --seed 2062, scenario 1016 (in blocks of 4096).
  const k = [ext(1, 10, 1, U), ext(2, 11, 1), ext(3, 24, 30, U), ext(33, 54, 1), ext(34, 55, 30, U)];
  const m = [ext(1, 100, 1, U), ext(2, 101, 1), ext(3, 102, 30, U), ext(33, 132, 1), ext(34, 133, 62, U)];
  it('explains a longer post-EOF preallocation where the kernel placed the extents before it apart', () => {
    expect(ctx(m, k)).toBe(true);
  });
  it('not when the kernel placed them contiguously too, nor when anything but the last length differs', () => {
    expect(ctx(m, k.map((e, i) => (i === 2 ? { ...e, physical: 12 } : e)).map((e, i) => (i > 2 ? { ...e, physical: e.physical - 12 } : e)))).toBe(false);
    expect(ctx(m.map((e, i) => (i === 1 ? { ...e, flags: U } : e)), k)).toBe(false);
    expect(ctx(m.map((e, i) => (i === 4 ? { ...e, flags: [] } : e)), k.map((e, i) => (i === 4 ? { ...e, flags: [] } : e)))).toBe(false);
  });
});

describe('nowait-read-io-timing', () => {
  const lim = LIMITATIONS.find((l) => l.name === 'nowait-read-io-timing')!;
  // diff --fuzz --fs btrfs-nocow --count 5000 --seed 2061, scenario 2427: pread A 8292 65536 [RWF_NOWAIT|RWF_HIPRI].
  const steps: Step[] = [{ op: 'pread', fd: 'A', offset: 8292, length: 65536, flags: ['RWF_NOWAIT', 'RWF_HIPRI'] }];
  const ctx = (m: number, mData: Array<[number, number]>, k: number, kData: Array<[number, number]>, st = steps) =>
    lim.matches({ system: resolveSystem({ fs: 'btrfs', blockSize: 4096 }), steps: st, index: 0, d: { field: 'result', model: `ret ${m}`, kernel: `ret ${k}` }, model: [{ step: 1, op: 'pread', ret: m, data: mData }], kernel: [{ step: 1, op: 'pread', ret: k, data: kData }] });
  it('explains a kernel that read on into blocks whose read completed in time', () => {
    expect(ctx(57244, [[0, 57244]], 65536, [[0, 57244], [1, 8292]])).toBe(true);
  });
  it('also when the model answered EAGAIN at the first folio (--fs xfs --seed 2063, scenario 2853)', () => {
    const r = lim.matches({ system: resolveSystem({ fs: 'xfs', blockSize: 1024 }), steps, index: 0, d: { field: 'result', model: 'EAGAIN', kernel: 'ret 12287' }, model: [{ step: 1, op: 'pread', errno: 'EAGAIN' }], kernel: [{ step: 1, op: 'pread', ret: 12287, data: [[5, 12287]] }] });
    expect(r).toBe(true);
  });
  it('not when the bytes both read differ, the model read more, or without RWF_NOWAIT', () => {
    expect(ctx(57244, [[2, 57244]], 65536, [[0, 57244], [1, 8292]])).toBe(false);
    expect(ctx(65536, [[0, 57244], [1, 8292]], 57244, [[0, 57244]])).toBe(false);
    expect(ctx(57244, [[0, 57244]], 65536, [[0, 57244], [1, 8292]], [{ op: 'pread', fd: 'A', offset: 8292, length: 65536 }])).toBe(false);
  });
});

describe('xfs-busy-extent-log-force', () => {
  const lim = get_fs_type('xfs')!.harness.limitations.find((l) => l.name === 'xfs-busy-extent-log-force')!;
  // diff --fuzz --fs xfs --count 5000 --seed 2061, scenario 1270: the kernel keeps the never-synced file.
  const steps: Step[] = [
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] },
    { op: 'pwrite', fd: 'A', offset: 512, length: 512, fill: 1 },
    { op: 'fallocate', fd: 'A', mode: ['FALLOC_FL_UNSHARE_RANGE'], offset: 393216, length: 65536 },
    { op: 'fallocate', fd: 'A', mode: ['FALLOC_FL_ZERO_RANGE'], offset: 467456, length: 32768 },
    { op: 'pwrite', fd: 'A', offset: 508416, length: 4097, fill: 4 },
    { op: 'pwrite', fd: 'A', offset: 532993, length: 511, fill: 5 },
    { op: 'open', path: 'f', fd: 'B', flags: ['O_WRONLY', 'O_CREAT', 'O_DIRECT', 'O_APPEND'] },
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT', 'O_TRUNC'] },
    { op: 'pwrite', fd: 'B', offset: 8192, length: 12288, fill: 9 },
    { op: 'crash', keep: 'all' },
    { op: 'remount' },
    { op: 'open', path: 'f', fd: 'B', flags: ['O_WRONLY', 'O_APPEND', 'O_DIRECT'] },
  ];
  const system = resolveSystem({ fs: 'xfs', blockSize: 4096, device: { sizeMiB: 512, logicalBlockSize: 4096, writeCache: true } });
  const ctx = (st: Step[]) => fileBackAfterCrash(lim, system, st);
  it('explains a file that survives because an allocation after a truncate forced the log', () => {
    expect(ctx(steps)).toBe(true);
  });
  it('not when nothing was freed before the crash', () => {
    const noFree = steps.map((s): Step => {
      if (s.op === 'open' && s.fd === 'A') return { ...s, flags: ['O_RDWR', 'O_CREAT'] };
      if (s.op === 'fallocate') return { ...s, mode: [] };
      return s;
    });
    expect(ctx(noFree)).toBe(false);
  });
});

describe('timestamp-tick', () => {
  const lim = LIMITATIONS.find((l) => l.name === 'timestamp-tick')!;
  // diff --fuzz --fs ext4 --count 5000 --seed 2063, scenario 3092: the read dirtied f's atime, the fsync of f committed g's creation.
  const steps: Step[] = [
    { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] },
    { op: 'fdatasync', fd: 'A' },
    { op: 'pread', fd: 'A', offset: 4096, length: 2048 },
    { op: 'open', path: 'g', fd: 'C', flags: ['O_RDWR', 'O_CREAT'] },
    { op: 'fsync', fd: 'A' },
    { op: 'crash', keep: 'all' },
    { op: 'remount' },
    { op: 'open', path: 'g', fd: 'C', flags: ['O_RDWR'] },
  ];
  const system = resolveSystem({ fs: 'ext4', blockSize: 2048 });
  const ctx = (st: Step[]) => fileBackAfterCrash(lim, system, st);
  it('explains a file that survives because an fsync committed a timestamp update with its creation', () => {
    expect(ctx(steps)).toBe(true);
  });
  it('not without an fsync to commit it', () => {
    expect(ctx(steps.map((s): Step => (s.op === 'fsync' ? { op: 'fdatasync', fd: 'A' } : s)))).toBe(false);
  });
});

describe('ext4-extent-tree-block with bigalloc: extents one cluster further', () => {
  const tree = get_fs_type('ext4')!.harness.limitations.find((l) => l.name === 'ext4-extent-tree-block')!;
  const big: SystemDoc = { fs: 'ext4', blockSize: 4096, features: ['bigalloc'], clusterSize: 65536 };
  const ctx = (model: unknown, kernel: unknown) => tree.matches({ system: resolveSystem(big), steps: [], index: 0, d: { field: 'placement', model, kernel }, model: [], kernel: [] });
  // diff --fuzz --fs ext4-bigalloc --count 5000 --seed 2064, scenario 3144.
  const m = [[4096, 0, 61440], [65536, 126976, 69632], [1073152, 86016, 28672]];
  it('explains an extent allocated one cluster further on the kernel', () => {
    expect(ctx(m, [[4096, 0, 61440], [65536, 192512, 69632], [1073152, 86016, 28672]])).toBe(true);
  });
  it('not two clusters further, nor one cluster nearer', () => {
    expect(ctx(m, [[4096, 0, 61440], [65536, 258048, 69632], [1073152, 86016, 28672]])).toBe(false);
    expect(ctx(m, [[4096, 0, 61440], [65536, 61440, 69632], [1073152, 86016, 28672]])).toBe(false);
  });
});

describe('readahead-folio-order', () => {
  const lim = LIMITATIONS.find((l) => l.name === 'readahead-folio-order')!;
  const open: Step = { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] };
  const read: Step = { op: 'pread', fd: 'A', offset: 4096, length: 49153 };
  const store: Step = { op: 'mmap_write', fd: 'A', offset: 14336, length: 14336, fill: 5 };
  const fiemap: Step = { op: 'fiemap', fd: 'A', placement: true };
  const ext = (len: number) => [{ logical: 12288, length: len, flags: [] }, { logical: 335872, length: 6144, flags: ['FIEMAP_EXTENT_LAST'] }];
  const ctx = (steps: Step[], model: unknown, kernel: unknown, field = 'extents') =>
    lim.matches({ system: resolveSystem({ fs: 'ext4', blockSize: 2048 }), steps, index: steps.length - 1, d: { field, model, kernel }, model: [], kernel: [] });
  it('explains the kernel allocating the rest of a large folio a store dirtied after a read (diff --fuzz --fs ext4 --seed 3102, scenario 4982)', () => {
    expect(ctx([open, read, store, fiemap], ext(16384), ext(20480))).toBe(true);
    expect(ctx([open, read, store, { op: 'statx', fd: 'A' }], 40, 48, 'statx.blocks')).toBe(true);
  });
  it('not without a read before the store, nor when the model has blocks the kernel has not, or more', () => {
    expect(ctx([open, store, fiemap], ext(16384), ext(20480))).toBe(false);
    expect(ctx([open, read, store, fiemap], ext(20480), ext(16384))).toBe(false);
    expect(ctx([open, read, store, fiemap], [{ logical: 8192, length: 4096, flags: [] }], ext(20480))).toBe(false);
    expect(ctx([open, read, store, { op: 'statx', fd: 'A' }], 48, 40, 'statx.blocks')).toBe(false);
  });
});

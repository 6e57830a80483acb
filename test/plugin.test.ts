/**
 * A file system is a plug-in: this test defines a small file system type of
 * its own ("toyfs": blocks allocated unwritten when written, converted when
 * the data is on disk; direct I/O through iomap; no fallocate, no reflink),
 * registers it without touching any other file, and runs `iospec run` and
 * `iospec check` on it.  And generic code names no file system: outside
 * each file system's folder and the registration list, nothing compares a
 * file system's name.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fs_types, register_filesystem, unregister_filesystem } from '../model/filesystems.ts';
import type { FileSystemType } from '../model/fs/registry.ts';
import type { FsOps } from '../model/fs/super.ts';
import type { Inode } from '../model/fs/inode.ts';
import { makeAops } from '../model/fs/aops.ts';
import { iomap_fiemap } from '../model/fs/fiemap.ts';
import type { IomapOps, IomapPair } from '../model/iomap/iomap.ts';
import { IOMAP_F_NEW, IOMAP_WRITE, IOMAP_ZERO, iomapHole } from '../model/iomap/iomap.ts';
import { iomap_file_buffered_write, iomap_page_mkwrite, iomap_truncate_page, iomap_zero_range } from '../model/iomap/buffered-io.ts';
import { IOMAP_DIO_BOUNCE, IOMAP_DIO_UNWRITTEN, iomap_dio_rw } from '../model/iomap/direct-io.ts';
import { file_check_and_advance_wb_err, file_write_and_wait_range, filemap_read, filemap_write_and_wait_range, generic_write_checks } from '../model/mm/filemap.ts';
import { truncate_setsize } from '../model/mm/truncate.ts';
import { blkdev_issue_flush } from '../model/block/blk-flush.ts';
import { EIO, ENOENT, EOPNOTSUPP } from '../model/lib/errno.ts';
import { IOCB_APPEND, IOCB_DIRECT, IOCB_NOWAIT, STATX_BASIC_STATS } from '../model/vfs/fcntl.ts';
import { generic_write_sync } from '../model/vfs/sync.ts';
import type { Kiocb } from '../model/vfs/file.ts';
import type { IovIter } from '../model/vfs/uio.ts';
import { main } from '../cli/main.ts';

// ---------------------------------------------------------------------------
// toyfs, defined here and nowhere else

function toy_iomap_ops(inode: Inode): IomapOps {
  return {
    name: 'toy_iomap_ops',
    begin(pos, length, flags): IomapPair | number {
      const bs = inode.blockSize;
      const lblk = Math.floor(pos / bs);
      const last = Math.ceil((pos + length) / bs);
      const at = inode.extents.find(lblk);
      if (at !== undefined) {
        const m = { addr: (at.v.pblk + lblk - at.start) * bs, offset: lblk * bs, length: (Math.min(at.end, last) - lblk) * bs, type: at.v.type, flags: 0 };
        return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
      }
      const end = Math.min(last, inode.extents.next(lblk)?.start ?? last);
      // Holes are allocated (unwritten) by writes and faults, never by zeroing or reading.
      if ((flags & IOMAP_WRITE) === 0 || (flags & IOMAP_ZERO) !== 0) return { iomap: iomapHole(lblk * bs, (end - lblk) * bs), srcmap: iomapHole(lblk * bs, (end - lblk) * bs) };
      const got = inode.sb.allocBlocks(inode, lblk, end - lblk, 'unwritten', inode.sb.alloc.firstDataBlock);
      if (typeof got === 'number') return got;
      const m = { addr: got.pblk * bs, offset: lblk * bs, length: got.len * bs, type: 'unwritten' as const, flags: IOMAP_F_NEW };
      return { iomap: m, srcmap: iomapHole(m.offset, m.length) };
    },
  };
}

/** Zero from the old EOF to a write or size beyond it, through the page cache. */
function toy_zero_eof(inode: Inode, to: number): void {
  if (to > inode.i_size) iomap_zero_range(inode.sb.k, inode, inode.i_size, to - inode.i_size, toy_iomap_ops(inode));
}

function toy_write_iter(iocb: Kiocb, from: IovIter): number {
  const inode = iocb.file.inode;
  if (inode.sb.shutdown) return -EIO;
  const chk = generic_write_checks({ pos: iocb.ki_pos, count: from.count, append: (iocb.ki_flags & IOCB_APPEND) !== 0, nowait: (iocb.ki_flags & IOCB_NOWAIT) !== 0, direct: true, bufWasync: true, isize: inode.i_size, maxbytes: inode.sb.s_maxbytes, atomic: false, v: inode.sb.k.v });
  if (typeof chk === 'number') return chk;
  if (chk.count < from.count) from.truncate(chk.count);
  iocb.ki_pos = chk.pos;
  toy_zero_eof(inode, chk.pos);
  if ((iocb.ki_flags & IOCB_DIRECT) !== 0) {
    const dops = {
      end_io(io: Kiocb, size: number, error: number, fl: number): number {
        if (error !== 0 || size === 0) return error;
        const bs = inode.blockSize;
        if ((fl & IOMAP_DIO_UNWRITTEN) !== 0) inode.sb.convertUnwritten(inode, Math.floor(io.ki_pos / bs), Math.ceil((io.ki_pos + size) / bs) - Math.floor(io.ki_pos / bs));
        if (io.ki_pos + size > inode.i_size) inode.i_size = io.ki_pos + size;
        if (Math.min(io.ki_pos + size, inode.i_size) > inode.disksize) inode.sb.setDisksize(inode, Math.min(io.ki_pos + size, inode.i_size));
        return 0;
      },
    };
    const bounce = inode.mapping.stableWrites ? IOMAP_DIO_BOUNCE : 0;
    return iomap_dio_rw(inode.sb.k, inode, iocb, from, toy_iomap_ops(inode), dops, bounce, generic_write_sync, true);
  }
  const ret = iomap_file_buffered_write(inode.sb.k, inode, iocb.ki_pos, from, toy_iomap_ops(inode), iocb.ki_flags);
  if (ret <= 0) return ret;
  iocb.ki_pos += ret;
  return generic_write_sync(iocb, ret);
}

function toy_read_iter(iocb: Kiocb, to: IovIter): number {
  const inode = iocb.file.inode;
  if (inode.sb.shutdown) return -EIO;
  if (to.count === 0) return 0;
  if ((iocb.ki_flags & IOCB_DIRECT) !== 0) {
    const bounce = inode.mapping.stableWrites ? IOMAP_DIO_BOUNCE : 0;
    return iomap_dio_rw(inode.sb.k, inode, iocb, to, { name: 'toy_read', begin: (p, l) => toy_iomap_ops(inode).begin(p, l, 0) }, null, bounce, (_i, n) => n, false);
  }
  const n = filemap_read(inode.mapping, iocb.ki_pos, to.count, (d) => to.copyTo(d), iocb.ki_flags);
  if (n > 0) iocb.ki_pos += n;
  return n;
}

const toy_ops: FsOps = {
  fill_super() {},
  large_folios: () => false,
  recover() {},
  open: (inode) => (inode.sb.shutdown ? -EIO : 0),
  open_dir: (sb) => (sb.shutdown ? -EIO : 0),
  lookup: (sb) => (sb.shutdown ? -EIO : -ENOENT),
  mmap: () => 0,
  write_iter: toy_write_iter,
  read_iter: toy_read_iter,
  fsync(file, start, end) {
    const inode = file.inode;
    const [err, cursor] = file_write_and_wait_range(inode.mapping, file.f_wb_err, start, end);
    file.f_wb_err = cursor;
    if (err !== 0) return err;
    if (inode.sb.shutdown) return -EIO;
    if (!inode.sb.journal.commitUpTo(inode.syncTid)) blkdev_issue_flush(inode.sb.k, inode.ino);
    const [err2, cursor2] = file_check_and_advance_wb_err(inode.mapping, file.f_wb_err);
    file.f_wb_err = cursor2;
    return err2;
  },
  fallocate: () => -EOPNOTSUPP,
  setattr_size(file, size) {
    const inode = file.inode;
    if (inode.sb.shutdown) return -EIO;
    const old = inode.i_size;
    if (size > old) toy_zero_eof(inode, size);
    else iomap_truncate_page(inode.sb.k, inode, size, toy_iomap_ops(inode));
    truncate_setsize(inode.mapping, inode.blockSize, (v) => (inode.i_size = v), old, size);
    // The zeroed blocks reach the disk before the new size is logged.
    filemap_write_and_wait_range(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
    inode.sb.setDisksize(inode, size);
    const eof = Math.ceil(size / inode.blockSize);
    if (size <= old) inode.sb.unmapBlocks(inode, eof, Number.MAX_SAFE_INTEGER - eof, 'truncate');
    return 0;
  },
  getattr: (inode) => ({ size: inode.i_size, blocks: inode.allocatedBlocks() * (inode.blockSize / 512), blksize: inode.blockSize, result_mask: STATX_BASIC_STATS }),
  fiemap(inode, start, len) {
    if (inode.sb.shutdown) return -EIO;
    filemap_write_and_wait_range(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
    return iomap_fiemap(inode, start, len, null);
  },
  page_mkwrite: (inode, folio, pos) => iomap_page_mkwrite(inode.sb.k, inode, folio, toy_iomap_ops(inode), pos),
  sync_fs: (sb) => sb.journal.commit(),
  release() {},
  evict() {},
  aops: makeAops(() => toy_ops, false),
  map_blocks(inode, pos, len) {
    const r = toy_iomap_ops(inode).begin(pos, len, 0);
    return typeof r === 'number' ? r : r.iomap;
  },
  end_ioend(inode, io) {
    if (io.error !== 0) return io.error;
    const bs = inode.blockSize;
    if (io.unwritten) inode.sb.convertUnwritten(inode, Math.floor(io.offset / bs), Math.ceil((io.offset + io.size) / bs) - Math.floor(io.offset / bs));
    const end = Math.min(io.offset + io.size, inode.i_size);
    if (end > inode.disksize) inode.sb.setDisksize(inode, end);
    return 0;
  },
  read_iomap_begin(inode, pos, len) {
    const r = toy_iomap_ops(inode).begin(pos, len, 0);
    return typeof r === 'number' ? r : r.iomap;
  },
  fop_flags: () => 0,
  s_cop: false,
};

const toyfs: FileSystemType = {
  name: 'toyfs',
  description: 'a test file system: unwritten allocation at write time, conversion at I/O completion',
  ops: toy_ops,
  features: {},
  mkfsDefaults: (features, blockSize) => ({ features: [...features], clusterSize: blockSize }),
  checkGeometry: (g) => (g.clusterSize !== g.blockSize ? { field: 'system.clusterSize', message: 'toyfs has no clusters' } : null),
  metadataBlocks: () => 64,
  allocUnit: () => 1,
  harness: {
    supports: (hint) => hint === undefined || hint === 'stable-writes',
    generate: () => ({ sizeMiB: 64 }),
    scopes: [{ name: 'toyfs', system: { fs: 'toyfs', blockSize: 4096 }, dir: '', setup: [] }],
    diffTargets: [],
    variants: [],
    kernel: null,
    findings: [],
    limitations: [],
  },
};

// ---------------------------------------------------------------------------

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const errw = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => {
    chunks.push(typeof s === 'string' ? s : Buffer.from(s).toString());
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out: chunks.join('') };
  } finally {
    process.stdout.write = write;
    process.stderr.write = errw;
  }
}

describe('a file system registered from outside the model', () => {
  let dir = '';
  beforeAll(() => {
    register_filesystem(toyfs);
    dir = mkdtempSync(join(tmpdir(), 'iospec-plugin-'));
  });
  afterAll(() => {
    unregister_filesystem('toyfs');
    rmSync(dir, { recursive: true, force: true });
  });

  it('iospec run executes a scenario on it', async () => {
    const file = join(dir, 'toy.json');
    writeFileSync(file, JSON.stringify({
      format: 'iospec-scenario/1',
      system: { fs: 'toyfs', blockSize: 4096, device: { sizeMiB: 64 } },
      steps: [
        { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] },
        { op: 'pwrite', fd: 'A', offset: 1000, length: 5000, fill: 7 },
        { op: 'fsync', fd: 'A' },
        { op: 'crash' },
        { op: 'remount' },
        { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_DIRECT'] },
        { op: 'pread', fd: 'A', offset: 0, length: 8192 },
        { op: 'fallocate', fd: 'A', mode: 0, offset: 0, length: 4096 },
        { op: 'statx', fd: 'A' },
      ],
    }));
    const r = await cli(['run', file]);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { ret?: number; errno?: string; data?: Array<[number, number]>; statx?: Record<string, number> });
    expect(lines[1]!.ret).toBe(5000);
    // Durable after fsync: 1000 zero bytes, then the write, up to EOF.
    expect(lines[6]!.data).toEqual([['0x00', 1000], ['0x07', 5000]]);
    expect(lines[7]!.errno).toBe('EOPNOTSUPP');
    expect(lines[8]!.statx).toEqual({ size: 6000, blocks: 16 });
  });

  it('iospec check fuzzes it with every invariant and finds nothing', async () => {
    const out = join(dir, 'cx');
    // One worker, in this process: toyfs is registered here, not in the worker processes --jobs would start.
    const r = await cli(['check', '--fs', 'toyfs', '--jobs', '1', '--seed', '1', '--runs', '2000', '--time', '600', '--json', '--out', out]);
    const s = JSON.parse(r.out) as { runs: number; steps: number; counterexample: unknown };
    expect(s.counterexample).toBeNull();
    expect(r.code).toBe(0);
    expect(s.runs).toBe(2000);
    expect(s.steps).toBeGreaterThan(10000);
  });

  it('iospec check --exhaustive runs its scope', async () => {
    const r = await cli(['check', '--exhaustive', '--depth', '2', '--fs', 'toyfs', '--json']);
    const s = JSON.parse(r.out) as { sequences: number; counterexample: unknown };
    expect(s.counterexample).toBeNull();
    expect(s.sequences).toBeGreaterThan(300);
  });
});

describe('generic code names no file system', () => {
  const ROOT = join(import.meta.dirname, '..');
  /** Folders of generic code; the file systems' own folders and the registration list are not in them. */
  const GENERIC = ['model', 'checker', 'scenario', 'kernel', 'cli', 'properties', 'oracle', 'bench'];

  function files(d: string): string[] {
    return readdirSync(join(ROOT, d), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : e.name.endsWith('.ts') ? [join(d, e.name)] : []));
  }

  it('no quoted file system name outside the file systems\' folders and the registration list', () => {
    const names = fs_types().map((t) => t.name);
    expect(names.length).toBeGreaterThanOrEqual(2);
    const own = names.map((n) => `model/${n}/`);
    const offenders: string[] = [];
    for (const f of GENERIC.flatMap(files)) {
      if (own.some((o) => f.startsWith(o)) || f === 'model/filesystems.ts') continue;
      const text = readFileSync(join(ROOT, f), 'utf8');
      text.split('\n').forEach((line, i) => {
        for (const n of names) if (line.includes(`'${n}'`) || line.includes(`"${n}"`) || line.includes(`\`${n}\``)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('every variant\'s file systems are registered types', async () => {
    const { VARIANTS } = await import('../model/variants.ts');
    const names = new Set(fs_types().map((t) => t.name));
    for (const v of VARIANTS) for (const fs of v.fs ?? []) expect(names.has(fs), `${v.name}: ${fs}`).toBe(true);
    // A variant's file systems are those whose harness lists it, from their own folders.
    expect(VARIANTS.find((v) => v.name === 'cow-type-overwritten')?.fs).toEqual(['xfs', 'btrfs']);
    expect(VARIANTS.find((v) => v.name === 'ext4-no-dioread-nolock')?.fs).toEqual(['ext4']);
    expect(VARIANTS.find((v) => v.name === 'dio-no-invalidate')?.fs).toBeUndefined();
  });
});

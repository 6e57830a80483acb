/**
 * The whole machine the model runs: a disk with its block layer, one
 * mounted file system, the open file table and the user's view of system
 * calls.  `exec` performs one scenario step and returns its result in the
 * scenario format's result shape.
 */
import type { Span } from './lib/content.ts';
import { SRC_USERBUF, dataRuns, span } from './lib/content.ts';
import { EACCES, EAGAIN, EBADF, EEXIST, EINVAL, EIO, ENOENT, ENOSPC, errnoName } from './lib/errno.ts';
import { SourceTable } from './lib/sources.ts';
import { IntervalMap } from './lib/interval-map.ts';
import { roundDown, roundUp } from './lib/math.ts';
import type { Bio } from './block/bio.ts';
import { resetBioIds } from './block/bio.ts';
import { Disk } from './block/disk.ts';
import type { CrashChoice, CrashReport } from './block/disk.ts';
import { blk_complete, blk_wait_req, submit_bio_noacct } from './block/blk-core.ts';
import { blkdev_issue_flush } from './block/blk-flush.ts';
import { PAGE_SIZE, queueLimitsFromConfig } from './block/blk-settings.ts';
import { DiskImage } from './fs/journal.ts';
import { SuperBlock } from './fs/super.ts';
import type { FileSystemType } from './fs/registry.ts';
import { fsTypeOf } from './filesystems.ts';
import type { Kernel, ModelEvent } from './kernel.ts';
import { EVENT_BIT } from './kernel.ts';
import type { Knobs } from './variants.ts';
import { do_sync_mmap_readahead, filemap_fdatawrite_range, filemap_write_and_wait_range, folioWrite } from './mm/filemap.ts';
import { iomap_dirty_folio } from './iomap/buffered-io.ts';
import type { File } from './vfs/file.ts';
import type { Inode } from './fs/inode.ts';
import { FMODE_READ, FMODE_WRITE, flagsFrom, FALLOC_FLAGS, FS_FLAGS, OPEN_FLAGS, RWF_FLAGS, STATX_BASIC_STATS, STATX_FLAGS, STATX_DIOALIGN, STATX_DIO_READ_ALIGN, STATX_WRITE_ATOMIC } from './vfs/fcntl.ts';
import { vfs_clone_file_range } from './vfs/remap_range.ts';
import { do_encrypt_dir, do_mkdir, do_sys_ftruncate, do_sys_open, vfs_fallocate, vfs_fileattr_set } from './vfs/open.ts';
import { policyFlags } from './crypto/policy.ts';
import { vfs_preadv2, vfs_pwritev2 } from './vfs/read_write.ts';
import { IovIter, userBufferBase } from './vfs/uio.ts';
import type { UserSeg } from './vfs/uio.ts';
import type { Step } from '../scenario/schema.ts';
import { PlacementOrigin } from '../scenario/placement.ts';
import type { Placement } from '../scenario/placement.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import { cover } from './lib/coverage.ts';

/** One line of `iospec run` output. */
export interface StepResult {
  step: number;
  op: string;
  ret?: number;
  errno?: string;
  data?: Array<[number, number]>;
  statx?: Record<string, number>;
  extents?: Array<{ logical: number; physical: number; length: number; flags: string[] }>;
  /** A fiemap step with `placement`: the extents relative to the run's first one (scenario/placement.ts). */
  placement?: Placement;
  unsupported?: string;
  signal?: string;
  /** Model extras (ignored when comparing with the kernel). */
  crash?: { pending: number; kept: Array<[number, number, number]> };
  completed?: number[];
  /** The model failed one of its own assertions at this step (a bug in iospec). */
  internal?: string;
}

/** What the checker sees of a step besides its printed result. */
/** A step of one op, and what its handler in System's table gets besides it. */
type OpStep<K extends Step['op']> = Extract<Step, { op: K }>;
interface ExecCtx {
  readonly n: number;
  readonly op: Step['op'];
  /** The bytes a read returned (or left in the buffer when it failed). */
  read: Span[] | null;
  crashReport: CrashReport | null;
  /** Where a write landed (an O_APPEND write's position), -1 until known. */
  readonly writePos: { v: number };
}
type OpHandler<K extends Step['op']> = (this: System, st: OpStep<K>, c: ExecCtx) => StepResult;

export interface StepOutcome {
  readonly result: StepResult;
  /** pread: the symbolic bytes returned. */
  readonly read: Span[] | null;
  /**
   * pwrite: the file position the bytes went to (O_APPEND moves it to EOF),
   * -1 where there is none.  A number always, never null: a field that held
   * small integers, heap numbers (positions past 1 GiB) and null in turn
   * made V8 deoptimize System.exec and its caller again and again (127
   * times in seven ext4 rounds: the ext4 checker ran 13% slower, the model
   * 15-25%).
   */
  readonly writePos: number;
  readonly crashReport: CrashReport | null;
  /**
   * File data that a write-back (or write-through) failed to write in this
   * step: the device completed its bio with an error.  Direct writes are not
   * listed; their caller gets the error.
   */
  readonly ioErrors: ReadonlyArray<{ readonly path: string; readonly pos: number; readonly len: number }>;
}

export interface SystemOptions {
  /** Record model events for invariants and traces. */
  recording: boolean;
}

export class System implements Kernel {
  readonly cfg: ResolvedSystem;
  readonly v: Knobs;
  readonly disk: Disk;
  readonly sources = new SourceTable();
  step = 0;
  sb: SuperBlock;
  readonly files = new Map<string, File>();
  /**
   * Per inode, the open file description its mapping was made through: an
   * `mmap_write` keeps one shared mapping per file until the remount
   * (docs/scenario-format.md, kernel/helper), and the vma holds a reference
   * to that file (vma->vm_file), so closing its descriptor does not release
   * it (no ->release: XFS keeps its post-EOF preallocation); the munmap at
   * the remount does.
   */
  private readonly mappedThrough = new Map<number, File>();
  readonly recording: boolean;
  events: ModelEvent[] = [];
  /** The types of this step's events, one EVENT_BIT each (what checker/execute.ts dispatches the event checks on). */
  eventTypes = 0;
  /** The power was cut; the file system is shut down until remount. */
  crashed = false;
  lastCrash: CrashReport | null = null;
  private reqSeq = 0;
  /** This step's Kernel.lostWriteback reports. */
  private readonly lostWrites: Array<{ ino: number; pos: number; len: number }> = [];
  /** The file system type mounted (its registry entry). */
  readonly fsType: FileSystemType;
  /** Steps executed so far (statistics). */
  stepsRun = 0;
  /** Checker bookkeeping, not kernel state: what the allocation checks derived from this system (properties/alloc.ts alone reads it). */
  memo: object | null = null;
  /** Where this run's placement steps measure from (scenario/placement.ts). */
  private readonly placementOrigin = new PlacementOrigin();

  constructor(cfg: ResolvedSystem, knobs: Knobs, opts: SystemOptions = { recording: true }) {
    resetBioIds();
    this.cfg = cfg;
    this.v = knobs;
    this.recording = opts.recording;
    this.splitObserver = this.recording ? { onSplit: (front, rest) => this.record({ t: 'bio-split', front, rest }) } : null;
    const limits = queueLimitsFromConfig(cfg.device);
    this.disk = new Disk(limits, cfg.device.sizeMiB * 1024 * 1024, knobs, cfg.device.fill);
    this.disk.bdi.ra_pages = Math.floor((cfg.device.readAheadKb * 1024) / PAGE_SIZE);
    if (this.recording) {
      this.disk.observer = {
        onQueue: (bio) => this.record({ t: 'bio-queue', bio }),
        onComplete: (bio) => this.record({ t: 'bio-complete', bio }),
      };
    }
    this.fsType = fsTypeOf(cfg);
    // The allocation unit (ext4 bigalloc: the cluster) counts in the bitmap: data starts and ends on one.
    const unit = this.fsType.allocUnit(cfg);
    const total = roundDown(Math.floor(this.disk.sizeBytes / cfg.blockSize), unit);
    const first = roundUp(this.fsType.metadataBlocks(cfg, total), unit);
    const free = new IntervalMap<true>((v) => v, () => true);
    free.set(first, total, true);
    const used = (this.fsType.mkfsUsed?.(cfg, total) ?? []).filter(([a, b]) => b > first && a < total).map(([a, b]) => [Math.max(a, first), Math.min(b, total)] as const);
    for (const [a, b] of used) free.remove(a, b);
    const image = new DiskImage(free, used);
    this.sb = new SuperBlock(this, this.fsType, cfg, image, first, total);
  }

  // ---- Kernel services ----------------------------------------------------

  newReq(): number {
    return ++this.reqSeq;
  }

  submit_bio(bio: Bio): void {
    if (this.recording) this.record({ t: 'bio-submit', bio });
    submit_bio_noacct(this.disk, bio, this.splitObserver);
  }

  /** Records the block layer's splits (when recording; one object for every bio). */
  private readonly splitObserver: { readonly onSplit: (front: Bio, rest: Bio) => void } | null;

  wait_req(req: number): void {
    blk_wait_req(this.disk, req);
  }

  emit(e: ModelEvent): void {
    if (this.recording) this.record(e);
  }

  private record(e: ModelEvent): void {
    this.events.push(e);
    this.eventTypes |= EVENT_BIT[e.t];
  }

  lostWriteback(ino: number, pos: number, len: number): void {
    this.lostWrites.push({ ino, pos, len });
  }

  // ---- helpers ------------------------------------------------------------

  private fail(n: number, op: string, err: number): StepResult {
    if (err === -ENOSPC) cover('alloc: ENOSPC');
    else if (err === -EAGAIN && (op === 'pwrite' || op === 'pread')) cover('rw: EAGAIN');
    return { step: n, op, errno: errnoName(err) };
  }

  private retOrErr(n: number, op: string, ret: number): StepResult {
    return ret < 0 ? this.fail(n, op, ret) : { step: n, op, ret };
  }

  private file(name: string): File | undefined {
    return this.files.get(name);
  }

  private closeFile(f: File): void {
    this.files.delete(f.fd);
    // ->release runs on the last close of the open file description (fput): not while a mapping holds it.
    if (this.mappedThrough.get(f.inode.ino) !== f) this.sb.ops.release(f);
  }

  /**
   * The dcache's negative dentries: names a path walk looked up and did not
   * find, which a later walk answers (ENOENT) without asking the file system.
   */
  private readonly negDentries = new Set<string>();

  /** After a path walk (d_lookup / lookup_open): remember the first missing component, forget created ones. */
  private noteLookup(path: string): void {
    let cur = '';
    for (const part of path.split('/').filter((p) => p !== '')) {
      cur = cur === '' ? part : `${cur}/${part}`;
      if (this.sb.lookup(cur) === undefined) {
        this.negDentries.add(cur);
        return;
      }
      this.negDentries.delete(cur);
    }
  }

  /** device.completion "step-end": complete every bio in flight, oldest first (completions may submit more). */
  private settle(): void {
    for (let b = this.disk.inflight[0]; b !== undefined; b = this.disk.inflight[0]) blk_complete(this.disk, b);
  }

  /** Write back and wait for everything, commit, flush (sync(2) / unmount). */
  private syncAll(): void {
    for (const inode of this.sb.inodes.values()) {
      if (inode.kind !== 'reg') continue;
      filemap_write_and_wait_range(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
      // writeback_single_inode: the inode is clean now.
      if (!inode.mapping.hasDirtyOrWriteback(0, Number.MAX_SAFE_INTEGER)) inode.mapping.dirtyPagesInode = false;
    }
    this.sb.ops.sync_fs(this.sb);
    blkdev_issue_flush(this);
  }

  /** Unmount (clean, or after a crash) and mount again; log recovery after a crash. */
  private remount(): void {
    if (!this.crashed) {
      for (const f of [...this.files.values()]) this.closeFile(f);
      // The mappings go away first (munmap, zap_pte_range): a dirty PTE dirties its folio; the last
      // reference to a file a mapping held goes with it.
      for (const inode of this.sb.inodes.values()) for (const f of inode.mapping.allFolios()) if (f.mkclean()) iomap_dirty_folio(inode, f);
      for (const f of this.mappedThrough.values()) this.sb.ops.release(f);
      this.syncAll();
      for (const inode of this.sb.inodes.values()) this.sb.ops.evict(inode);
      this.sb.journal.commit();
      blkdev_issue_flush(this);
    }
    this.files.clear();
    this.mappedThrough.clear();
    this.negDentries.clear();
    const total = this.sb.alloc.totalBlocks;
    const first = this.sb.alloc.firstDataBlock;
    this.sb = new SuperBlock(this, this.fsType, this.cfg, this.sb.image, first, total);
    this.sb.ops.recover(this.sb);
    this.crashed = false;
  }

  private crashChoice(s: Extract<Step, { op: 'crash' }>): CrashChoice {
    if (s.keep !== undefined) {
      if (s.keep === 'all' || s.keep === 'none') return s.keep;
      return { keep: s.keep };
    }
    if (s.pattern !== undefined) return { pattern: s.pattern };
    return 'all';
  }

  private userWriteIter(ino: number, pos: number, segs: ReadonlyArray<{ length: number; fill: number; bufOffset?: number | undefined }>): IovIter {
    const out: UserSeg[] = [];
    let p = pos;
    segs.forEach((seg, i) => {
      const src = this.sources.add({ fill: seg.fill, kind: 'pwrite', step: this.step, ino, pos: p, len: seg.length });
      out.push({ addr: userBufferBase(i) + (seg.bufOffset ?? 0), len: seg.length, data: seg.length > 0 ? [span(seg.length, src.id, 0, seg.fill)] : [] });
      p += seg.length;
    });
    return new IovIter('write', out);
  }

  // ---- steps --------------------------------------------------------------

  /** fsync and fdatasync (the file system's ->fsync, datasync or not). */
  private static fsyncOp(this: System, st: OpStep<'fsync' | 'fdatasync'>, c: ExecCtx): StepResult {
    const f = this.file(st.fd);
    if (f === undefined) return this.fail(c.n, c.op, -EBADF);
    return this.retOrErr(c.n, c.op, this.sb.ops.fsync(f, 0, Number.MAX_SAFE_INTEGER, st.op === 'fdatasync'));
  }

  /**
   * What each operation does, one handler per op (TypeScript checks the table
   * is exhaustive over Step['op']): compiled once, so a step costs a table
   * look-up instead of a ts-pattern chain built and matched per step.
   */
  private static readonly OPS: { readonly [K in Step['op']]: OpHandler<K> } = {
    open(this: System, st: OpStep<'open'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const flags = flagsFrom(st.flags, OPEN_FLAGS).value;
      const prev = this.file(st.fd);
      if (prev !== undefined) this.closeFile(prev);
      const f = do_sys_open(this.sb, st.fd, st.path, flags);
      this.noteLookup(st.path);
      if (typeof f === 'number') return this.fail(n, op, f);
      this.files.set(st.fd, f);
      return { step: n, op, ret: 0 };
    },
    close(this: System, st: OpStep<'close'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      this.closeFile(f);
      return { step: n, op, ret: 0 };
    },
    mkdir(this: System, st: OpStep<'mkdir'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const r = do_mkdir(this.sb, st.path);
      this.noteLookup(st.path);
      return this.retOrErr(n, op, r);
    },
    encrypt_dir(this: System, st: OpStep<'encrypt_dir'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      return this.retOrErr(n, op, do_encrypt_dir(this.sb, st.path, { key: st.key ?? 'iospec', flags: policyFlags(st.flags ?? []), log2DataUnitSize: st.log2DataUnitSize ?? 0 }));
    },
    pwrite(this: System, st: OpStep<'pwrite'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      if (st.offset < -1) return this.fail(n, op, -EINVAL);
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      const segs = st.iov ?? [{ length: st.length ?? 0, fill: st.fill ?? 0, bufOffset: st.bufOffset }];
      const pos = st.offset === -1 ? f.f_pos : st.offset;
      const iter = this.userWriteIter(f.inode.ino, pos, segs);
      if (st.storeDuringIo !== undefined) {
        const s = st.storeDuringIo;
        const src = this.sources.add({ fill: s.fill, kind: 'store', step: this.step, ino: f.inode.ino, pos: pos + s.offset, len: s.length });
        iter.duringIo = { off: s.offset, data: [span(s.length, src.id, 0, s.fill)] };
      }
      const flags = flagsFrom(st.flags ?? [], RWF_FLAGS).value;
      return this.retOrErr(n, op, vfs_pwritev2(f, iter, st.offset, flags, c.writePos));
    },
    pread(this: System, st: OpStep<'pread'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      if (st.offset < -1) return this.fail(n, op, -EINVAL);
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      const iter = new IovIter('read', [{ addr: userBufferBase(0) + (st.bufOffset ?? 0), len: st.length, data: null }]);
      const flags = flagsFrom(st.flags ?? [], RWF_FLAGS).value;
      const ret = vfs_preadv2(f, iter, st.offset, flags);
      if (ret < 0) {
        // What a failed read left in the caller's buffer (checked for kernel memory).
        c.read = iter.result(st.length, SRC_USERBUF);
        return this.fail(n, op, ret);
      }
      const data = iter.result(ret);
      c.read = data;
      return { step: n, op, ret, data: dataRuns(data) };
    },
    fsync: System.fsyncOp,
    fdatasync: System.fsyncOp,
    ftruncate(this: System, st: OpStep<'ftruncate'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      if (st.length < 0) return this.fail(n, op, -EINVAL);
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      return this.retOrErr(n, op, do_sys_ftruncate(f, st.length));
    },
    fallocate(this: System, st: OpStep<'fallocate'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      const mode = st.mode === 0 ? 0 : flagsFrom(st.mode, FALLOC_FLAGS).value;
      return this.retOrErr(n, op, vfs_fallocate(f, mode, st.offset, st.length));
    },
    clone(this: System, st: OpStep<'clone'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const dst = this.file(st.fd);
      const src = this.file(st.src);
      if (dst === undefined || src === undefined) return this.fail(n, op, -EBADF);
      return this.retOrErr(n, op, vfs_clone_file_range(src, st.srcOffset, dst, st.offset, st.length, this.sb.ops.remap_file_range === undefined ? null : this.sb.ops.remap_file_range));
    },
    mmap_write(this: System, st: OpStep<'mmap_write'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      const r = this.mmapWrite(f, st.offset, st.length, st.fill);
      // The mapping was made (a store past EOF faults after it): the first through this file holds it.
      if ((r === 'SIGBUS' || r >= 0) && !this.mappedThrough.has(f.inode.ino)) this.mappedThrough.set(f.inode.ino, f);
      if (r === 'SIGBUS') return { step: n, op, signal: 'SIGBUS' };
      return this.retOrErr(n, op, r);
    },
    statx(this: System, st: OpStep<'statx'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      const mask = st.mask === undefined ? STATX_BASIC_STATS : flagsFrom(st.mask, STATX_FLAGS).value;
      const k = this.sb.ops.getattr(f.inode, mask);
      if (typeof k === 'number') return this.fail(n, op, k);
      const out: Record<string, number> = { size: k.size, blocks: k.blocks };
      if ((mask & STATX_DIOALIGN) !== 0 && (k.result_mask & STATX_DIOALIGN) !== 0) {
        out['dio_mem_align'] = k.dio_mem_align ?? 0;
        out['dio_offset_align'] = k.dio_offset_align ?? 0;
      }
      if ((mask & STATX_DIO_READ_ALIGN) !== 0 && (k.result_mask & STATX_DIO_READ_ALIGN) !== 0) {
        out['dio_read_offset_align'] = k.dio_read_offset_align ?? 0;
      }
      if ((mask & STATX_WRITE_ATOMIC) !== 0 && (k.result_mask & STATX_WRITE_ATOMIC) !== 0) {
        out['atomic_write_unit_min'] = k.atomic_write_unit_min ?? 0;
        out['atomic_write_unit_max'] = k.atomic_write_unit_max ?? 0;
        out['atomic_write_segments_max'] = k.atomic_write_segments_max ?? 0;
        out['atomic_write_unit_max_opt'] = k.atomic_write_unit_max_opt ?? 0;
      }
      return { step: n, op, ret: 0, statx: out };
    },
    setflags(this: System, st: OpStep<'setflags'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      return this.retOrErr(n, op, vfs_fileattr_set(f, flagsFrom(st.flags, FS_FLAGS).value));
    },
    fiemap(this: System, st: OpStep<'fiemap'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      const r = this.sb.ops.fiemap(f.inode, 0, st.length ?? 0);
      if (typeof r === 'number') return this.fail(n, op, r);
      return { step: n, op, ret: 0, extents: r, ...(st.placement === true ? { placement: this.placementOrigin.of(r) } : {}) };
    },
    sync(this: System, _st: OpStep<'sync'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      if (!this.sb.shutdown) this.syncAll();
      return { step: n, op, ret: 0 };
    },
    crash(this: System, st: OpStep<'crash'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      if (this.crashed) return { step: n, op, ret: 0 };
      const report = this.disk.crash(this.crashChoice(st));
      c.crashReport = report;
      this.lastCrash = report;
      this.sb.journal.crash();
      this.sb.shutdown = true;
      this.crashed = true;
      return { step: n, op, ret: 0, crash: { pending: report.pending.length, kept: report.kept } };
    },
    remount(this: System, _st: OpStep<'remount'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      this.remount();
      return { step: n, op, ret: 0 };
    },
    writeback(this: System, st: OpStep<'writeback'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      if (this.sb.shutdown) return this.fail(n, op, -EIO);
      const start = st.offset ?? 0;
      const end = st.length === undefined || st.length === 0 ? Number.MAX_SAFE_INTEGER : start + st.length - 1;
      return this.retOrErr(n, op, filemap_fdatawrite_range(f.inode.mapping, start, end, 'none'));
    },
    complete(this: System, st: OpStep<'complete'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const done: number[] = [];
      if (st.bio !== undefined) {
        const b = this.disk.inflight.find((x) => x.id === st.bio);
        if (b === undefined) return this.fail(n, op, -EINVAL);
        blk_complete(this.disk, b);
        done.push(b.id);
      } else {
        let left = st.count ?? 1;
        while (left-- > 0) {
          const b = this.disk.inflight[0];
          if (b === undefined) break;
          blk_complete(this.disk, b);
          done.push(b.id);
        }
      }
      return { step: n, op, ret: done.length, completed: done };
    },
    journal_commit(this: System, _st: OpStep<'journal_commit'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      if (!this.sb.shutdown) this.sb.journal.commit();
      return { step: n, op, ret: 0 };
    },
    device_error(this: System, st: OpStep<'device_error'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      const f = this.file(st.fd);
      if (f === undefined) return this.fail(n, op, -EBADF);
      return { step: n, op, ret: this.injectDeviceError(f.inode, st.offset, st.length) };
    },
    reclaim(this: System, _st: OpStep<'reclaim'>, c: ExecCtx): StepResult {
      const { n, op } = c;
      if (!this.sb.shutdown) this.reclaim();
      return { step: n, op, ret: 0 };
    },
  };

  /** Execute step number `n` (1-based). */
  exec(s: Step, n: number): StepOutcome {
    this.step = n;
    this.stepsRun++;
    if (this.recording) {
      this.events = [];
      this.eventTypes = 0;
    }
    const op = s.op;
    this.disk.failedWrites.length = 0;
    this.lostWrites.length = 0;
    if (this.crashed) {
      const r = this.afterCrash(s, n);
      if (r !== null) return { result: r, read: null, crashReport: null, writePos: -1, ioErrors: NO_IO_ERRORS };
    }
    const c: ExecCtx = { n, op, read: null, crashReport: null, writePos: { v: -1 } };
    const result = (System.OPS[op] as OpHandler<Step['op']>).call(this, s, c);
    if (this.cfg.device.completion === 'step-end' && !this.crashed) this.settle();
    return { result, read: c.read, crashReport: c.crashReport, writePos: c.writePos.v, ioErrors: this.disk.failedWrites.length === 0 && this.lostWrites.length === 0 ? NO_IO_ERRORS : this.writebackErrors() };
  }

  /**
   * After the power cut the in-core file system is dead: the kernel runner
   * shuts it down (XFS_IOC_GOINGDOWN / EXT4_IOC_SHUTDOWN) and every call
   * that would touch it fails with EIO until the remount; close and sync
   * still work, and what else does is the file system's answer (its ->open
   * of a directory, ->lookup, ->mmap, ->getattr, ->fiemap).  Null: handle
   * the step normally.
   */
  private afterCrash(s: Step, n: number): StepResult | null {
    switch (s.op) {
      case 'remount':
        return null;
      case 'crash': {
        // The shutdown ioctl is made on the mount root, which must be opened first.
        const r = this.sb.ops.open_dir(this.sb);
        return r < 0 ? this.fail(n, s.op, r) : { step: n, op: s.op, ret: 0 };
      }
      case 'close': {
        const f = this.file(s.fd);
        if (f === undefined) return this.fail(n, s.op, -EBADF);
        this.files.delete(s.fd);
        return { step: n, op: s.op, ret: 0 };
      }
      case 'statx':
        // ->getattr decides.
        return null;
      case 'sync':
      case 'journal_commit':
      case 'reclaim':
        return { step: n, op: s.op, ret: 0 };
      case 'complete':
        return { step: n, op: s.op, ret: 0, completed: [] };
      case 'mkdir':
      case 'encrypt_dir':
        // An existing directory is found in the dcache (mkdir -p is happy); creating needs the journal.
        if (this.sb.lookup(s.path)?.kind === 'dir' && s.op === 'mkdir') return { step: n, op: s.op, ret: 0 };
        return this.fail(n, s.op, -EIO);
      case 'open': {
        // The old fd of that name is closed even though the open fails.
        const prev = this.file(s.fd);
        if (prev !== undefined) this.files.delete(s.fd);
        // The dcache still holds every name seen before: O_CREAT|O_EXCL of one is EEXIST.
        const cached = this.sb.lookup(s.path);
        if (cached !== undefined && s.flags.includes('O_CREAT') && s.flags.includes('O_EXCL')) return this.fail(n, s.op, -EEXIST);
        // A missing name: a negative dentry answers ENOENT; else the file
        // system's ->lookup decides (ext4 still reads cached directory
        // blocks: ENOENT; XFS cannot: EIO).  Creating needs the journal (EIO).
        const slash = s.path.lastIndexOf('/');
        const parent = slash < 0 ? '' : s.path.slice(0, slash);
        const miss = (p: string) => (this.negDentries.has(p) ? -ENOENT : this.sb.ops.lookup(this.sb, p));
        if (parent !== '' && this.sb.lookup(parent) === undefined) {
          let cur = '';
          for (const part of parent.split('/')) {
            cur = cur === '' ? part : `${cur}/${part}`;
            if (this.sb.lookup(cur) === undefined) return this.fail(n, s.op, miss(cur));
          }
        }
        if (cached === undefined && !s.flags.includes('O_CREAT')) {
          const r = miss(s.path);
          if (r === -ENOENT) return this.fail(n, s.op, r);
        }
        return this.fail(n, s.op, -EIO);
      }
      case 'setflags':
        // ->fileattr_set decides (no file system here refuses it for a shutdown).
        return null;
      case 'fiemap':
        // ->fiemap decides (ext4 reports its in-core extent tree, XFS fails).
        return null;
      case 'mmap_write': {
        // ->mmap may refuse (ext4); else the mapping is made and the write fault fails (SIGBUS).
        const f = this.file(s.fd);
        if (f === undefined) return this.fail(n, s.op, -EBADF);
        if ((f.f_mode & FMODE_READ) === 0 || (f.f_mode & FMODE_WRITE) === 0) return this.fail(n, s.op, -EACCES);
        const r = this.sb.ops.mmap(f);
        return r < 0 ? this.fail(n, s.op, r) : { step: n, op: s.op, signal: 'SIGBUS' };
      }
      case 'fallocate':
      case 'clone':
        // The VFS checks and the file system's mode checks come first.
        return null;
      case 'pwrite':
      case 'pread':
        // The VFS checks (offset, fd, access mode, zero length, RWF flags)
        // come first; the file system's read_iter/write_iter then fail.
        return null;
      case 'ftruncate':
      case 'fsync':
      case 'fdatasync':
      case 'writeback':
      case 'device_error':
        // Through a descriptor to a dead file system.
        return this.file(s.fd) === undefined ? this.fail(n, s.op, -EBADF) : this.fail(n, s.op, -EIO);
      default: {
        const unhandled: never = s;
        throw new Error(`no after-crash rule for ${JSON.stringify(unhandled)}`);
      }
    }
  }

  /**
   * A store through a shared mapping (do_shared_fault / wp_page_shared):
   * each page touched is faulted in (read if needed) and, if not mapped
   * writable, made writable through ->page_mkwrite; then the bytes are
   * stored.  A page wholly beyond EOF raises SIGBUS.
   */
  private mmapWrite(f: File, offset: number, length: number, fill: number): number | 'SIGBUS' {
    if (this.sb.shutdown) return -EIO;
    const inode = f.inode;
    // do_mmap: any mapping needs FMODE_READ, a shared writable one FMODE_WRITE too.
    if ((f.f_mode & FMODE_READ) === 0 || (f.f_mode & FMODE_WRITE) === 0) return -EACCES;
    const src = this.sources.add({ fill, kind: 'mmap', step: this.step, ino: inode.ino, pos: offset, len: length });
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const pageEnd = (Math.floor(pos / PAGE_SIZE) + 1) * PAGE_SIZE;
      if (pos >= roundUp(inode.i_size, PAGE_SIZE)) return 'SIGBUS';
      if (inode.mapping.folioAt(pos) === undefined) do_sync_mmap_readahead(inode.mapping, pos);
      const folio = inode.mapping.getOrCreate(pos);
      // filemap_fault / do_page_mkwrite: a failed read or ->page_mkwrite is VM_FAULT_SIGBUS.
      if (!folio.uptodate && inode.mapping.a_ops.read_folio(inode.mapping, folio) < 0) return 'SIGBUS';
      if (!folio.pageWritable(pos) && this.sb.ops.page_mkwrite(inode, folio, pos) < 0) return 'SIGBUS';
      const stop = Math.min(end, pageEnd);
      folioWrite(folio, pos, [span(stop - pos, src.id, pos - offset, fill)]);
      pos = stop;
    }
    return 0;
  }

  /**
   * The device sectors that back bytes [offset, offset+length) of the file
   * now (written or unwritten blocks of the data fork, and of the file
   * system's other forks: XFS's COW staging blocks) go bad: every later read or write reaching them fails with
   * EIO, including bios already in flight.  Holes and delayed allocations
   * have no sectors yet and are not affected.  Returns the blocks marked.
   */
  private injectDeviceError(inode: Inode, offset: number, length: number): number {
    const bs = inode.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.ceil((offset + length) / bs);
    let marked = 0;
    const forks = [inode.extents, ...(this.sb.ops.extra_forks?.(inode) ?? []).map((f) => f.map)];
    for (const fork of forks) {
      for (const e of fork.overlapping(first, last)) {
        if (e.v.pblk < 0) continue;
        const a = Math.max(first, e.start);
        const b = Math.min(last, e.end);
        const p = e.v.pblk + (a - e.start);
        this.disk.badRanges.set(p * bs, (p + b - a) * bs, true);
        marked += b - a;
      }
    }
    return marked;
  }

  /** The failed write bios of this step that carried file data written back (not direct I/O), and the data the file system dropped with them (Kernel.lostWriteback). */
  private writebackErrors(): StepOutcome['ioErrors'] {
    const out: Array<{ path: string; pos: number; len: number }> = [];
    for (const b of this.disk.failedWrites) {
      if (b.origin.kind !== 'writeback' && b.origin.kind !== 'writethrough') continue;
      const r = b.ioRange ?? { pos: b.origin.pos + b.relOff, len: b.size };
      for (const [p, ino] of this.sb.names) if (ino === b.origin.ino) out.push({ path: p, pos: r.pos, len: r.len });
    }
    for (const w of this.lostWrites) for (const [p, ino] of this.sb.names) if (ino === w.ino) out.push({ path: p, pos: w.pos, len: w.len });
    return out;
  }

  /** Memory pressure: drop clean, idle, unmapped folios (shrink_folio_list -> filemap_release_folio). */
  private reclaim(): void {
    for (const inode of this.sb.inodes.values()) {
      for (const f of inode.mapping.allFolios()) {
        if (f.dirty || f.writeback || f.mappedWritable) continue;
        if (!inode.mapping.a_ops.release_folio(f)) continue;
        inode.mapping.remove(f);
      }
    }
  }

  /** Open fds (for generators). */
  openFds(): string[] {
    return [...this.files.keys()];
  }
}

const NO_IO_ERRORS: StepOutcome['ioErrors'] = [];

export { errnoName };

/**
 * The mounted file system: struct super_block plus the on-disk image, the
 * journal and the allocator, and the metadata operations both personalities
 * share (allocating, converting and freeing extents inside transactions,
 * logging the on-disk size, creating inodes).
 */
import type { Kernel } from '../kernel.ts';
import type { Folio } from '../mm/folio.ts';
import type { AddressSpaceOps } from '../mm/filemap.ts';
import type { File, Kiocb } from '../vfs/file.ts';
import type { IovIter } from '../vfs/uio.ts';
import type { RemapRequest } from '../vfs/remap_range.ts';
import type { Iomap } from '../iomap/iomap.ts';
import type { Ioend } from '../iomap/ioend.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import { BlockAllocator } from './alloc.ts';
import type { RefcountMap } from './refcount.ts';
import { refcountDecrease, refcountIncrease } from './refcount.ts';
import type { Extent, ExtType } from './extent.ts';
import { newExtentMap } from './extent.ts';
import { Inode } from './inode.ts';
import type { DiskImage } from './journal.ts';
import { Journal } from './journal.ts';
import { ENOSPC } from '../lib/errno.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';

/** An atomic write's file blocks, which must map to one naturally aligned physical extent. */
export interface AlignedWrite {
  readonly lblk: number;
  readonly len: number;
}

/** How SuperBlock.allocBlocks searches, and what the caller requires of the result. */
export interface AllocOpts {
  /** Physical alignment of the first block the search looks for, in blocks. */
  readonly align?: number;
  /** Fewest blocks acceptable in one extent. */
  readonly minLen?: number;
  /** The blocks were reserved by a delayed allocation. */
  readonly fromReservation?: boolean;
  /**
   * The allocation is for a write that needs its blocks physically
   * contiguous and naturally aligned (an atomic write of `len` blocks from
   * file block `lblk`): recorded in the alloc event for alloc/aligned-when-required.
   */
  readonly requiredAlign?: AlignedWrite;
}

/** The file system configuration a scenario resolves to. */
export interface FsConfig {
  readonly fs: 'ext4' | 'xfs';
  readonly blockSize: number;
  readonly clusterSize: number;
  readonly features: readonly string[];
  readonly mount: readonly string[];
  /** Page cache folio size: 0 = the kernel's policy (sized by each write), else a fixed size (model knob). */
  readonly folioSize: number;
}

/** What statx reports (struct kstat, the fields this model fills). */
export interface Kstat {
  size: number;
  blocks: number;
  blksize: number;
  result_mask: number;
  dio_mem_align?: number;
  dio_offset_align?: number;
  dio_read_offset_align?: number;
  atomic_write_unit_min?: number;
  atomic_write_unit_max?: number;
  atomic_write_unit_max_opt?: number;
  atomic_write_segments_max?: number;
}

/** A FIEMAP extent (struct fiemap_extent). */
export interface FiemapExtent {
  logical: number;
  physical: number;
  length: number;
  flags: string[];
}

/**
 * The operations a personality provides: its file_operations,
 * inode_operations, address_space_operations and the iomap hooks.
 */
export interface FsOps {
  readonly name: 'ext4' | 'xfs';
  /** Set up personality state on a fresh or re-mounted super block. */
  fill_super(sb: SuperBlock): void;
  /** May regular files use large folios (mapping_set_large_folios)? */
  large_folios(sb: SuperBlock): boolean;
  /** Log recovery extras after a crash (orphan processing, ...). */
  recover(sb: SuperBlock): void;
  /** ->open: set f_mode bits (FMODE_CAN_ATOMIC_WRITE, FMODE_NOWAIT). */
  open(inode: Inode, file: File): number;
  write_iter(iocb: Kiocb, from: IovIter): number;
  read_iter(iocb: Kiocb, to: IovIter): number;
  fsync(file: File, start: number, end: number, datasync: boolean): number;
  fallocate(file: File, mode: number, offset: number, len: number): number;
  /** ->remap_file_range (FICLONERANGE): the file system's own checks, then the sharing; absent: EOPNOTSUPP. */
  readonly remap_file_range?: {
    checks(sb: SuperBlock): number;
    remap(r: RemapRequest): number;
  };
  /** ->setattr with ATTR_SIZE. */
  setattr_size(file: File, size: number): number;
  getattr(inode: Inode, mask: number): Kstat;
  fiemap(inode: Inode, start: number, len: number): FiemapExtent[] | number;
  /** ->page_mkwrite for a store through a shared mapping to the page holding `pos`. */
  page_mkwrite(inode: Inode, folio: Folio, pos: number): number;
  /** ->sync_fs: commit the journal. */
  sync_fs(sb: SuperBlock): void;
  /** ->release: the last close of an open file (XFS trims post-EOF blocks here). */
  release(file: File): void;
  /** Inode eviction at unmount (XFS frees post-EOF blocks). */
  evict(inode: Inode): void;
  readonly aops: AddressSpaceOps;
  /** Writeback: map (allocating delalloc) the block at `pos` for an ioend (->map_blocks / ext4 mpage mapping). */
  map_blocks(inode: Inode, pos: number, len: number): Iomap | number;
  /** ioend completion in process context (xfs_end_ioend, ext4_end_io_end). */
  end_ioend(inode: Inode, ioend: Ioend): number;
  /** The mapping ops used to read folios (readahead / read_folio). */
  read_iomap_begin(inode: Inode, pos: number, len: number, flags: number): Iomap | number;
}

export class SuperBlock {
  readonly k: Kernel;
  readonly ops: FsOps;
  readonly cfg: FsConfig;
  readonly blockSize: number;
  readonly blkbits: number;
  readonly image: DiskImage;
  readonly journal: Journal;
  readonly alloc: BlockAllocator;
  /** In-core reference counts of shared blocks (the XFS refcount btree). */
  readonly refcount: RefcountMap;
  readonly inodes = new Map<number, Inode>();
  /** In-core dentries: path -> inode number. */
  readonly names = new Map<string, number>();
  nextIno: number;
  /** Personality state (struct ext4_sb_info / struct xfs_mount fields). */
  info: Record<string, number> = {};
  /** Shut down (after a crash): the file system refuses I/O until remounted. */
  shutdown = false;
  /** Blocks per allocation unit: EXT4_C2B(sbi, 1) with ext4 bigalloc, else 1. */
  readonly clusterRatio: number;

  constructor(k: Kernel, ops: FsOps, cfg: FsConfig, image: DiskImage, firstDataBlock: number, totalBlocks: number) {
    this.k = k;
    this.ops = ops;
    this.cfg = cfg;
    this.blockSize = cfg.blockSize;
    this.blkbits = Math.log2(cfg.blockSize);
    this.clusterRatio = cfg.fs === 'ext4' && cfg.features.includes('bigalloc') ? cfg.clusterSize / cfg.blockSize : 1;
    this.image = image;
    this.journal = new Journal(
      image,
      { flushDevice: () => this.k.disk.flush(), committed: () => this.releaseBusy(), beforeCommit: () => this.writeOrdered() },
      !k.v.journalNoPreflush,
    );
    // xfs_reflink_recover_cow (xfs_mountfs, after log recovery): CoW staging
    // blocks a crash left behind are freed; the COW forks were in-core only.
    for (const e of image.cowStaging.entries()) image.free.set(e.start, e.end, true);
    image.cowStaging.clear();
    this.alloc = new BlockAllocator(firstDataBlock, totalBlocks, image.free.clone());
    this.refcount = image.refcount.clone();
    let maxIno = 10;
    for (const [ino, d] of image.inodes) {
      maxIno = Math.max(maxIno, ino);
      const inode = new Inode(this, ino, d.kind, ops.aops, this.folioSizeFor(), d.extents.clone());
      inode.i_size = d.size;
      inode.disksize = d.size;
      for (const f of d.flags) inode.flags.add(f);
      inode.crypt = d.crypt;
      this.inodes.set(ino, inode);
    }
    for (const [p, ino] of image.names) this.names.set(p, ino);
    this.nextIno = maxIno + 1;
    ops.fill_super(this);
  }

  /** The mapping's folio size: 0 is the kernel's policy (sized per write); a fixed size is at least the block size. */
  folioSizeFor(): number {
    if (this.cfg.folioSize === 0 && !this.ops.large_folios(this)) return Math.max(PAGE_SIZE, this.blockSize);
    return this.cfg.folioSize === 0 ? 0 : Math.max(this.cfg.folioSize, this.blockSize);
  }

  hasFeature(f: string): boolean {
    return this.cfg.features.includes(f);
  }

  hasMountOpt(o: string): boolean {
    return this.cfg.mount.includes(o);
  }

  /** Log a metadata change of `inode` into the running transaction. */
  log(inode: Inode | null, delta: (img: DiskImage) => void, forData = true): void {
    const tid = this.journal.log(delta);
    if (inode !== null) {
      inode.syncTid = tid;
      if (forData) inode.datasyncTid = tid;
    }
  }

  /** Create a regular file or directory at `path` (a logged directory entry and inode). */
  createInode(path: string, kind: 'reg' | 'dir'): Inode {
    const ino = this.nextIno++;
    const inode = new Inode(this, ino, kind, this.ops.aops, this.folioSizeFor());
    this.inodes.set(ino, inode);
    this.names.set(path, ino);
    this.log(inode, (img) => {
      img.createInode(ino, kind);
      img.names.set(path, ino);
    });
    return inode;
  }

  /** Set a persistent inode flag, logged. */
  setInodeFlag(inode: Inode, flag: string): void {
    if (inode.flags.has(flag)) return;
    inode.flags.add(flag);
    const ino = inode.ino;
    this.log(inode, (img) => {
      img.inode(ino).flags.add(flag);
    });
  }

  /** Clear a persistent inode flag, logged. */
  clearInodeFlag(inode: Inode, flag: string): void {
    if (!inode.flags.has(flag)) return;
    inode.flags.delete(flag);
    const ino = inode.ino;
    this.log(inode, (img) => {
      img.inode(ino).flags.delete(flag);
    });
  }

  /** Log the on-disk size (ext4 i_disksize / XFS di_size) of `inode`. */
  setDisksize(inode: Inode, size: number): void {
    inode.disksize = size;
    const ino = inode.ino;
    this.log(inode, (img) => {
      img.inode(ino).size = size;
    });
  }

  /** Set in-core extents of [lblk, lblk+len) and log the same change. */
  setExtent(inode: Inode, lblk: number, len: number, e: Extent): void {
    inode.extents.set(lblk, lblk + len, e);
    if (e.type === 'delalloc') return;
    const ino = inode.ino;
    this.log(inode, (img) => {
      img.inode(ino).extents.set(lblk, lblk + len, e);
    });
  }

  /**
   * Allocate blocks for file blocks [lblk, lblk+len) of `inode` as `type`
   * (unwritten or mapped), near `goal`, in one transaction with the extent
   * insertion.  May allocate less than asked (several calls fill a range);
   * returns the allocated extent or -ENOSPC.
   */
  allocBlocks(inode: Inode, lblk: number, len: number, type: ExtType, goal: number, opts: AllocOpts = {}): { pblk: number; len: number } | number {
    const r = this.clusterRatio;
    if (r > 1) {
      // ext4_ext_map_blocks, bigalloc: a block whose logical cluster already has a
      // physical one goes into it at the same offset (get_implied_cluster_alloc).
      const implied = this.impliedCluster(inode, lblk);
      if (implied !== null) {
        const n = Math.min(len, (Math.floor(lblk / r) + 1) * r - lblk);
        if (opts.fromReservation === true) this.alloc.unreserve(n);
        return this.insertAllocated(inode, lblk, n, type, implied + (lblk % r), null, opts.requiredAlign);
      }
    }
    let want = len;
    let off = 0;
    if (r > 1) {
      // Whole clusters, stopping before a logical cluster the file already has blocks in.
      const lastLc = Math.floor((lblk + len - 1) / r);
      if (lastLc > Math.floor(lblk / r) && this.impliedCluster(inode, lastLc * r) !== null) want = lastLc * r - lblk;
      off = lblk % r;
    }
    const req = r > 1
      ? { goal: Math.floor(goal / r) * r, len: Math.ceil((off + want) / r) * r, align: r, minLen: r }
      : { goal, len: want, align: opts.align ?? 1, minLen: opts.minLen ?? 1 };
    let got = this.alloc.alloc(req);
    if (got === null && this.hasBusy()) {
      // Out of space with busy blocks: force the log so they become free (xfs_extent_busy_flush, ext4_should_retry_alloc).
      this.journal.commit();
      got = this.alloc.alloc(req);
    }
    if (got === null) return -ENOSPC;
    let run = got;
    if (r > 1 && got.len % r !== 0) {
      const whole = got.len - (got.len % r);
      this.alloc.release(got.pblk + whole, got.len - whole);
      run = { pblk: got.pblk, len: whole };
    }
    const n = Math.min(want, run.len - off);
    if (opts.fromReservation === true) this.alloc.unreserve(n);
    return this.insertAllocated(inode, lblk, n, type, run.pblk + off, run, opts.requiredAlign);
  }

  /**
   * The physical cluster (its first block) that file blocks of `lblk`'s
   * logical cluster are mapped into, or null (bigalloc only).
   */
  impliedCluster(inode: Inode, lblk: number): number | null {
    const r = this.clusterRatio;
    const cs = lblk - (lblk % r);
    for (const e of inode.extents.overlapping(cs, cs + r)) {
      if (e.v.pblk < 0) continue;
      const first = Math.max(e.start, cs);
      return e.v.pblk + (first - e.start) - (first - cs);
    }
    return null;
  }

  /**
   * Map [lblk, lblk+n) to pblk.. as `type` in one transaction with the
   * free-space update of `run` (the blocks the allocator handed out; null
   * when they were allocated before, as part of a cluster).
   */
  private insertAllocated(inode: Inode, lblk: number, n: number, type: ExtType, pblk: number, run: { pblk: number; len: number } | null, requiredAlign: AlignedWrite | undefined): { pblk: number; len: number } {
    const ext: Extent = { type, pblk };
    inode.extents.set(lblk, lblk + n, ext);
    const ino = inode.ino;
    const freeStart = run?.pblk ?? 0;
    const freeEnd = run === null ? 0 : run.pblk + run.len;
    if (this.k.v.allocSplitTransactions && run !== null) {
      // Variant: the free-space update and the extent insertion go in separate transactions.
      this.log(inode, (img) => img.free.remove(freeStart, freeEnd));
      this.journal.commit();
      this.log(inode, (img) => img.inode(ino).extents.set(lblk, lblk + n, ext));
    } else {
      this.log(inode, (img) => {
        if (freeEnd > freeStart) img.free.remove(freeStart, freeEnd);
        img.inode(ino).extents.set(lblk, lblk + n, ext);
      });
    }
    if (this.k.recording) this.k.emit({ t: 'alloc', ino, lblk, pblk, len: n, unwritten: type === 'unwritten', ...(requiredAlign !== undefined ? { align: requiredAlign } : {}) });
    return { pblk, len: n };
  }

  /**
   * Blocks freed in a transaction that has not committed yet are "busy":
   * they cannot be reallocated before the commit, or a crash could leave the
   * old owner pointing at the new owner's data (XFS busy extents,
   * fs/xfs/xfs_extent_busy.c; ext4 releases freed data blocks only after the
   * commit, fs/ext4/mballoc.c: ext4_process_freed_data).
   */
  private busy: Array<[number, number]> = [];

  private freeBusy(pblk: number, n: number): void {
    // A freed block is healed: a drive remaps a bad sector when it is next
    // written, and an injected device error stays with the file it was aimed at.
    const bs = this.blockSize;
    this.k.disk.badRanges.remove(pblk * bs, (pblk + n) * bs);
    if (this.k.v.allocReuseBusy) {
      this.alloc.release(pblk, n);
      return;
    }
    this.busy.push([pblk, n]);
  }

  /** The journal committed: busy blocks become free for reuse. */
  releaseBusy(): void {
    for (const [p, n] of this.busy) this.alloc.release(p, n);
    this.busy = [];
  }

  hasBusy(): boolean {
    return this.busy.length > 0;
  }

  busyBlocks(): ReadonlyArray<readonly [number, number]> {
    return this.busy;
  }

  /**
   * ext4 data=ordered: byte ranges zeroed through the page cache in a
   * transaction (ext4_jbd2_inode_add_write) are written out before that
   * transaction commits (jbd2 journal_submit_data_buffers).
   */
  private ordered: Array<{ inode: Inode; start: number; end: number }> = [];

  addOrdered(inode: Inode, start: number, end: number): void {
    if (end > start) this.ordered.push({ inode, start, end });
  }

  private writeOrdered(): void {
    const list = this.ordered;
    this.ordered = [];
    for (const o of list) filemap_write_and_wait_range(o.inode.mapping, o.start, o.end - 1);
  }

  /** Convert unwritten extents in [lblk, lblk+len) to mapped (written), logged. */
  convertUnwritten(inode: Inode, lblk: number, len: number): void {
    for (const e of inode.extents.overlapping(lblk, lblk + len)) {
      if (e.v.type !== 'unwritten') continue;
      this.setExtent(inode, e.start, e.end - e.start, { type: 'mapped', pblk: e.v.pblk });
    }
  }

  /**
   * Drop one owner of physical blocks [pblk, pblk+n): shared blocks lose a
   * reference, the others are freed (busy until the commit).  Returns the
   * runs freed; `img` applies the same change to the on-disk image.
   */
  private dropOwner(inode: Inode, pblk: number, n: number): Array<[number, number]> {
    const freed = refcountDecrease(this.refcount, pblk, n);
    for (const [a, b] of freed) {
      this.freeBusy(a, b - a);
      if (this.k.recording) this.k.emit({ t: 'free', ino: inode.ino, pblk: a, len: b - a });
    }
    return freed;
  }

  /** Is any block of [pblk, pblk+n) shared (a refcount record)? */
  isShared(pblk: number, n = 1): boolean {
    return this.refcount.intersects(pblk, pblk + n);
  }

  /**
   * Remove the mapping of [lblk, lblk+len): allocated blocks lose this owner
   * (freed unless shared, in the same transaction as the extent removal),
   * delalloc reservations are returned.  Returns blocks freed.
   */
  unmapBlocks(inode: Inode, lblk: number, len: number, why: 'truncate' | 'punch' = 'punch'): number {
    if (this.clusterRatio > 1) return this.unmapClusters(inode, lblk, len);
    let freed = 0;
    const keepMapping = why === 'truncate' && this.k.v.freeWithoutUnmap;
    const ino = inode.ino;
    for (const e of inode.extents.overlapping(lblk, lblk + len)) {
      const n = e.end - e.start;
      if (e.v.type === 'delalloc') {
        inode.delayed = Math.max(0, inode.delayed - n);
        this.alloc.unreserve(n);
        continue;
      }
      const pblk = e.v.pblk;
      const start = e.start;
      const runs = this.dropOwner(inode, pblk, n);
      for (const [a, b] of runs) freed += b - a;
      this.log(inode, (img) => {
        if (!keepMapping) img.inode(ino).extents.remove(start, start + n);
        refcountDecrease(img.refcount, pblk, n);
        for (const [a, b] of runs) img.free.set(a, b, true);
      });
    }
    if (keepMapping) {
      // Variant free-without-unmap: only delalloc is dropped from the map.
      for (const e of inode.extents.overlapping(lblk, lblk + len)) if (e.v.type === 'delalloc') inode.extents.remove(e.start, e.end);
    } else {
      inode.extents.remove(lblk, lblk + len);
    }
    return freed;
  }

  /**
   * unmapBlocks with bigalloc (ext4_ext_rm_leaf and ext4_free_blocks with
   * their partial-cluster rules): the mapping goes at once; a physical
   * cluster is freed only when no block of the file is left in it.
   */
  private unmapClusters(inode: Inode, lblk: number, len: number): number {
    const r = this.clusterRatio;
    const ino = inode.ino;
    // Logical cluster -> its physical cluster, for the clusters the range touches.
    const touched = new Map<number, number>();
    for (const e of inode.extents.overlapping(lblk, lblk + len)) {
      if (e.v.type === 'delalloc') {
        inode.delayed = Math.max(0, inode.delayed - (e.end - e.start));
        this.alloc.unreserve(e.end - e.start);
        continue;
      }
      for (let lc = Math.floor(e.start / r); lc * r < e.end; lc++) {
        const first = Math.max(e.start, lc * r);
        touched.set(lc, e.v.pblk + (first - e.start) - (first - lc * r));
      }
    }
    inode.extents.remove(lblk, lblk + len);
    const runs: Array<[number, number]> = [];
    for (const [lc, pc] of touched) {
      if (inode.extents.overlapping(lc * r, lc * r + r).some((e) => e.v.pblk >= 0)) continue;
      runs.push([pc, pc + r]);
      this.freeBusy(pc, r);
      if (this.k.recording) this.k.emit({ t: 'free', ino, pblk: pc, len: r });
    }
    this.log(inode, (img) => {
      img.inode(ino).extents.remove(lblk, lblk + len);
      for (const [a, b] of runs) img.free.set(a, b, true);
    });
    return runs.length * r;
  }

  /**
   * Give file blocks [first, last) allocated blocks where they have none:
   * holes and delalloc become unwritten extents (the preallocation of
   * ext4_alloc_file_blocks and xfs_alloc_file_space).  Existing written and
   * unwritten blocks are untouched.
   */
  allocUnwrittenRange(inode: Inode, first: number, last: number, goal: (lblk: number, len: number) => number, onAlloc?: (pblk: number, len: number) => void): number {
    let lblk = first;
    while (lblk < last) {
      const at = inode.extents.find(lblk);
      if (at !== undefined && at.v.type !== 'delalloc') {
        lblk = at.end;
        continue;
      }
      let end: number;
      let fromRes = false;
      if (at !== undefined) {
        end = Math.min(at.end, last);
        fromRes = true;
      } else {
        const nx = inode.extents.next(lblk);
        end = nx === undefined ? last : Math.min(nx.start, last);
      }
      const got = this.allocBlocks(inode, lblk, end - lblk, 'unwritten', goal(lblk, end - lblk), { fromReservation: fromRes });
      if (typeof got === 'number') return got;
      onAlloc?.(got.pblk, got.len);
      if (fromRes) inode.delayed = Math.max(0, inode.delayed - got.len);
      lblk += got.len;
    }
    return 0;
  }

  /**
   * Map physical blocks [pblk, pblk+n) into file blocks [lblk, lblk+n) of
   * `inode` as written, sharing them (one more owner each), after removing
   * what was mapped there (xfs_reflink_remap_extent: one transaction).
   */
  remapShared(inode: Inode, lblk: number, n: number, pblk: number): void {
    this.unmapBlocks(inode, lblk, n);
    refcountIncrease(this.refcount, pblk, n);
    inode.extents.set(lblk, lblk + n, { type: 'mapped', pblk });
    const ino = inode.ino;
    this.log(inode, (img) => {
      refcountIncrease(img.refcount, pblk, n);
      img.inode(ino).extents.set(lblk, lblk + n, { type: 'mapped', pblk });
    });
  }

  /**
   * Allocate CoW staging blocks for COW-fork blocks [lblk, lblk+len) of
   * `inode` (xfs_bmapi_write with XFS_BMAPI_COWFORK): in-core the extent
   * goes into the COW fork as unwritten; on disk only a CoW staging record
   * is logged.  May allocate less than asked; returns the extent or -ENOSPC.
   */
  allocCowBlocks(inode: Inode, lblk: number, len: number, goal: number, fromReservation: boolean): { pblk: number; len: number } | number {
    const got = this.alloc.alloc({ goal, len, align: 1, minLen: 1 });
    if (got === null) return -ENOSPC;
    if (fromReservation) this.alloc.unreserve(got.len);
    const cow = inode.cowFork();
    cow.set(lblk, lblk + got.len, { type: 'unwritten', pblk: got.pblk });
    const { pblk } = got;
    const n = got.len;
    this.log(inode, (img) => {
      img.free.remove(pblk, pblk + n);
      img.cowStaging.set(pblk, pblk + n, true);
    }, false);
    if (this.k.recording) this.k.emit({ t: 'alloc', ino: inode.ino, lblk, pblk, len: n, unwritten: true });
    return got;
  }

  /**
   * Drop COW-fork blocks [lblk, lblk+len) of `inode`: reservations are
   * returned, staging blocks freed with their records
   * (xfs_reflink_cancel_cow_blocks).  Real blocks only with `cancelReal`.
   */
  cancelCow(inode: Inode, lblk: number, len: number, cancelReal: boolean): void {
    const cow = inode.cow;
    if (cow === null) return;
    for (const e of cow.overlapping(lblk, lblk + len)) {
      const n = e.end - e.start;
      if (e.v.type === 'delalloc') {
        this.alloc.unreserve(n);
        cow.remove(e.start, e.end);
        continue;
      }
      if (!cancelReal) continue;
      const pblk = e.v.pblk;
      cow.remove(e.start, e.end);
      this.freeBusy(pblk, n);
      this.log(inode, (img) => {
        img.cowStaging.remove(pblk, pblk + n);
        img.free.set(pblk, pblk + n, true);
      }, false);
    }
  }

  /**
   * xfs_reflink_end_cow_extent: in one transaction, the written COW-fork
   * blocks [lblk, lblk+n) (staging at `pblk`) replace the data fork mapping
   * there: the old blocks lose this owner (freed unless still shared), the
   * staging record goes, the new blocks are mapped written.
   */
  remapCow(inode: Inode, lblk: number, n: number, pblk: number): void {
    const ino = inode.ino;
    const old: Array<[number, number, number]> = [];
    for (const e of inode.extents.overlapping(lblk, lblk + n)) {
      if (e.v.type === 'delalloc') {
        inode.delayed = Math.max(0, inode.delayed - (e.end - e.start));
        this.alloc.unreserve(e.end - e.start);
        continue;
      }
      old.push([e.start, e.end, e.v.pblk]);
    }
    const freed: Array<[number, number]> = [];
    for (const [s, e, p] of old) freed.push(...this.dropOwner(inode, p, e - s));
    inode.extents.set(lblk, lblk + n, { type: 'mapped', pblk });
    inode.cow?.remove(lblk, lblk + n);
    this.log(inode, (img) => {
      const d = img.inode(ino);
      for (const [s, e, p] of old) {
        d.extents.remove(s, e);
        refcountDecrease(img.refcount, p, e - s);
      }
      for (const [a, b] of freed) img.free.set(a, b, true);
      img.cowStaging.remove(pblk, pblk + n);
      d.extents.set(lblk, lblk + n, { type: 'mapped', pblk });
    });
  }

  /** Convert written blocks of [first, last) to unwritten (zero range without I/O), logged. */
  convertToUnwritten(inode: Inode, first: number, last: number): void {
    for (const e of inode.extents.overlapping(first, last)) {
      if (e.v.type !== 'mapped') continue;
      this.setExtent(inode, e.start, e.end - e.start, { type: 'unwritten', pblk: e.v.pblk });
    }
  }

  /**
   * Shift every extent at or after file block `from` by `delta` blocks
   * (collapse: negative, insert: positive), logged as one change
   * (ext4_ext_shift_extents, xfs_bmap_collapse_extents/insert_extents).
   */
  shiftExtents(inode: Inode, from: number, delta: number): void {
    const moved = inode.extents.overlapping(from, Number.MAX_SAFE_INTEGER);
    inode.extents.remove(from, Number.MAX_SAFE_INTEGER);
    for (const e of moved) inode.extents.set(e.start + delta, e.end + delta, e.v);
    const snapshot = inode.extents.clone();
    const ino = inode.ino;
    this.log(inode, (img) => {
      const d = img.inode(ino);
      d.extents.clear();
      for (const e of snapshot.entries()) if (e.v.type !== 'delalloc') d.extents.set(e.start, e.end, e.v);
    });
  }

  /** Complete the writeback I/O of a folio (folio_wait_writeback). */
  waitFolioWriteback(folio: Folio): void {
    const reqs = folio.wbReqs.slice();
    for (const r of reqs) this.k.wait_req(r);
  }

  /** Look up a path's in-core inode. */
  lookup(path: string): Inode | undefined {
    const ino = this.names.get(path);
    return ino === undefined ? undefined : this.inodes.get(ino);
  }

  /** A copy of the free-space map for checks. */
  freeMap(): BlockAllocator {
    return this.alloc;
  }

  static emptyExtents() {
    return newExtentMap();
  }
}

/**
 * The mounted file system: struct super_block plus the on-disk image, the
 * journal and the allocator, and the metadata operations every file system
 * of the model shares (allocating, converting and freeing extents inside
 * transactions, sharing blocks, logging the on-disk size, creating inodes).
 * What only one file system has lives in its folder: ext4's bigalloc
 * clusters and ordered data (model/ext4/), XFS's COW fork and CoW staging
 * blocks (model/xfs/).
 */
import type { Kernel } from '../kernel.ts';
import type { Span } from '../lib/content.ts';
import type { Folio } from '../mm/folio.ts';
import type { AddressSpaceOps } from '../mm/filemap.ts';
import type { File, Kiocb } from '../vfs/file.ts';
import type { IovIter } from '../vfs/uio.ts';
import type { RemapRequest } from '../vfs/remap_range.ts';
import type { Iomap } from '../iomap/iomap.ts';
import type { Ioend } from '../iomap/ioend.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import type { AllocRequest, AllocSearch, Allocation } from './alloc.ts';
import { BlockAllocator } from './alloc.ts';
import type { RefcountMap } from './refcount.ts';
import { refcountDecrease, refcountIncrease } from './refcount.ts';
import type { Extent, ExtentMap, ExtType } from './extent.ts';
import { Inode } from './inode.ts';
import type { DiskImage } from './journal.ts';
import { Journal } from './journal.ts';
import { ENOSPC } from '../lib/errno.ts';
import type { FileSystemType } from './registry.ts';
import type { BackingDevInfo } from '../mm/backing-dev.ts';

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
  /** The blocks extend the file's last extent (AllocRequest.atEof). */
  readonly atEof?: boolean;
  /**
   * The allocation is for a write that needs its blocks physically
   * contiguous and naturally aligned (an atomic write of `len` blocks from
   * file block `lblk`): recorded in the alloc event for alloc/aligned-when-required.
   */
  readonly requiredAlign?: AlignedWrite;
}

/** The file system configuration a scenario resolves to. */
export interface FsConfig {
  /** The registered file system type's name (model/fs/registry.ts). */
  readonly fs: string;
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
 * The operations a file system provides: its file_operations,
 * inode_operations, super_operations, address_space_operations and the
 * iomap hooks, as far as the modelled paths go.
 */
export interface FsOps {
  /**
   * Mount-time recovery on the on-disk image, before the in-core state is
   * built from it (btrfs replays its log tree, XFS frees the CoW staging a
   * crash left).  The journal's committed transactions are already in it.
   */
  replay?(image: DiskImage, dataBlocks: { readonly first: number; readonly total: number }): void;
  /** Set up the file system's private state on a fresh or re-mounted super block (s_fs_info, s_maxbytes). */
  fill_super(sb: SuperBlock): void;
  /** A new or loaded in-core inode (btrfs inherits NODATACOW from its directory and sets stable writes for checksummed files). */
  inode_init?(inode: Inode, parent: Inode | undefined): void;
  /** A new directory's own blocks (ext4_init_new_dir allocates its first block); a negative errno fails the mkdir. */
  mkdir?(dir: Inode): number;
  /** May regular files use large folios (mapping_set_large_folios)? */
  large_folios(sb: SuperBlock): boolean;
  /** Log recovery extras after the journal replay (orphan processing, ...). */
  recover(sb: SuperBlock): void;
  /** ->open of a regular file: set f_mode bits (FMODE_CAN_ATOMIC_WRITE, FMODE_NOWAIT), or refuse. */
  open(inode: Inode, file: File): number;
  /** ->open of a directory (the kernel runner opens the mount root for its ioctls). */
  open_dir(sb: SuperBlock): number;
  /** ->lookup of a name the dcache does not know: -ENOENT, or another error when the directory cannot be read. */
  lookup(sb: SuperBlock, path: string): number;
  /** ->mmap_prepare: set up a shared mapping of the file (faults come later). */
  mmap(file: File): number;
  write_iter(iocb: Kiocb, from: IovIter): number;
  read_iter(iocb: Kiocb, to: IovIter): number;
  fsync(file: File, start: number, end: number, datasync: boolean): number;
  fallocate(file: File, mode: number, offset: number, len: number): number;
  /** ->remap_file_range (FICLONERANGE): the file system's own checks (before the generic range checks), then the sharing; absent: EOPNOTSUPP. */
  readonly remap_file_range?: {
    checks(r: RemapRequest): number;
    remap(r: RemapRequest): number;
  };
  /** ->fileattr_set for FS_IOC_SETFLAGS (the FS_*_FL flags); absent: the ioctl is not the file system's (ENOTTY). */
  fileattr_set?(file: File, flags: number): number;
  /** ->setattr with ATTR_SIZE. */
  setattr_size(file: File, size: number): number;
  /** ->getattr: what statx reports, or -errno. */
  getattr(inode: Inode, mask: number): Kstat | number;
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
  /**
   * Writeback: map (allocating delalloc) the block at `pos` for an ioend
   * (->map_blocks / ext4 mpage mapping); `rangeEnd` is wbc->range_end (ext4
   * gathers dirty delayed blocks up to it).
   */
  map_blocks(inode: Inode, pos: number, len: number, rangeEnd: number): Iomap | number;
  /** ioend completion in process context (xfs_end_ioend, ext4_end_io_end). */
  end_ioend(inode: Inode, ioend: Ioend): number;
  /** The mapping ops used to read folios (readahead / read_folio). */
  read_iomap_begin(inode: Inode, pos: number, len: number, flags: number): Iomap | number;
  /** file_operations.fop_flags (FOP_DONTCACHE, the RFC's FOP_WRITETHROUGH). */
  fop_flags(sb: SuperBlock): number;
  /** sb->s_cop: the file system implements fscrypt; without it FS_IOC_SET_ENCRYPTION_POLICY is not an ioctl it knows (ENOTTY). */
  readonly s_cop: boolean;
  /**
   * Block maps of a file besides its data fork (XFS's COW fork).  Their
   * blocks belong to the file without being its data (CoW staging): fsck
   * counts them, device errors reach them, traces draw them, and a change
   * to them makes iomap mappings stale (the validity cookie).
   */
  extra_forks?(inode: Inode): ReadonlyArray<{ readonly name: string; readonly map: ExtentMap }>;
  /** File data kept in metadata rather than in a data block (a btrfs inline extent, always at offset 0), or null. */
  inline_data?(inode: Inode): readonly Span[] | null;
  /**
   * The file system's own free-space search for an extent near a goal
   * (XFS: xfs_alloc_ag_vextent_near); absent: the allocator's default
   * (model/fs/alloc.ts nearGoalSearch).
   */
  readonly alloc_search?: AllocSearch;
  /**
   * Blocks the allocator holds out of the free map for later, owned by no
   * file yet (ext4's preallocations): the allocation invariants account
   * for them.
   */
  held?(sb: SuperBlock): ReadonlyArray<{ readonly pblk: number; readonly len: number; readonly who: () => string }>;
}

export class SuperBlock {
  readonly k: Kernel;
  /** The file system type this super block is an instance of (sb->s_type). */
  readonly s_type: FileSystemType;
  readonly ops: FsOps;
  readonly cfg: FsConfig;
  readonly blockSize: number;
  readonly blkbits: number;
  readonly image: DiskImage;
  readonly journal: Journal;
  readonly alloc: BlockAllocator;
  /** In-core reference counts of shared blocks (the XFS refcount btree, btrfs extent references). */
  readonly refcount: RefcountMap;
  readonly inodes = new Map<number, Inode>();
  /** In-core dentries: path -> inode number. */
  readonly names = new Map<string, number>();
  nextIno: number;
  /** sb->s_fs_info: the file system's private state (struct ext4_sb_info, struct xfs_mount), set by fill_super. */
  s_fs_info: object | null = null;
  /** sb->s_maxbytes: the largest file size, set by fill_super. */
  s_maxbytes = Number.MAX_SAFE_INTEGER;
  /** sb->s_bdi: the block device's (set_bdev_super), unless fill_super sets up the file system's own (super_setup_bdi). */
  s_bdi: BackingDevInfo;
  /** Shut down (after a crash): the file system refuses I/O until remounted. */
  shutdown = false;
  /** Blocks per allocation unit: EXT4_C2B(sbi, 1) with ext4 bigalloc, else 1 (the type's allocUnit). */
  readonly clusterRatio: number;

  constructor(k: Kernel, type: FileSystemType, cfg: FsConfig, image: DiskImage, firstDataBlock: number, totalBlocks: number) {
    this.k = k;
    this.s_type = type;
    this.ops = type.ops;
    this.cfg = cfg;
    this.blockSize = cfg.blockSize;
    this.blkbits = Math.log2(cfg.blockSize);
    this.clusterRatio = type.allocUnit(cfg);
    this.image = image;
    this.s_bdi = k.disk.bdi;
    type.ops.replay?.(image, { first: firstDataBlock, total: totalBlocks });
    this.journal = new Journal(
      image,
      { flushDevice: () => this.k.disk.flush(), committed: () => this.releaseBusy() },
      !k.v.on('journal-no-preflush'),
    );
    this.alloc = new BlockAllocator(firstDataBlock, totalBlocks, image.free.clone());
    this.refcount = image.refcount.clone();
    let maxIno = 10;
    for (const [ino, d] of image.inodes) {
      maxIno = Math.max(maxIno, ino);
      const inode = new Inode(this, ino, d.kind, this.ops.aops, this.folioSizeFor(), d.extents.clone());
      inode.i_size = d.size;
      inode.disksize = d.size;
      for (const f of d.flags) inode.flags.add(f);
      inode.crypt = d.crypt;
      this.inodes.set(ino, inode);
    }
    for (const [p, ino] of image.names) this.names.set(p, ino);
    this.nextIno = maxIno + 1;
    this.ops.fill_super(this);
    for (const inode of this.inodes.values()) this.ops.inode_init?.(inode, undefined);
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
    // After the creation is logged: what the file system sets up (inherited flags) is logged after it.
    const slash = path.lastIndexOf('/');
    this.ops.inode_init?.(inode, slash < 0 ? undefined : this.lookup(path.slice(0, slash)));
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
    const got = this.allocRun({ goal, len, align: opts.align ?? 1, minLen: opts.minLen ?? 1, atEof: opts.atEof ?? false });
    if (got === null) return -ENOSPC;
    if (opts.fromReservation === true) this.alloc.unreserve(got.len);
    return this.mapAllocated(inode, lblk, got.len, type, got.pblk, got, opts.requiredAlign);
  }

  /**
   * One run of free blocks from the allocator; out of space with busy
   * blocks, the log is forced so that they become free, and the search
   * tried once more (xfs_extent_busy_flush, ext4_should_retry_alloc).
   */
  allocRun(req: AllocRequest): Allocation | null {
    let got = this.alloc.alloc(req, this.ops.alloc_search);
    if (got === null && this.hasBusy()) {
      this.journal.commit();
      got = this.alloc.alloc(req, this.ops.alloc_search);
    }
    return got;
  }

  /**
   * Map [lblk, lblk+n) to pblk.. as `type` in one transaction with the
   * free-space update of `run` (the blocks the allocator handed out; null
   * when they were allocated before, as part of a cluster).  `datasync`:
   * an fdatasync must commit the transaction (the inode's datasync tid
   * moves), as for any allocation unless the file system says otherwise.
   */
  mapAllocated(inode: Inode, lblk: number, n: number, type: ExtType, pblk: number, run: Allocation | null, requiredAlign: AlignedWrite | undefined, datasync = true): { pblk: number; len: number } {
    const ext: Extent = { type, pblk };
    inode.extents.set(lblk, lblk + n, ext);
    const ino = inode.ino;
    const freeStart = run?.pblk ?? 0;
    const freeEnd = run === null ? 0 : run.pblk + run.len;
    if (this.k.v.on('alloc-split-transactions') && run !== null) {
      // Variant: the free-space update and the extent insertion go in separate transactions.
      this.log(inode, (img) => img.free.remove(freeStart, freeEnd), datasync);
      this.journal.commit();
      this.log(inode, (img) => img.inode(ino).extents.set(lblk, lblk + n, ext), datasync);
    } else {
      this.log(inode, (img) => {
        if (freeEnd > freeStart) img.free.remove(freeStart, freeEnd);
        img.inode(ino).extents.set(lblk, lblk + n, ext);
      }, datasync);
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

  /** Free [pblk, pblk+n): busy until the running transaction commits. */
  freeBusy(pblk: number, n: number): void {
    // A freed block is healed: a drive remaps a bad sector when it is next
    // written, and an injected device error stays with the file it was aimed at.
    const bs = this.blockSize;
    this.k.disk.badRanges.remove(pblk * bs, (pblk + n) * bs);
    if (this.k.v.on('alloc-reuse-busy')) {
      this.alloc.release(pblk, n);
      return;
    }
    this.busy.push([pblk, n]);
  }

  /**
   * Blocks that lost an owner but not the last one in the running
   * transaction: shared on disk until it commits, whatever the in-core
   * reference count says now.
   */
  private unsharedUncommitted: Array<[number, number]> = [];

  /** The blocks of [pblk, pblk+n) that lost an owner, not the last, in a transaction that has not committed. */
  unsharedSinceCommit(pblk: number, n: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const [p, m] of this.unsharedUncommitted) if (p < pblk + n && pblk < p + m) out.push([Math.max(p, pblk), Math.min(p + m, pblk + n)]);
    return out;
  }

  /** The journal committed: busy blocks become free for reuse. */
  releaseBusy(): void {
    for (const [p, n] of this.busy) this.alloc.release(p, n);
    this.busy = [];
    this.unsharedUncommitted = [];
  }

  hasBusy(): boolean {
    return this.busy.length > 0;
  }

  busyBlocks(): ReadonlyArray<readonly [number, number]> {
    return this.busy;
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
   * runs freed, for the caller to apply the same change to the on-disk image.
   */
  dropOwner(inode: Inode, pblk: number, n: number): Array<[number, number]> {
    const freed = refcountDecrease(this.refcount, pblk, n);
    // The blocks still owned were shared: on disk they stay shared until the transaction commits.
    let at = pblk;
    for (const [a, b] of [...freed, [pblk + n, pblk + n] as [number, number]]) {
      if (a > at) this.unsharedUncommitted.push([at, a - at]);
      at = b;
    }
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
    let freed = 0;
    const keepMapping = why === 'truncate' && this.k.v.on('free-without-unmap');
    const ino = inode.ino;
    for (const e of inode.extents.overlapping(lblk, lblk + len)) {
      const n = e.end - e.start;
      if (e.v.type === 'delalloc') {
        this.unreserveDelalloc(inode, n);
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

  /** Give back `n` blocks a delayed allocation of `inode` reserved. */
  unreserveDelalloc(inode: Inode, n: number): void {
    inode.delayed = Math.max(0, inode.delayed - n);
    this.alloc.unreserve(n);
  }

  /**
   * Give file blocks [first, last) allocated blocks where they have none:
   * holes and delalloc become unwritten extents (the preallocation of
   * ext4_alloc_file_blocks and xfs_alloc_file_space), through the file
   * system's allocator `alloc` (which may allocate less than asked).
   * Existing written and unwritten blocks are untouched.
   */
  allocUnwrittenRange(inode: Inode, first: number, last: number, alloc: (lblk: number, len: number, fromReservation: boolean) => { pblk: number; len: number } | number): number {
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
      const got = alloc(lblk, end - lblk, fromRes);
      if (typeof got === 'number') return got;
      if (fromRes) inode.delayed = Math.max(0, inode.delayed - got.len);
      lblk += got.len;
    }
    return 0;
  }

  /**
   * Map physical blocks [pblk, pblk+n) into file blocks [lblk, lblk+n) of
   * `inode` as written, sharing them (one more owner each), after removing
   * what was mapped there (xfs_reflink_remap_extent, btrfs_clone: one
   * transaction).
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
}

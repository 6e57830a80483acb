/**
 * Metadata durability: the on-disk image of the file system's metadata and
 * the journal that carries changes to it.
 *
 * Every metadata change (an allocation, an extent conversion, an on-disk
 * size update, a directory entry) is applied to the in-core structures at
 * once and logged as a delta into the running transaction.  A commit (jbd2's
 * jbd2_journal_commit_transaction for ext4, a CIL push / log force for XFS)
 * first flushes the device's volatile cache — the commit record is written
 * with REQ_PREFLUSH | REQ_FUA — and then makes every logged delta durable, in
 * order.  A crash drops the deltas not yet committed; log recovery at the next
 * mount rebuilds the in-core state from the on-disk image.
 */
import { IntervalMap } from '../lib/interval-map.ts';
import type { ExtentMap } from './extent.ts';
import { newExtentMap } from './extent.ts';
import type { RefcountMap } from './refcount.ts';
import { newRefcountMap } from './refcount.ts';
import type { FscryptPolicy } from '../crypto/policy.ts';

export interface DiskInode {
  readonly ino: number;
  readonly kind: 'reg' | 'dir';
  /** On-disk size (ext4 i_disksize, XFS di_size). */
  size: number;
  /** Allocated extents (never delalloc). */
  extents: ExtentMap;
  /** Inode flags that survive a remount (reflink, encrypted, ...). */
  flags: Set<string>;
  /** The fscrypt policy of an encrypted inode, as set by encrypt_dir. */
  crypt: FscryptPolicy | null;
}

/** The durable metadata of one file system. */
export class DiskImage {
  readonly inodes = new Map<number, DiskInode>();
  /** Path (relative to the mount) -> inode number. */
  readonly names = new Map<string, number>();
  /** Durable free-space map (block numbers). */
  free: IntervalMap<true>;
  /** Per physical block: how many mappings share it, when more than one (XFS refcount btree, btrfs extent references). */
  readonly refcount: RefcountMap = newRefcountMap();
  /** Durable state only one file system has (XFS: the CoW staging records), owned by that file system. */
  s_priv: object | null = null;

  /** Blocks mkfs put in use past the first data block (FileSystemType.mkfsUsed): neither free nor a file's. */
  readonly metadata: ReadonlyArray<readonly [number, number]>;

  constructor(free: IntervalMap<true>, metadata: ReadonlyArray<readonly [number, number]> = []) {
    this.free = free;
    this.metadata = metadata;
  }

  inode(ino: number): DiskInode {
    const i = this.inodes.get(ino);
    if (i === undefined) throw new Error(`model bug: journal delta for unknown on-disk inode ${ino}`);
    return i;
  }

  createInode(ino: number, kind: 'reg' | 'dir'): DiskInode {
    const d: DiskInode = { ino, kind, size: 0, extents: newExtentMap(), flags: new Set(), crypt: null };
    this.inodes.set(ino, d);
    return d;
  }
}

export type Delta = (img: DiskImage) => void;

export interface JournalHooks {
  /** Make every completed write durable before the commit record (REQ_PREFLUSH). */
  flushDevice(): void;
  /** After a commit (busy extents become reusable). */
  committed(): void;
}

export class Journal {
  private running: Delta[] = [];
  /** The transaction id deltas are being logged into. */
  tid = 1;
  /** The last transaction id that is durable. */
  committedTid = 0;
  commits = 0;
  /**
   * Run before the commit record is written, for the file system: write out
   * the data the transaction orders (ext4 data=ordered, jbd2's
   * journal_submit_data_buffers).
   */
  readonly beforeCommit: Array<() => void> = [];
  /** Run once a commit is durable, for the file system (btrfs drops its log tree). */
  readonly afterCommit: Array<() => void> = [];

  constructor(
    readonly image: DiskImage,
    private readonly hooks: JournalHooks,
    /** Variant knob: commit without flushing the device cache first (like mounting with nobarrier). */
    private readonly preflush: boolean = true,
  ) {}

  /** Log a delta into the running transaction; returns its transaction id. */
  log(delta: Delta): number {
    this.running.push(delta);
    return this.tid;
  }

  hasRunning(): boolean {
    return this.running.length > 0;
  }

  /** Commit the running transaction (jbd2 commit / XFS log force). */
  commit(): void {
    if (this.running.length === 0) return;
    // Changes made while committing (by ordered-data writeback) belong to the next transaction.
    const batch = this.running;
    this.running = [];
    const committing = this.tid;
    this.tid += 1;
    for (const f of this.beforeCommit) f();
    if (this.preflush) this.hooks.flushDevice();
    for (const d of batch) d(this.image);
    this.committedTid = committing;
    this.commits += 1;
    this.hooks.committed();
    for (const f of this.afterCommit) f();
  }

  /** Commit if transaction `tid` is not durable yet (jbd2_complete_transaction / xfs_log_force_seq). */
  commitUpTo(tid: number): boolean {
    if (tid > this.committedTid && this.running.length > 0) {
      this.commit();
      return true;
    }
    return false;
  }

  /** Power cut: uncommitted deltas are lost. */
  crash(): number {
    const lost = this.running.length;
    this.running = [];
    this.tid = this.committedTid + 1;
    return lost;
  }
}

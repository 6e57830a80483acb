/**
 * fs/btrfs/fs.h and disk-io.c: btrfs's private part of the super block
 * (struct btrfs_fs_info) and of the on-disk image, as far as the model
 * needs them: the data checksums (csum tree), inline extents, the
 * boundaries of disk extents (extent tree), and the log tree that fsync
 * writes and the next mount replays.
 */
import type { SuperBlock } from '../fs/super.ts';
import type { DiskImage, DiskInode } from '../fs/journal.ts';
import type { Span } from '../lib/content.ts';
import { IntervalMap } from '../lib/interval-map.ts';
import type { ExtentMap } from '../fs/extent.ts';

/** BTRFS_DEFAULT_MAX_INLINE */
export const BTRFS_DEFAULT_MAX_INLINE = 2048;

/** Disk extent boundaries: each block of an allocated disk extent maps to the extent's first block. */
export function newDiskExtents(): IntervalMap<number> {
  return new IntervalMap<number>((v) => v, (a, b) => (a.v === b.v ? a.v : null));
}

/** An inode as the log tree holds it: what btrfs_log_inode wrote at the last fsync since the last commit. */
export interface LoggedInode {
  readonly inode: DiskInode;
  readonly inline: Span[] | null;
}

/** The log tree (durable once btrfs_sync_log returned): replayed over the last committed transaction at mount. */
export interface LogTree {
  readonly inodes: Map<number, LoggedInode>;
  /** Directory entries logged with the inodes (the new file's, and its new parents'). */
  readonly names: Map<string, number>;
  /** Data checksums of the logged extents. */
  readonly csums: Map<number, Span[]>;
  /**
   * Disk extent boundaries of the logged extents: a copy of the in-core
   * ones at the last log sync (a superset; replay drops the boundaries of
   * blocks nothing references).
   */
  extents: IntervalMap<number>;
}

/** What btrfs keeps on disk beyond the generic image (the csum tree, inline items, the extent tree's boundaries, the log). */
export class BtrfsDisk {
  readonly csums = new Map<number, Span[]>();
  readonly inline = new Map<number, Span[]>();
  readonly extents = newDiskExtents();
  log: LogTree | null = null;
  /**
   * A clone ever made a second reference to a disk extent (a hint, never
   * cleared: without one, every disk extent has exactly one reference and
   * the backref walk of backref.ts can be skipped).
   */
  reflinked = false;
}

/** The btrfs part of an image. */
export function btrfs_disk(image: DiskImage): BtrfsDisk {
  const p = image.s_priv;
  if (p instanceof BtrfsDisk) return p;
  const d = new BtrfsDisk();
  image.s_priv = d;
  return d;
}

/** struct btrfs_fs_info */
export class BtrfsFsInfo {
  /** max_inline (mount option, default 2048, at most the sector size). */
  maxInline = BTRFS_DEFAULT_MAX_INLINE;
  /** In-core data checksums of the blocks written (physical block -> the bytes checksummed). */
  readonly csums = new Map<number, Span[]>();
  /** In-core disk extent boundaries, extents being written included. */
  readonly extents = newDiskExtents();
}

/** btrfs_sb(sb) */
export function btrfs_sb(sb: SuperBlock): BtrfsFsInfo {
  const i = sb.s_fs_info;
  if (i instanceof BtrfsFsInfo) return i;
  throw new Error('model bug: btrfs_sb on a super block btrfs did not fill');
}

/** Every block of an extent map that has a disk block, as [start, end) physical runs. */
export function physicalRuns(m: ExtentMap): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const e of m.entries()) if (e.v.pblk >= 0) out.push([e.v.pblk, e.v.pblk + (e.end - e.start)]);
  return out;
}

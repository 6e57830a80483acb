/**
 * fs/btrfs/tree-log.c: the log tree.  fsync writes the inode — its
 * extents, size, flags, inline data, the checksums of its blocks and, for
 * a file or directory created since the last commit, its name and its new
 * parents — into the log (btrfs_log_inode), and btrfs_sync_log makes it
 * durable with the superblock.  A commit makes the log obsolete.  The
 * next mount replays it over the last committed transaction
 * (btrfs_recover_log_trees), and the extent tree then accounts for every
 * block the replayed inodes reference.
 */
import type { Inode } from '../fs/inode.ts';
import type { DiskImage, DiskInode } from '../fs/journal.ts';
import { IntervalMap } from '../lib/interval-map.ts';
import { BTRFS_I } from './btrfs_inode.ts';
import type { LogTree } from './fs.ts';
import { btrfs_disk, btrfs_sb, newDiskExtents } from './fs.ts';

function snapshot(inode: Inode): DiskInode {
  const extents = inode.extents.clone();
  for (const e of extents.entries()) if (e.v.pblk < 0) extents.remove(e.start, e.end);
  return { ino: inode.ino, kind: inode.kind, size: inode.i_size, extents, flags: new Set(inode.flags), crypt: null };
}

/** btrfs_log_inode (with btrfs_log_dentry_safe's new parents), made durable by btrfs_sync_log. */
export function btrfs_log_inode(inode: Inode): void {
  const sb = inode.sb;
  const disk = btrfs_disk(sb.image);
  const info = btrfs_sb(sb);
  const log: LogTree = disk.log ?? { inodes: new Map(), names: new Map(), csums: new Map(), extents: newDiskExtents() };
  const logOne = (i: Inode): void => {
    log.inodes.set(i.ino, { inode: snapshot(i), inline: BTRFS_I(i).inline });
    for (const e of i.extents.entries()) {
      if (e.v.pblk < 0) continue;
      for (let p = e.v.pblk; p < e.v.pblk + (e.end - e.start); p++) {
        const c = info.csums.get(p);
        if (c !== undefined) log.csums.set(p, c);
      }
    }
  };
  logOne(inode);
  // The in-core boundaries now, and those logged before for blocks that have since been freed in core.
  const bounds = info.extents.clone();
  for (const e of log.extents.entries()) if (!bounds.intersects(e.start, e.end)) bounds.set(e.start, e.end, e.v);
  log.extents = bounds;
  for (const [path, ino] of sb.names) {
    if (ino !== inode.ino || sb.image.names.get(path) === ino) continue;
    log.names.set(path, ino);
    // A new parent directory is logged with it.
    for (let p = path.lastIndexOf('/'); p > 0; p = path.lastIndexOf('/', p - 1)) {
      const dir = path.slice(0, p);
      const d = sb.lookup(dir);
      if (d === undefined || sb.image.names.get(dir) === d.ino) break;
      log.names.set(dir, d.ino);
      if (!log.inodes.has(d.ino)) logOne(d);
    }
  }
  disk.log = log;
}

/** The log tree is obsolete once a transaction committed. */
export function btrfs_free_log(image: DiskImage): void {
  btrfs_disk(image).log = null;
}

/**
 * btrfs_recover_log_trees: every logged inode replaces its committed
 * version, its names are added; then the extent tree's view follows the
 * files: a block is in use exactly when some file references it (shared
 * when several do), everything else in the data area is free.
 */
export function btrfs_recover_log_trees(image: DiskImage, data: { readonly first: number; readonly total: number }): void {
  const disk = btrfs_disk(image);
  const log = disk.log;
  if (log === null) return;
  for (const [ino, li] of log.inodes) {
    image.inodes.set(ino, { ...li.inode, extents: li.inode.extents.clone(), flags: new Set(li.inode.flags) });
    if (li.inline === null) disk.inline.delete(ino);
    else disk.inline.set(ino, li.inline);
  }
  for (const [p, ino] of log.names) image.names.set(p, ino);
  for (const [p, c] of log.csums) disk.csums.set(p, c);
  for (const e of log.extents.entries()) disk.extents.set(e.start, e.end, e.v);
  // References per block, over every file.
  const ev: Array<[number, number]> = [];
  for (const d of image.inodes.values()) for (const e of d.extents.entries()) if (e.v.pblk >= 0) ev.push([e.v.pblk, 1], [e.v.pblk + (e.end - e.start), -1]);
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const free = new IntervalMap<true>((v) => v, () => true);
  free.set(data.first, data.total, true);
  image.refcount.clear();
  let refs = 0;
  for (let i = 0; i < ev.length; ) {
    const at = ev[i]![0];
    for (; i < ev.length && ev[i]![0] === at; i++) refs += ev[i]![1];
    const next = i < ev.length ? ev[i]![0] : at;
    if (refs > 0 && next > at) {
      free.remove(at, next);
      if (refs > 1) image.refcount.set(at, next, refs);
    }
  }
  image.free = free;
  for (const e of free.entries()) disk.extents.remove(e.start, e.end);
  for (const p of [...disk.csums.keys()]) if (free.find(p) !== undefined) disk.csums.delete(p);
  disk.log = null;
}

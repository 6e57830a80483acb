/**
 * fs/btrfs/backref.c and extent-tree.c: who references a disk extent.  A
 * reference is a file extent item's (inode, offset the disk extent would
 * start at in the file) — the key of an EXTENT_DATA_REF — so the pieces of
 * one extent a partial overwrite left in the same file are one reference,
 * while a clone inside the file adds another.  Sharing is per disk extent,
 * not per block: every block of an extent that has a second reference is
 * shared, for FIEMAP and for NOCOW writes alike.
 */
import type { Inode } from '../fs/inode.ts';
import { refcountRuns } from '../fs/refcount.ts';
import { btrfs_disk, btrfs_sb } from './fs.ts';

/** BTRFS_MAX_EXTENT_SIZE (128 MiB) in 4 KiB blocks: how far from its start an extent's blocks can be. */
const BTRFS_MAX_EXTENT_BLOCKS = 32768;

/**
 * btrfs_is_data_extent_shared: does another reference than (ino, base)
 * point into the disk extent that starts at `start`?
 */
export function btrfs_is_data_extent_shared(inode: Inode, start: number, ino: number, base: number): boolean {
  // Only a clone makes a second reference (BtrfsDisk.reflinked).
  if (!btrfs_disk(inode.sb.image).reflinked) return false;
  const info = btrfs_sb(inode.sb);
  // The blocks of the extent still in use need not be contiguous: the model frees the blocks a
  // partial overwrite drops at once (btrfs keeps the whole extent), and may reuse them.
  const blocks = info.extents.overlapping(start, start + BTRFS_MAX_EXTENT_BLOCKS).filter((x) => x.v === start);
  let total = 0;
  for (const x of blocks) {
    total += x.end - x.start;
    // Two file extent items on one block: two references.
    if (refcountRuns(inode.sb.refcount, x.start, x.end - x.start).some((r) => r[2] > 1)) return true;
  }
  // Otherwise every block has one owner: the extent is shared unless (ino, base) owns them all.
  let mine = 0;
  if (inode.ino === ino) {
    for (const e of inode.extents.entries()) {
      const p0 = e.v.pblk;
      if (p0 < 0 || e.start - (p0 - start) !== base) continue;
      const p1 = p0 + (e.end - e.start);
      for (const x of blocks) mine += Math.max(0, Math.min(p1, x.end) - Math.max(p0, x.start));
    }
  }
  return mine < total;
}

/**
 * btrfs_cross_ref_exist (can_nocow_extent's check): is the disk extent
 * behind file block `lblk`, mapped at `pblk`, referenced by anything but
 * this file extent item — now, or in the last committed transaction
 * (check_committed_ref reads the commit root: a reference dropped since
 * still counts, so a crash cannot bring it back over data written in
 * place)?  Also how many blocks from `pblk` stay in that disk extent (the
 * run the answer holds for).
 */
export function btrfs_cross_ref_exist(inode: Inode, lblk: number, pblk: number): { shared: boolean; n: number } {
  const d = btrfs_sb(inode.sb).extents.find(pblk);
  const start = d?.v ?? pblk;
  const n = d === undefined ? 1 : d.end - pblk;
  const committed = d !== undefined && inode.sb.unsharedSinceCommit(d.start, d.end - d.start).length > 0;
  return { shared: committed || btrfs_is_data_extent_shared(inode, start, inode.ino, lblk - (pblk - start)), n };
}

/**
 * fs/xfs/xfs_inode.h: XFS's private part of the inode (struct xfs_inode)
 * as far as the model needs it, and XFS_I().
 */
import type { Inode } from '../fs/inode.ts';
import type { ExtentMap } from '../fs/extent.ts';
import { newExtentMap } from '../fs/extent.ts';

/** struct xfs_inode */
export class XfsInode {
  /** i_cowfp: the COW fork, created on first use; in-core only (CoW staging blocks are recorded in the refcount btree). */
  i_cowfp: ExtentMap | null = null;
  /** XFS_ITRUNCATED: truncated down since the last close or fsync (xfs_file_release flushes delalloc then). */
  itruncated = false;
  /** XFS_EOFBLOCKS_RELEASED: post-EOF blocks were trimmed at a close already. */
  eofblocksReleased = false;
}

/** XFS_I(inode): created with the inode (xfs_fs_alloc_inode). */
export function XFS_I(inode: Inode): XfsInode {
  const p = inode.i_private;
  if (p instanceof XfsInode) return p;
  const ip = new XfsInode();
  inode.i_private = ip;
  return ip;
}

/** The COW fork of `inode`, created on first use (xfs_ifork_init_cow). */
export function xfs_ifork_init_cow(inode: Inode): ExtentMap {
  const ip = XFS_I(inode);
  if (ip.i_cowfp === null) ip.i_cowfp = newExtentMap();
  return ip.i_cowfp;
}

/** The COW fork, if the inode has one. */
export function xfs_cow_fork(inode: Inode): ExtentMap | null {
  return XFS_I(inode).i_cowfp;
}

/** xfs_inode_has_cow_data: has the COW fork any extent? */
export function xfs_inode_has_cow_data(inode: Inode): boolean {
  const cow = xfs_cow_fork(inode);
  return cow !== null && !cow.isEmpty();
}

/** Blocks in the COW fork, reservations and staging alike (counted in i_delayed_blks). */
export function xfs_cow_blocks(inode: Inode): number {
  const cow = xfs_cow_fork(inode);
  let n = 0;
  if (cow !== null) for (const e of cow.entries()) n += e.end - e.start;
  return n;
}

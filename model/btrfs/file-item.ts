/**
 * fs/btrfs/file-item.c (and the checks of bio.c / inode.c that use it):
 * data checksums.  A checksum is computed over the bytes a write bio sends
 * (btrfs_csum_one_bio), stored per sector in the csum tree with the file
 * extent item, and checked when the sector is read back
 * (btrfs_data_csum_ok).  With symbolic data the model's checksum is exact:
 * it is the bytes it was computed over.
 */
import type { Inode } from '../fs/inode.ts';
import type { Span } from '../lib/content.ts';
import { dataEqual } from '../lib/content.ts';
import { btrfs_has_csums } from './btrfs_inode.ts';
import { btrfs_sb } from './fs.ts';

/** btrfs_data_csum_ok: does block `pblk` read back as what its checksum was computed over?  (No checksum: nothing to check.) */
export function btrfs_data_csum_ok(inode: Inode, pblk: number, data: readonly Span[]): boolean {
  if (!btrfs_has_csums(inode)) return true;
  const c = btrfs_sb(inode.sb).csums.get(pblk);
  return c === undefined || dataEqual(c, data);
}

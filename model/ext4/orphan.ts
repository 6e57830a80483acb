/**
 * fs/ext4/orphan.c: the orphan list.  An inode whose blocks past i_disksize
 * must not survive a crash (an extending direct write allocates them before
 * the size moves) is on the list while the write runs; log recovery
 * truncates every inode still on it to its on-disk size.
 */
import type { Inode } from '../fs/inode.ts';
import type { SuperBlock } from '../fs/super.ts';
import { ext4_truncate } from './inode.ts';
import { EXT4_I } from './ext4.ts';

/** The on-disk inode flag that stands for membership of the on-disk orphan list. */
const ORPHAN = 'orphan';

/** ext4_orphan_add: on the list, in the running transaction. */
export function ext4_orphan_add(inode: Inode): void {
  const ei = EXT4_I(inode);
  if (ei.orphan) return;
  ei.orphan = true;
  const ino = inode.ino;
  inode.sb.log(inode, (img) => img.inode(ino).flags.add(ORPHAN), false);
}

/** ext4_orphan_del: off the list (with the size update that made it safe). */
export function ext4_orphan_del(inode: Inode): void {
  const ei = EXT4_I(inode);
  if (!ei.orphan) return;
  ei.orphan = false;
  const ino = inode.ino;
  inode.sb.log(inode, (img) => img.inode(ino).flags.delete(ORPHAN), false);
}

/**
 * ext4_orphan_cleanup (at mount, after journal replay): every inode still
 * on the list is truncated to its size, freeing what lies past it, and
 * taken off; the changes commit before the mount returns.
 */
export function ext4_orphan_cleanup(sb: SuperBlock): void {
  let any = false;
  for (const inode of sb.inodes.values()) {
    if (!inode.flags.has(ORPHAN)) continue;
    inode.flags.delete(ORPHAN);
    EXT4_I(inode).orphan = true;
    ext4_truncate(inode);
    ext4_orphan_del(inode);
    any = true;
  }
  if (any) sb.journal.commit();
}

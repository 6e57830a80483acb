/**
 * fs/btrfs/ioctl.c: btrfs_fileattr_set for FS_IOC_SETFLAGS, as far as the
 * model's flags go (FS_NOCOW_FL).  On a regular file NOCOW is set (with
 * NODATASUM) or cleared only while the file is empty; on a non-empty file
 * the request is ignored and still succeeds.  A directory keeps the flag
 * for the files created in it later (btrfs_inherit_iflags).
 */
import type { Inode } from '../fs/inode.ts';
import { EIO, EOPNOTSUPP } from '../lib/errno.ts';
import type { File } from '../vfs/file.ts';
import { FS_NOCOW_FL } from '../vfs/fcntl.ts';
import { btrfs_has_csums } from './btrfs_inode.ts';

/** btrfs_update_inode_mapping_flags: files with checksums have stable pages; NODATASUM files do not, whatever the device. */
export function btrfs_update_inode_mapping_flags(inode: Inode): void {
  inode.mapping.stableWrites = btrfs_has_csums(inode);
}

export function btrfs_fileattr_set(file: File, flags: number): number {
  const inode = file.inode;
  const sb = inode.sb;
  if (sb.shutdown) return -EIO;
  if ((flags & ~FS_NOCOW_FL) !== 0) return -EOPNOTSUPP;
  const nocow = (flags & FS_NOCOW_FL) !== 0;
  if (inode.kind === 'dir') {
    if (nocow) sb.setInodeFlag(inode, 'nodatacow');
    else sb.clearInodeFlag(inode, 'nodatacow');
    return 0;
  }
  // "Empty" is i_size 0: on any other file the flag is silently left as it is.
  if (inode.i_size !== 0) return 0;
  if (nocow) {
    sb.setInodeFlag(inode, 'nodatacow');
    sb.setInodeFlag(inode, 'nodatasum');
  } else {
    sb.clearInodeFlag(inode, 'nodatacow');
    sb.clearInodeFlag(inode, 'nodatasum');
  }
  btrfs_update_inode_mapping_flags(inode);
  return 0;
}

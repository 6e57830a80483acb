/**
 * fs/ext4/ext4.h: ext4's private parts of the super block (struct
 * ext4_sb_info) and of the inode (struct ext4_inode_info), as far as the
 * model needs them, and their accessors EXT4_SB() and EXT4_I().
 */
import type { Inode } from '../fs/inode.ts';
import type { SuperBlock } from '../fs/super.ts';

/** struct ext4_sb_info */
export class Ext4SbInfo {
  /** s_awu_min / s_awu_max: the atomic write unit limits (ext4_atomic_write_init). */
  awu_min = 0;
  awu_max = 0;
  /** The locality group's current preallocation (its first block) and its next free block (mballoc). */
  lgStart: number | null = null;
  lgCursor: number | null = null;
  /**
   * data=ordered: byte ranges zeroed through the page cache in the running
   * transaction (ext4_jbd2_inode_add_write), written out before it commits.
   */
  ordered: Array<{ readonly inode: Inode; readonly start: number; readonly end: number }> = [];
}

/** struct ext4_inode_info */
export class Ext4InodeInfo {
  /** EXT4_STATE_DA_ALLOC_CLOSE: truncated to 0, its delayed blocks are allocated at close (auto_da_alloc). */
  daAllocClose = false;
  /** On the orphan list (i_orphan). */
  orphan = false;
}

/** EXT4_SB(sb) */
export function EXT4_SB(sb: SuperBlock): Ext4SbInfo {
  const i = sb.s_fs_info;
  if (i instanceof Ext4SbInfo) return i;
  throw new Error('model bug: EXT4_SB on a super block ext4 did not fill');
}

/** EXT4_I(inode): created with the inode (ext4_alloc_inode). */
export function EXT4_I(inode: Inode): Ext4InodeInfo {
  const p = inode.i_private;
  if (p instanceof Ext4InodeInfo) return p;
  const ei = new Ext4InodeInfo();
  inode.i_private = ei;
  return ei;
}

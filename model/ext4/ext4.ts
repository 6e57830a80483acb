/**
 * fs/ext4/ext4.h: ext4's private parts of the super block (struct
 * ext4_sb_info) and of the inode (struct ext4_inode_info), as far as the
 * model needs them, and their accessors EXT4_SB() and EXT4_I().
 */
import type { Inode } from '../fs/inode.ts';
import type { SuperBlock } from '../fs/super.ts';
import type { Ext4MbState, Ext4PreallocSpace, Geometry } from './mballoc.ts';

/** struct ext4_sb_info */
export class Ext4SbInfo {
  /** s_awu_min / s_awu_max: the atomic write unit limits (ext4_atomic_write_init). */
  awu_min = 0;
  awu_max = 0;
  /** mballoc: the preallocations, the locality group, the last stream allocation (model/ext4/mballoc.ts). */
  mb: Ext4MbState | null = null;
  /** The block groups mballoc scans. */
  mbGeometry: Geometry | null = null;
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
  /** The file's preallocations by logical start (i_prealloc_node, an rb-tree in the kernel). */
  readonly prealloc: Ext4PreallocSpace[] = [];
  /** Open files that may write it (i_writecount, counted from ext4_file_open to the last close). */
  writers = 0;
  /**
   * i_reserved_data_blocks with bigalloc, in clusters (without bigalloc the
   * model counts the reservation in Inode.delayed): what this file's delayed
   * blocks hold of s_dirtyclusters_counter.
   */
  reservedClusters = 0;
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

/**
 * fs/btrfs/btrfs_inode.h: btrfs's private part of the inode (struct
 * btrfs_inode) as far as the model needs it, and BTRFS_I().
 *
 * The inode flags that survive a remount (BTRFS_INODE_NODATACOW,
 * NODATASUM, PREALLOC) are the generic inode flags 'nodatacow',
 * 'nodatasum' and 'prealloc'.
 */
import type { Inode } from '../fs/inode.ts';
import type { ExtentMap } from '../fs/extent.ts';
import { newExtentMap } from '../fs/extent.ts';
import type { Span } from '../lib/content.ts';

/** struct btrfs_inode */
export class BtrfsInode {
  /**
   * The io tree's EXTENT_DELALLOC ranges (file blocks): dirty data that no
   * extent has been chosen for yet; writeback (run_delalloc_range) picks
   * new or existing (NOCOW) blocks for them.
   */
  readonly delalloc: ExtentMap = newExtentMap();
  /**
   * Ordered extents of type REGULAR in flight: the new disk blocks a write
   * goes to, inserted into the file (btrfs_finish_one_ordered) only when the
   * I/O completed.  Until then the file's extent map is the old one.
   */
  readonly ordered: ExtentMap = newExtentMap();
  /**
   * Ordered extents of type NOCOW or PREALLOC in flight (writeback written
   * in place, nocow_one_range): nothing to insert at completion, but a
   * write over them waits for it like over any ordered extent.
   */
  readonly nocowOrdered: ExtentMap = newExtentMap();
  /** File blocks of ordered extents marked BTRFS_ORDERED_IOERR whose other bios are still in flight: nothing of them is inserted. */
  readonly orderedIoerr = new Set<number>();
  /** Data checksums computed at submission for blocks in flight (physical block -> the bytes checksummed), added at completion. */
  readonly pendingCsums = new Map<number, Span[]>();
  /** The inline extent's bytes (file offset 0, at most max_inline), or null. */
  inline: Span[] | null = null;
  /** BTRFS_INODE_FLUSH_ON_CLOSE: truncated to 0, writeback starts at the next close. */
  flushOnClose = false;
}

/** BTRFS_I(inode): created with the inode (btrfs_alloc_inode). */
export function BTRFS_I(inode: Inode): BtrfsInode {
  const p = inode.i_private;
  if (p instanceof BtrfsInode) return p;
  const bi = new BtrfsInode();
  inode.i_private = bi;
  return bi;
}

/** The file is written in place where it can be (BTRFS_INODE_NODATACOW). */
export function btrfs_is_nodatacow(inode: Inode): boolean {
  return inode.flags.has('nodatacow');
}

/** The file has data checksums (no BTRFS_INODE_NODATASUM). */
export function btrfs_has_csums(inode: Inode): boolean {
  return !inode.flags.has('nodatasum');
}

/** Writeback goes through run_delalloc_nocow (NODATACOW or PREALLOC). */
export function btrfs_should_nocow(inode: Inode): boolean {
  return inode.flags.has('nodatacow') || inode.flags.has('prealloc');
}

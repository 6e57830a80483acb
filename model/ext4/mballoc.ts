/**
 * fs/ext4/mballoc.c, the parts the model needs: where an allocation starts
 * (the goal from ext4_ext_find_goal in fs/ext4/extents.c, the locality
 * group's preallocation for small files), and the aligned allocation of
 * the RFC in seed 004 (EXT4_MB_HINT_ALIGNED), a design variant.
 *
 * Free space is the BlockAllocator's map of free extents; a power-of-two,
 * naturally aligned request is what the buddy bitmap of its order serves
 * (ext4_mb_simple_scan_group: the first free buddy of that order in a
 * group): the first free naturally aligned chunk, searched from the goal.
 */
import type { Inode } from '../fs/inode.ts';
import type { ExtType } from '../fs/extent.ts';
import { adjacentGoal } from '../fs/alloc.ts';
import { ENOSPC } from '../lib/errno.ts';
import { roundDown } from '../lib/math.ts';
import { EXT4_SB } from './ext4.ts';

/**
 * Goal block for an allocation at file block `lblk` (ext4_ext_find_goal):
 * the extent nearest to it in the tree, shifted by the distance (forwards
 * from one before, backwards from one after); with no extent,
 * ext4_inode_to_goal_block (the flex group after the inode's: group 1 on a
 * fresh file system).
 */
export function ext4_ext_find_goal(inode: Inode, lblk: number): number {
  return adjacentGoal(inode.extents, lblk, inode.sb.alloc.firstDataBlock) ?? Math.max(inode.sb.alloc.firstDataBlock, Math.floor(inode.sb.alloc.totalBlocks / 16));
}

/** s_mb_stream_request: allocations for files up to this many blocks use the locality group. */
const MB_STREAM_REQ = 16;
/** s_mb_group_prealloc: the size of a locality-group preallocation, buddy-aligned. */
const MB_GROUP_PREALLOC = 512;

/**
 * The goal mballoc really starts from (ext4_mb_group_or_file,
 * ext4_mb_use_preallocated): a small file (its size and this allocation's
 * end within s_mb_stream_request blocks) is served from the per-CPU
 * locality-group preallocation, one allocation after another whatever the
 * file and offset; larger files start from ext4_ext_find_goal, except that
 * the rest of the locality group's preallocation is in use (its blocks are
 * marked in the bitmap), so a goal inside it moves past it: a file that
 * outgrows the locality group does not continue contiguously from there.
 */
export function ext4_mb_goal(inode: Inode, lblk: number, len: number): number {
  const size = Math.max(lblk + len, Math.ceil(inode.i_size / inode.blockSize));
  const sbi = EXT4_SB(inode.sb);
  if (size > MB_STREAM_REQ) {
    const goal = ext4_ext_find_goal(inode, lblk);
    const lgStart = sbi.lgStart;
    if (lgStart !== null && goal >= lgStart && goal < lgStart + MB_GROUP_PREALLOC) return lgStart + MB_GROUP_PREALLOC;
    return goal;
  }
  return sbi.lgCursor ?? Math.max(inode.sb.alloc.firstDataBlock, Math.floor(inode.sb.alloc.totalBlocks / 16));
}

/** After an allocation from the locality group, the next one follows it (in a new preallocation once this one is used up). */
export function ext4_mb_allocated(inode: Inode, lblk: number, pblk: number, len: number): void {
  const size = Math.max(lblk + len, Math.ceil(inode.i_size / inode.blockSize));
  if (size > MB_STREAM_REQ) return;
  const sbi = EXT4_SB(inode.sb);
  const end = pblk + len;
  const lgStart = sbi.lgStart;
  if (lgStart === null || pblk < lgStart || end > lgStart + MB_GROUP_PREALLOC) sbi.lgStart = roundDown(pblk, MB_GROUP_PREALLOC);
  sbi.lgCursor = end;
}

/**
 * The RFC's aligned allocation for an atomic write (seed 004: "ext4: add
 * aligned allocation support in mballoc", "ext4: Add aligned allocation
 * support for atomic direct io"): `len` blocks (a power of two) whose first
 * physical block is a multiple of `len`, or ENOSPC — never a shorter or
 * misaligned extent.  First the goal rounded down to the alignment
 * (ext4_mb_find_by_goal), then the buddy of order log2(len) from there on.
 * The allocation is made for a write that requires the alignment, which the
 * alloc event records (alloc/aligned-when-required checks it).
 *
 * Variants: ext4-rfc-mballoc-unaligned drops the hint (an ordinary
 * goal-directed search that may return any start, like mballoc before the
 * RFC); ext4-rfc-prealloc-unaligned serves the request from the locality
 * group's preallocation first, at its next free block, without checking
 * that block's alignment (the RFC's TODO on preallocation and normalized
 * requests).
 */
export function ext4_mb_new_blocks_aligned(inode: Inode, lblk: number, len: number, type: ExtType): { pblk: number; len: number } | number {
  const sb = inode.sb;
  const v = sb.k.v;
  const goal = ext4_mb_goal(inode, lblk, len);
  const opts = { minLen: len, requiredAlign: { lblk, len } };
  let got: { pblk: number; len: number } | number = -ENOSPC;
  const cursor = EXT4_SB(sb).lgCursor;
  if (v.on('ext4-rfc-prealloc-unaligned') && cursor !== null && sb.alloc.isFree(cursor, len)) {
    // ext4_mb_use_preallocated: the locality group's next blocks, as they are.
    got = sb.allocBlocks(inode, lblk, len, type, cursor, opts);
  } else if (v.on('ext4-rfc-mballoc-unaligned')) {
    got = sb.allocBlocks(inode, lblk, len, type, goal, opts);
  } else {
    got = sb.allocBlocks(inode, lblk, len, type, roundDown(goal, len), { ...opts, align: len });
  }
  if (typeof got === 'number') return got;
  ext4_mb_allocated(inode, lblk, got.pblk, got.len);
  return got;
}

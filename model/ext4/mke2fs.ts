/**
 * What mkfs.ext4 (e2fsprogs 1.47, misc/mke2fs.c and lib/ext2fs/
 * initialize.c, alloc_tables.c, mkjournal.c) leaves in use on a fresh
 * file system, so that the allocator starts from the same free space as
 * the kernel does: the block groups, the superblock backups with their
 * descriptor and reserved descriptor blocks (sparse_super, resize_inode),
 * the flex_bg packed bitmaps and inode tables, the root directory, lost+found
 * and the resize inode's block, and the journal.  Checked against dumpe2fs
 * on this machine's e2fsprogs (test/unit/mke2fs.test.ts).  The defaults are
 * the ones ext4 gets from /etc/mke2fs.conf: 256-byte inodes, 64-bit group
 * descriptors, flex_bg of 16 groups, an inode per 16 KiB (4 KiB below
 * 512 MiB, the "small" type).
 */
import { IntervalMap } from '../lib/interval-map.ts';
import { roundUp } from '../lib/math.ts';

/** EXT4_FLEX_SIZE: groups per flex group (mke2fs -G default). */
const FLEX_BG_SIZE = 16;
const INODE_SIZE = 256;
const DESC_SIZE = 64;

export interface Ext4Layout {
  /** s_first_data_block: 1 with 1 KiB blocks (no bigalloc), else 0. */
  readonly firstDataBlock: number;
  /** EXT4_BLOCKS_PER_GROUP (8 * block size clusters). */
  readonly blocksPerGroup: number;
  readonly ngroups: number;
  readonly totalBlocks: number;
  /** Runs of blocks mkfs left in use: metadata, the root directory, lost+found, the journal. */
  readonly used: ReadonlyArray<readonly [number, number]>;
  /**
   * Groups mkfs marks EXT4_BG_BLOCK_UNINIT: neither the first nor the last,
   * holding nothing but a superblock backup (no flex_bg tables, no journal).
   */
  readonly blockUninit: readonly boolean[];
}

/** ext2fs_bg_has_super with sparse_super: groups 0, 1 and the powers of 3, 5 and 7. */
export function ext2fs_bg_has_super(group: number): boolean {
  if (group <= 1) return true;
  for (const p of [3, 5, 7]) {
    let x = p;
    while (x < group) x *= p;
    if (x === group) return true;
  }
  return false;
}

/** ext2fs_default_journal_size: journal blocks for a file system of `blocks` blocks. */
function ext2fs_default_journal_size(blocks: number): number {
  if (blocks < 2048) return 0;
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  if (blocks < 4096 * 1024) return 16384;
  if (blocks < 8192 * 1024) return 32768;
  if (blocks < 16384 * 1024) return 65536;
  if (blocks < 32768 * 1024) return 131072;
  return 262144;
}

/** Layouts computed so far: every mount of a geometry asks again (they are read-only). */
const LAYOUTS = new Map<string, Ext4Layout>();

/**
 * The layout of a fresh ext4 of `totalBlocks` blocks (already a whole
 * number of clusters) with block size `bs` and `ratio` blocks per cluster.
 */
export function mke2fs_layout(totalBlocks: number, bs: number, ratio: number): Ext4Layout {
  const key = `${totalBlocks}:${bs}:${ratio}`;
  let l = LAYOUTS.get(key);
  if (l === undefined) LAYOUTS.set(key, (l = compute_layout(totalBlocks, bs, ratio)));
  return l;
}

/** ext2fs_initialize, ext2fs_allocate_tables, create_root_dir/create_lost_and_found, ext2fs_create_resize_inode, ext2fs_add_journal_inode, in that order. */
function compute_layout(totalBlocks: number, bs: number, ratio: number): Ext4Layout {
  const first = bs === 1024 && ratio === 1 ? 1 : 0;
  const bpg = 8 * bs * ratio;
  const ngroups = Math.max(1, Math.ceil((totalBlocks - first) / bpg));
  const bytes = totalBlocks * bs;
  // /etc/mke2fs.conf: "small" below 512 MiB has an inode per 4 KiB, "default" one per 16 KiB.
  // With bigalloc, at most one inode per cluster.
  const inodeRatio = Math.max(bs * ratio, bytes < 512 * 1024 * 1024 ? 4096 : 16384);
  const ipb = bs / INODE_SIZE;
  let ipg = Math.ceil(Math.floor(bytes / inodeRatio) / ngroups);
  ipg = Math.min(roundUp(roundUp(ipg, ipb), 8), 8 * bs);
  const itb = (ipg * INODE_SIZE) / bs;
  const gdpb = bs / DESC_SIZE;
  const descBlocks = Math.ceil(ngroups / gdpb);
  // calc_reserved_gdt_blocks: room to grow to 1024 times the size (at most 2^32 blocks).
  const maxBlocks = Math.min(2 ** 32 - 1, totalBlocks * 1024);
  const rsvGdt = Math.min(Math.ceil(Math.ceil((maxBlocks - first) / bpg) / gdpb) - descBlocks, bs / 4);
  // Everything is allocated in clusters: a cluster is used as a whole.
  const used = new IntervalMap<true>((v) => v, () => true);
  const take = (a: number, b: number) => used.set(Math.floor(a / ratio) * ratio, Math.ceil(b / ratio) * ratio, true);
  const groupStart = (g: number) => first + g * bpg;
  const superEnd = (g: number) => groupStart(g) + (ext2fs_bg_has_super(g) ? 1 + descBlocks + Math.max(0, rsvGdt) : 0);
  for (let g = 0; g < ngroups; g++) if (ext2fs_bg_has_super(g)) take(groupStart(g), superEnd(g));
  // flex_bg: each flex group's block bitmaps, then inode bitmaps, then inode tables, at the start of its first group.
  let itableEnd = first;
  for (let fg = 0; fg * FLEX_BG_SIZE < ngroups; fg++) {
    const g0 = fg * FLEX_BG_SIZE;
    const n = Math.min(FLEX_BG_SIZE, ngroups - g0);
    // A file system of one group keeps a whole flex group's bitmap slots (seen with mke2fs 1.47).
    const slots = ngroups === 1 ? FLEX_BG_SIZE : n;
    const s = superEnd(g0);
    take(s, s + n);
    take(s + slots, s + slots + n);
    take(s + 2 * slots, s + 2 * slots + n * itb);
    if (fg === 0) itableEnd = s + 2 * slots + n * itb;
  }
  // First fit from `goal`, in clusters, wrapping around: the root directory, lost+found and the journal.
  const firstFit = (goal: number, n: number) => {
    let left = Math.ceil(n / ratio) * ratio;
    const runs = [...used.gaps(Math.ceil(goal / ratio) * ratio, totalBlocks), ...used.gaps(first, goal)];
    for (const [a0, b] of runs) {
      const a = Math.ceil(a0 / ratio) * ratio;
      if (left === 0) break;
      if (b <= a) continue;
      const k = Math.min(left, b - a);
      take(a, a + k);
      left -= k;
    }
  };
  // Root directory (one block) and lost+found (16 KiB, at most 12 blocks) first fit, the resize
  // inode's block after group 0's inode tables.
  firstFit(first, 1);
  firstFit(first, Math.min(12, Math.max(2, 16384 / bs)));
  firstFit(itableEnd, 1);
  // get_midpoint_journal_block: the group in the middle, or the freer of its neighbours.
  let jg = Math.floor(Math.floor((totalBlocks - first) / 2) / bpg);
  const freeIn = (g: number) => bpg - used.covered(groupStart(g), Math.min(totalBlocks, groupStart(g) + bpg));
  let start: number;
  if (jg > FLEX_BG_SIZE) {
    jg &= ~(FLEX_BG_SIZE - 1);
    while (jg < ngroups && freeIn(jg) === 0) jg++;
    if (jg === ngroups) jg = 0;
    start = jg;
  } else {
    start = jg > 0 ? jg - 1 : jg;
  }
  const end = jg + 1 < ngroups ? jg + 1 : jg;
  let best = start;
  for (let g = start + 1; g <= end; g++) if (freeIn(g) > freeIn(best)) best = g;
  firstFit(groupStart(best), ext2fs_default_journal_size(totalBlocks));
  const blockUninit: boolean[] = [];
  for (let g = 0; g < ngroups; g++) {
    const start = groupStart(g);
    const inUse = used.covered(start, Math.min(totalBlocks, start + bpg));
    const backup = ext2fs_bg_has_super(g) ? Math.ceil(superEnd(g) / ratio) * ratio - start : 0;
    blockUninit.push(g !== 0 && g !== ngroups - 1 && inUse === backup);
  }
  return { firstDataBlock: first, blocksPerGroup: bpg, ngroups, totalBlocks, used: used.entries().map((e) => [e.start, e.end] as const), blockUninit };
}

/**
 * fs/ext4/mballoc.c (and mballoc.h): ext4's multiblock allocator, as Linux
 * 6.18 does it for data blocks.  The in-core buddy (sb.alloc.free: the
 * on-disk bitmap plus the preallocated blocks, "in-core buddy = on-disk
 * bitmap + preallocation descriptors") is kept as free runs; the buddy
 * orders, counters and fragments ext4_mb_generate_buddy derives from the
 * bitmap are computed from the runs of a group when a scan asks for them
 * (ext4_mb_mark_free_simple: each free run is its maximal naturally aligned
 * power-of-two chunks, at most 2^(blocksize_bits + 1) clusters).
 *
 * An allocation (ext4_mb_new_blocks) goes: the allocation context
 * (ext4_mb_initialize_context, ext4_mb_group_or_file: a file of at most
 * s_mb_stream_request blocks uses the locality group, a larger one its own
 * preallocation); an inode or locality-group preallocation that covers it
 * (ext4_mb_use_preallocated); else the request normalized
 * (ext4_mb_normalize_request: the size and start prediction, or
 * s_mb_group_prealloc for the locality group) and the regular allocator
 * (ext4_mb_regular_allocator: the goal, then the criteria passes
 * CR_POWER2_ALIGNED, CR_GOAL_LEN_FAST, CR_BEST_AVAIL_LEN, CR_GOAL_LEN_SLOW,
 * CR_ANY_FREE over the groups), what is found past the request becoming a
 * new preallocation (ext4_mb_new_inode_pa, ext4_mb_new_group_pa); out of
 * space, preallocations are discarded and the search retried
 * (ext4_mb_discard_preallocations_should_retry).
 *
 * Preallocated blocks are used in the buddy but free on disk: only the
 * blocks handed to a file reach the on-disk bitmap (ext4_mb_mark_diskspace_used
 * of the part used), so a crash or a remount forgets every preallocation.
 *
 * On top, the RFC of seed 004 (EXT4_MB_HINT_ALIGNED, a design variant:
 * ext4-atomic-aligned-alloc-rfc): an atomic write's blocks as one naturally
 * aligned extent, with the normalization, the buddy search and the inode
 * preallocation respecting the alignment, and failure rather than a
 * misaligned extent.  The seed holds the cover letter only; what the model
 * does for each patch is said where it does it.
 *
 * mb_optimize_scan (on by default from 16 groups: 512 MiB with 2 KiB
 * blocks, 2 GiB with 4 KiB ones): the cheap criteria look only at groups
 * whose buddy is loaded, through the s_mb_largest_free_orders and
 * s_mb_avg_fragment_size xarrays (ext4_mb_scan_groups_p2_aligned,
 * _goal_fast, _best_avail, which trims the goal); below 16 groups, or from
 * CR_GOAL_LEN_SLOW on, the groups are scanned linearly from the goal's.
 *
 * Not modelled: stripes, the lazyinit thread's background prefetch of the
 * groups after a mount, the extent tree block's own allocation, the
 * per-CPU locality groups (one: the kernel runner pins its helper to one
 * CPU), non-extent files.
 */
import type { Inode } from '../fs/inode.ts';
import type { Allocation } from '../fs/alloc.ts';
import type { SuperBlock } from '../fs/super.ts';
import { ENOSPC } from '../lib/errno.ts';
import { roundDown } from '../lib/math.ts';
import { EXT4_I, EXT4_SB } from './ext4.ts';
import type { Ext4SbInfo } from './ext4.ts';
import { mke2fs_layout } from './mke2fs.ts';
import { IntervalMap } from '../lib/interval-map.ts';
import { match } from 'ts-pattern';
import { PAGE_SIZE } from '../block/blk-settings.ts';

// ---- mballoc.h / ext4.h ------------------------------------------------------

/** EXT4_MB_* allocation request flags (fs/ext4/ext4.h). */
export const EXT4_MB_HINT_DATA = 0x0020;
export const EXT4_MB_HINT_NOPREALLOC = 0x0040;
const EXT4_MB_HINT_GROUP_ALLOC = 0x0080;
const EXT4_MB_HINT_GOAL_ONLY = 0x0100;
const EXT4_MB_HINT_TRY_GOAL = 0x0200;
const EXT4_MB_STREAM_ALLOC = 0x0800;
const EXT4_MB_HINT_FIRST = 0x0008;
/** The blocks were reserved by a delayed allocation (ext4_da_map_blocks): no claim on the free clusters. */
export const EXT4_MB_DELALLOC_RESERVED = 0x0400;
/** The RFC's flag (seed 004, "ext4: add aligned allocation support in mballoc"): a naturally aligned extent of exactly the request, or nothing. */
export const EXT4_MB_HINT_ALIGNED = 0x10000;

/** enum criteria */
const CR_POWER2_ALIGNED = 0;
const CR_GOAL_LEN_FAST = 1;
const CR_BEST_AVAIL_LEN = 2;
const CR_GOAL_LEN_SLOW = 3;
const CR_ANY_FREE = 4;
const EXT4_MB_NUM_CRS = 5;

/** Tunables, /sys/fs/ext4/<dev>/: defaults (MB_DEFAULT_*; read on this machine's 6.18). */
const MB_STREAM_REQ = 16;
/** MB_DEFAULT_LINEAR_SCAN_THRESHOLD: mb_optimize_scan is on from this many groups (ext4_fill_super); s_mb_max_linear_groups is 0. */
const MB_LINEAR_SCAN_THRESHOLD = 16;
/** s_mb_best_avail_max_trim_order (MB_DEFAULT_BEST_AVAIL_TRIM_ORDER) */
const MB_BEST_AVAIL_TRIM_ORDER = 3;
/**
 * s_mb_prefetch_limit, and the floor of s_mb_prefetch (sysfs on 6.18: 16 and 16 with 2 KiB blocks,
 * s_mb_prefetch 64 with 1 KiB): a read-ahead is bounded by the end of the flex group (16) first.
 */
const MB_PREFETCH = 16;
const MB_GROUP_PREALLOC = 512;
const MB_MIN_TO_SCAN = 10;
const MB_MAX_TO_SCAN = 200;
const MB_ORDER2_REQS = 2;
/** PREALLOC_TB_SIZE: the locality group's lists, by order of free blocks. */
const PREALLOC_TB_SIZE = 10;
/** EXT4_FLEX_SIZE_DIR_ALLOC_SCHEME */
const FLEX_SIZE_DIR_ALLOC_SCHEME = 4;
const FLEX_BG_SIZE = 16;

/** struct ext4_free_extent: `start`/`len` in clusters inside `group`; `logical` a file block. */
interface FreeExtent {
  group: number;
  start: number;
  len: number;
  logical: number;
}

/** struct ext4_allocation_request (what ext4_ext_map_blocks fills). */
export interface Ext4AllocationRequest {
  /** First file block (a cluster's first with bigalloc). */
  readonly logical: number;
  /** Blocks wanted (whole clusters). */
  readonly len: number;
  /** Goal physical block (ext4_ext_find_goal). */
  readonly goal: number;
  /** The allocated neighbours: last block of the extent before (lleft, pleft) and first of the one after (lright, pright); null when none. */
  readonly left: { readonly lblk: number; readonly pblk: number } | null;
  readonly right: { readonly lblk: number; readonly pblk: number } | null;
  readonly flags: number;
}

/** struct ext4_prealloc_space: a run of clusters mballoc holds for later. */
export class Ext4PreallocSpace {
  /** Blocks not yet handed out. */
  readonly unused = new IntervalMap<true>((v) => v, () => true);
  deleted = false;
  constructor(
    readonly type: 'inode' | 'group',
    public pstart: number,
    public lstart: number,
    public len: number,
    readonly inode: Inode | null,
  ) {
    this.unused.set(pstart, pstart + len, true);
  }
  /** pa_free, in blocks. */
  free(): number {
    return this.unused.total();
  }
  /** Hand out [a, b): no longer held.  Returns the blocks that were. */
  take(a: number, b: number): number {
    const n = this.unused.covered(a, b);
    this.unused.remove(a, b);
    return n;
  }
}

/** The allocator's per-file-system state (struct ext4_sb_info's mballoc fields, one locality group). */
export class Ext4MbState {
  /** Every live preallocation (the groups' bb_prealloc_list). */
  readonly pas = new Set<Ext4PreallocSpace>();
  /** The locality group's preallocations by order of their free blocks (lg_prealloc_list). */
  readonly lg: Ext4PreallocSpace[][] = Array.from({ length: PREALLOC_TB_SIZE }, () => []);
  /** s_mb_last_group: the group of the last stream allocation (its scans start there). */
  lastGroup = 0;
  /** Groups whose buddy is loaded (EXT4_MB_GRP_NEED_INIT clear): none at mount. */
  readonly loaded = new Set<number>();
  /** Groups whose block bitmap a prefetch has read (EXT4_GROUP_INFO_BBITMAP_READ). */
  readonly bitmapRead = new Set<number>();
  /** Groups allocated from since the mount (their EXT4_BG_BLOCK_UNINIT is cleared). */
  readonly allocated = new Set<number>();
  /**
   * s_group_info: the groups' ext4_group_info as of one state of the
   * free-space map (the map and its seq): the kernel keeps it up to date
   * as blocks are freed and taken; the model derives it from the map, once
   * per change of the map rather than once per group per scan.
   */
  groupInfos: { readonly free: IntervalMap<true>; readonly seq: number; readonly g: Geometry; readonly infos: Map<number, GroupInfo> } | null = null;
}

/** The geometry mballoc works with (ext4_sb_info's group fields). */
export interface Geometry {
  /** s_first_data_block */
  readonly first: number;
  /** Blocks per cluster (EXT4_C2B(sbi, 1)). */
  readonly ratio: number;
  /** EXT4_CLUSTERS_PER_GROUP and EXT4_BLOCKS_PER_GROUP */
  readonly cpg: number;
  readonly bpg: number;
  readonly ngroups: number;
  /** Blocks on the file system. */
  readonly total: number;
  /** MB_NUM_ORDERS(sb) - 1: the largest buddy order. */
  readonly maxOrder: number;
  /** Per group: mkfs made it EXT4_BG_BLOCK_UNINIT, and the clusters mkfs left in use in it. */
  readonly blockUninit: readonly boolean[];
  readonly mkfsUsed: readonly number[];
  /** test_opt2(sb, MB_OPTIMIZE_SCAN): the default from MB_LINEAR_SCAN_THRESHOLD groups. */
  readonly optimizeScan: boolean;
}

function geometry(sb: SuperBlock): Geometry {
  const sbi = EXT4_SB(sb);
  if (sbi.mbGeometry !== null) return sbi.mbGeometry;
  const ratio = sb.clusterRatio;
  const l = mke2fs_layout(sb.alloc.totalBlocks, sb.blockSize, ratio);
  const mkfsUsed = Array.from({ length: l.ngroups }, (_, group) => {
    const start = l.firstDataBlock + group * l.blocksPerGroup;
    const end = Math.min(sb.alloc.totalBlocks, start + l.blocksPerGroup);
    return l.used.reduce((a, [s, e]) => a + Math.max(0, Math.min(e, end) - Math.max(s, start)), 0) / ratio;
  });
  const g: Geometry = { first: l.firstDataBlock, ratio, cpg: 8 * sb.blockSize, bpg: l.blocksPerGroup, ngroups: l.ngroups, total: sb.alloc.totalBlocks, maxOrder: sb.blkbits + 1, blockUninit: l.blockUninit, mkfsUsed, optimizeScan: l.ngroups >= MB_LINEAR_SCAN_THRESHOLD };
  sbi.mbGeometry = g;
  return g;
}

function mbState(sb: SuperBlock): Ext4MbState {
  const sbi: Ext4SbInfo = EXT4_SB(sb);
  return (sbi.mb ??= new Ext4MbState());
}

/** ext4_group_first_block_no */
function groupFirst(g: Geometry, group: number): number {
  return g.first + group * g.bpg;
}

/** ext4_get_group_no_and_offset, in clusters. */
function groupOf(g: Geometry, pblk: number): { group: number; start: number } {
  const rel = pblk - g.first;
  return { group: Math.floor(rel / g.bpg), start: Math.floor((rel % g.bpg) / g.ratio) };
}

/** ext4_grp_offs_to_block */
function toBlock(g: Geometry, fe: { group: number; start: number }): number {
  return groupFirst(g, fe.group) + fe.start * g.ratio;
}

/** Clusters in `group` (the last group may be short). */
function clustersIn(g: Geometry, group: number): number {
  return Math.min(g.cpg, Math.floor((g.total - groupFirst(g, group)) / g.ratio));
}

// ---- the buddy, derived from the free runs ----------------------------------

/** A group's free runs, in clusters relative to the group. */
function groupRuns(sb: SuperBlock, g: Geometry, group: number): Array<[number, number]> {
  const base = groupFirst(g, group);
  const end = base + clustersIn(g, group) * g.ratio;
  const out: Array<[number, number]> = [];
  for (const e of sb.alloc.free.overlapping(base, end)) {
    const a = Math.ceil((Math.max(e.start, base) - base) / g.ratio);
    const b = Math.floor((Math.min(e.end, end) - base) / g.ratio);
    if (b > a) {
      const last = out[out.length - 1];
      if (last !== undefined && last[1] === a) last[1] = b;
      else out.push([a, b]);
    }
  }
  return out;
}

/**
 * ext4_mb_mark_free_simple, one step: the order of the buddy that starts a
 * free run at cluster `first` with `len` clusters left — as large as the
 * alignment of `first` and the length allow, at most maxOrder.  Runs are
 * group-relative cluster numbers (below 2^31), so the bit operations are
 * exact (ffs and fls, where the model used Math.log2: a twentieth of the
 * ext4 model's time went to these loops).
 */
function chunkOrder(first: number, len: number, maxOrder: number): number {
  const aligned = first === 0 ? maxOrder : 31 - Math.clz32(first & -first);
  return Math.min(maxOrder, aligned, 31 - Math.clz32(len));
}

/**
 * ext4_mb_mark_free_simple's walk: the run's maximal aligned power-of-two
 * chunks in order, `visit(start, order)` for each until it returns false.
 */
function forEachChunk(first: number, len: number, maxOrder: number, visit: (start: number, order: number) => boolean | void): void {
  while (len > 0) {
    const o = chunkOrder(first, len, maxOrder);
    if (visit(first, o) === false) return;
    first += 1 << o;
    len -= 1 << o;
  }
}

/** ext4_mb_mark_free_simple: the run's maximal aligned power-of-two chunks, [start, order]. */
function chunks(first: number, len: number, maxOrder: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  forEachChunk(first, len, maxOrder, (s, o) => {
    out.push([s, o]);
  });
  return out;
}

/** The largest order among chunks(first, len, maxOrder), without building them. */
function largestChunkOrder(first: number, len: number, maxOrder: number): number {
  let largest = -1;
  forEachChunk(first, len, maxOrder, (_, o) => {
    if (o > largest) largest = o;
  });
  return largest;
}

/** struct ext4_group_info, the parts the scans read (bb_free, bb_fragments, bb_largest_free_order, bb_first_free). */
interface GroupInfo {
  readonly runs: ReadonlyArray<readonly [number, number]>;
  readonly free: number;
  readonly fragments: number;
  readonly largestOrder: number;
}

/**
 * ext4_get_group_info: the group's info, from the allocator's
 * s_group_info (Ext4MbState.groupInfos).  Kept in the super block's own
 * state rather than in a WeakMap keyed by the map: on Node 20, a WeakMap
 * whose keys die young kept what its values reach alive through the
 * young generation's collections (scripts/v8-flags.mjs).
 */
function groupInfo(sb: SuperBlock, g: Geometry, group: number): GroupInfo {
  const free = sb.alloc.free;
  const mb = mbState(sb);
  let c = mb.groupInfos;
  if (c === null || c.free !== free || c.seq !== free.seq || c.g !== g) {
    c = { free, seq: free.seq, g, infos: new Map() };
    mb.groupInfos = c;
  }
  const hit = c.infos.get(group);
  if (hit !== undefined) return hit;
  const runs = groupRuns(sb, g, group);
  let n = 0;
  let largest = -1;
  for (const [a, b] of runs) {
    n += b - a;
    largest = Math.max(largest, largestChunkOrder(a, b - a, g.maxOrder));
  }
  const gi: GroupInfo = { runs, free: n, fragments: runs.length, largestOrder: largest };
  c.infos.set(group, gi);
  return gi;
}

/**
 * mb_find_extent: the free extent from `block` on, made of the whole
 * buddies from there until `needed` clusters are covered or the run ends.
 */
function mb_find_extent(gi: GroupInfo, g: Geometry, block: number, needed: number): number {
  const run = gi.runs.find(([a, b]) => block >= a && block < b);
  if (run === undefined) return 0;
  // The run's buddies in order, without building them.
  let len = 0;
  forEachChunk(run[0], run[1] - run[0], g.maxOrder, (s, o) => {
    const e = s + (1 << o);
    if (e <= block) return true;
    len = e - block;
    return len < needed;
  });
  return len;
}

// ---- the allocation context ---------------------------------------------------

/** struct ext4_allocation_context */
class AllocationContext {
  /** ac_o_ex: the original request; ac_g_ex: the goal (normalized); ac_b_ex: the best found; ac_f_ex: what was taken from the buddy. */
  o: FreeExtent;
  g: FreeExtent;
  b: FreeExtent = { group: 0, start: 0, len: 0, logical: 0 };
  f: FreeExtent = { group: 0, start: 0, len: 0, logical: 0 };
  origGoalLen: number;
  flags: number;
  status: 'continue' | 'found' | 'break' = 'continue';
  criteria = CR_GOAL_LEN_FAST;
  found = 0;
  order2 = 0;
  pa: Ext4PreallocSpace | null = null;
  /** ac_prefetch_grp, ac_prefetch_nr, ac_prefetch_ios: the bitmaps read ahead during the scans (ext4_mb_might_prefetch). */
  prefetchGrp = 0;
  prefetchNr = 0;
  prefetchIos = 0;
  constructor(
    readonly sb: SuperBlock,
    readonly geo: Geometry,
    readonly inode: Inode,
    readonly ar: Ext4AllocationRequest,
  ) {
    // ext4_mb_initialize_context
    let len = Math.ceil(ar.len / geo.ratio);
    if (len >= geo.cpg) len = geo.cpg;
    let goal = ar.goal;
    if (goal < geo.first || goal >= geo.total) goal = geo.first;
    const at = groupOf(geo, goal);
    const logical = roundDown(ar.logical, geo.ratio);
    this.o = { group: at.group, start: at.start, len, logical };
    this.g = { ...this.o };
    this.origGoalLen = len;
    this.flags = ar.flags;
    ext4_mb_group_or_file(this);
  }
}

/** ac_status == AC_STATUS_FOUND (a function: the scans change it behind the compiler's back). */
function isFound(ac: AllocationContext): boolean {
  return ac.status === 'found';
}

/** Is the file open for writing (inode_is_open_for_write)? */
function openForWrite(inode: Inode): boolean {
  return EXT4_I(inode).writers > 0;
}

/**
 * ext4_mb_group_or_file: a request for a file whose size (and this
 * request's end) is at most s_mb_stream_request blocks uses the locality
 * group's preallocation; a larger one its own (EXT4_MB_STREAM_ALLOC), or
 * none when the request ends at the size of a file nobody has open for
 * writing ("no point in using inode preallocation for closed files").
 */
function ext4_mb_group_or_file(ac: AllocationContext): void {
  if ((ac.flags & EXT4_MB_HINT_DATA) === 0 || (ac.flags & EXT4_MB_HINT_GOAL_ONLY) !== 0) return;
  const bs = ac.inode.blockSize;
  const end = ac.o.logical + ac.o.len * ac.geo.ratio;
  const isize = Math.ceil(ac.inode.i_size / bs);
  let groupPa = true;
  let inodePa = true;
  if (end === isize && !openForWrite(ac.inode)) inodePa = false;
  // RFC (seed 004, "ext4: allow inode preallocation for aligned alloc"): aligned requests use the file's own
  // preallocation (variant ext4-rfc-prealloc-unaligned: also the locality group's).
  if (Math.max(end, isize) > MB_STREAM_REQ) groupPa = false;
  if ((ac.flags & EXT4_MB_HINT_ALIGNED) !== 0 && !ac.sb.k.v.on('ext4-rfc-prealloc-unaligned')) groupPa = false;
  if (!groupPa) {
    ac.flags |= inodePa ? EXT4_MB_STREAM_ALLOC : EXT4_MB_HINT_NOPREALLOC;
    return;
  }
  ac.flags |= EXT4_MB_HINT_GROUP_ALLOC;
}

/** A preallocation's logical end (pa_logical_end). */
function paLogicalEnd(pa: Ext4PreallocSpace): number {
  return pa.lstart + pa.len;
}

/** The file's live preallocations, by logical start (the i_prealloc_node rb-tree). */
function inodePas(inode: Inode): Ext4PreallocSpace[] {
  return EXT4_I(inode).prealloc;
}

/**
 * The RFC's check before using an inode preallocation for an aligned
 * request (seed 004, "ext4: allow inode preallocation for aligned alloc"):
 * the blocks it would give start on a multiple of the request and are all
 * still in it.  Variant ext4-rfc-prealloc-unaligned skips it (the review
 * point: a preallocation made for another request hands out whatever block
 * comes next).
 */
function paAlignedFor(ac: AllocationContext, pa: Ext4PreallocSpace): boolean {
  if ((ac.flags & EXT4_MB_HINT_ALIGNED) === 0 || ac.sb.k.v.on('ext4-rfc-prealloc-unaligned')) return true;
  const lenBlocks = ac.o.len * ac.geo.ratio;
  const start = pa.pstart + (ac.o.logical - pa.lstart);
  if (start % lenBlocks !== 0 || ac.o.logical + lenBlocks > paLogicalEnd(pa)) return false;
  return pa.unused.covered(start, start + lenBlocks) === lenBlocks;
}

/**
 * ext4_mb_use_inode_pa: the request's blocks from the file's preallocation,
 * at the same offset (with bigalloc, the cluster that offset falls in:
 * ext4_get_group_no_and_offset counts in clusters, and the preallocation
 * may start inside one).
 */
function ext4_mb_use_inode_pa(ac: AllocationContext, pa: Ext4PreallocSpace): void {
  const start = roundDown(pa.pstart + (ac.o.logical - pa.lstart) - ac.geo.first, ac.geo.ratio) + ac.geo.first;
  const end = Math.min(pa.pstart + pa.len, start + ac.o.len * ac.geo.ratio);
  const at = groupOf(ac.geo, start);
  ac.b = { group: at.group, start: at.start, len: Math.ceil((end - start) / ac.geo.ratio), logical: ac.o.logical };
  ac.status = 'found';
  ac.pa = pa;
  ac.sb.alloc.preallocated -= pa.take(start, end);
}

/** ext4_mb_use_group_pa: the request's blocks from the front of the locality group's preallocation. */
function ext4_mb_use_group_pa(ac: AllocationContext, pa: Ext4PreallocSpace): void {
  const at = groupOf(ac.geo, pa.pstart);
  ac.b = { group: at.group, start: at.start, len: ac.o.len, logical: ac.o.logical };
  ac.status = 'found';
  ac.pa = pa;
  ac.sb.alloc.preallocated -= pa.take(pa.pstart, pa.pstart + ac.o.len * ac.geo.ratio);
}

/**
 * ext4_mb_use_preallocated: the file's preallocation that covers the
 * request's first block (the one starting last at or before it), else,
 * for a locality-group request, the locality group's preallocation with
 * enough free clusters nearest the goal (ext4_mb_check_group_pa).
 */
function ext4_mb_use_preallocated(ac: AllocationContext): boolean {
  if ((ac.flags & EXT4_MB_HINT_DATA) === 0) return false;
  let left: Ext4PreallocSpace | undefined;
  for (const pa of inodePas(ac.inode)) if (pa.lstart <= ac.o.logical && !pa.deleted) left = pa;
  if (left !== undefined && ac.o.logical < paLogicalEnd(left) && left.free() > 0 && paAlignedFor(ac, left)) {
    ext4_mb_use_inode_pa(ac, left);
    return true;
  }
  // (An aligned request of the RFC is never a locality-group one: ext4_mb_group_or_file.)
  if ((ac.flags & EXT4_MB_HINT_GROUP_ALLOC) === 0) return false;
  const mb = mbState(ac.sb);
  const goal = toBlock(ac.geo, ac.g);
  let cpa: Ext4PreallocSpace | null = null;
  for (let i = Math.min(PREALLOC_TB_SIZE - 1, Math.floor(Math.log2(ac.o.len))); i < PREALLOC_TB_SIZE; i++) {
    for (const pa of mb.lg[i]!) {
      if (pa.deleted || pa.free() < ac.o.len * ac.geo.ratio) continue;
      if (cpa === null || Math.abs(goal - pa.pstart) < Math.abs(goal - cpa.pstart)) cpa = pa;
    }
  }
  if (cpa === null) return false;
  ext4_mb_use_group_pa(ac, cpa);
  return true;
}

/**
 * The size and start prediction of ext4_mb_normalize_request (what the RFC
 * factors out, seed 004: "ext4: Factor out size and start prediction from
 * ext4_mb_normalize_request()"): the file's expected size (the request's
 * end or i_size, whichever is larger) rounded up to 16 KiB ... 1 MiB, then
 * 2, 4 or 8 MiB windows aligned to their size, else the request itself.
 * Returns [start, size] in blocks.
 */
function ext4_mb_pa_predict(inode: Inode, logical: number, lenBlocks: number): [number, number] {
  const bs = inode.blockSize;
  let size = Math.max((logical + lenBlocks) * bs, inode.i_size);
  const max = 2 * bs;
  let startOff = 0;
  const fits = (req: number, lim: number, chunk: number) => req <= lim || max <= chunk;
  const steps = [16, 32, 64, 128, 256, 512, 1024].map((k) => k * 1024);
  const step = steps.find((s) => size <= s);
  if (step !== undefined) size = step;
  else if (fits(size, 4 << 20, 2 * 1024)) {
    startOff = roundDown(logical * bs, 2 << 20);
    size = 2 << 20;
  } else if (fits(size, 8 << 20, 4 * 1024)) {
    startOff = roundDown(logical * bs, 4 << 20);
    size = 4 << 20;
  } else if (fits(lenBlocks * bs, 8 << 20, 8 * 1024)) {
    startOff = roundDown(logical * bs, 8 << 20);
    size = 8 << 20;
  } else {
    startOff = logical * bs;
    size = lenBlocks * bs;
  }
  return [Math.floor(startOff / bs), Math.floor(size / bs)];
}

/**
 * ext4_mb_normalize_request: grow a file's request to the predicted size
 * (a locality-group request to s_mb_group_prealloc), then keep it off the
 * blocks the file already has on either side and off its other
 * preallocations (ext4_mb_pa_adjust_overlap), within one group's worth of
 * blocks; when the request continues a neighbour physically, try that
 * block first (EXT4_MB_HINT_TRY_GOAL).
 *
 * RFC (aligned requests): the normalized request must keep the original's
 * blocks on their alignment, so it is a power of two at least as long,
 * aligned in the file to its own length; when the neighbours or other
 * preallocations leave no such window, the request stays as it is.
 */
function ext4_mb_normalize_request(ac: AllocationContext): void {
  if ((ac.flags & EXT4_MB_HINT_DATA) === 0 || (ac.flags & (EXT4_MB_HINT_GOAL_ONLY | EXT4_MB_HINT_NOPREALLOC)) !== 0) return;
  const geo = ac.geo;
  if ((ac.flags & EXT4_MB_HINT_GROUP_ALLOC) !== 0) {
    // ext4_mb_normalize_group_request
    // s_mb_group_prealloc: 512 blocks in clusters, at least 32 (ext4_mb_init).
    // ac_orig_goal_len stays the request's: a best-available pass that fails puts that back as the goal.
    ac.g.len = Math.max(32, Math.floor(MB_GROUP_PREALLOC / geo.ratio));
    return;
  }
  const ar = ac.ar;
  const oLen = ac.o.len * geo.ratio;
  let [start, size] = ext4_mb_pa_predict(ac.inode, ac.o.logical, oLen);
  start = Math.max(start, roundDown(ac.o.logical, geo.bpg));
  const aligned = (ac.flags & EXT4_MB_HINT_ALIGNED) !== 0;
  // RFC: a preallocation over the request that could not serve it aligned leaves the request as it is.
  if (aligned && inodePas(ac.inode).some((pa) => !pa.deleted && pa.lstart <= ac.o.logical && ac.o.logical < paLogicalEnd(pa))) return;
  if (aligned) {
    size = Math.max(oLen, 2 ** Math.ceil(Math.log2(size)));
    start = roundDown(ac.o.logical, size);
  }
  const noAdjust = ac.sb.k.v.on('ext4-mb-normalize-no-adjust');
  if (!noAdjust) {
    if (ar.left !== null && start <= ar.left.lblk) {
      size -= ar.left.lblk + 1 - start;
      start = ar.left.lblk + 1;
    }
    if (ar.right !== null && start + size - 1 >= ar.right.lblk) size -= start + size - ar.right.lblk;
  }
  if (size > geo.bpg) size = geo.bpg;
  let end = start + size;
  if (!noAdjust) [start, end] = ext4_mb_pa_adjust_overlap(ac, start, end);
  // With bigalloc the window may start inside a cluster (after a neighbour's last block): its
  // length is rounded up to clusters (EXT4_NUM_B2C), and ext4_mb_use_inode_pa finds the
  // cluster a file block falls in.
  size = end - start;
  if (size <= 0) {
    // Nothing left around the request (the kernel BUG_ONs here; the model keeps the request).
    start = ac.o.logical;
    size = oLen;
  }
  if (aligned && (size < oLen || start % size !== 0 || (size & (size - 1)) !== 0)) {
    start = ac.o.logical;
    size = oLen;
  }
  ac.g.logical = start;
  ac.g.len = Math.ceil(size / geo.ratio);
  ac.origGoalLen = ac.g.len;
  if (ac.sb.k.recording) ac.sb.k.emit({ t: 'mb-normalize', ino: ac.inode.ino, lblk: ac.o.logical, len: oLen, start, size, bpg: geo.bpg, taken: takenRanges(ac.inode) });
  // A request that continues a neighbour's physical blocks tries them first.
  if (ar.right !== null && ar.right.lblk === start + size && ar.right.pblk >= size && ar.right.pblk - size >= geo.first) {
    const at = groupOf(geo, ar.right.pblk - size);
    ac.g.group = at.group;
    ac.g.start = at.start;
    ac.flags |= EXT4_MB_HINT_TRY_GOAL;
  }
  if (ar.left !== null && ar.left.lblk + 1 === start && ar.left.pblk + 1 < geo.total) {
    const at = groupOf(geo, ar.left.pblk + 1);
    ac.g.group = at.group;
    ac.g.start = at.start;
    ac.flags |= EXT4_MB_HINT_TRY_GOAL;
  }
}

/** The file's mapped blocks and live preallocations, by file block (for alloc/mb-normalize-bounds). */
function takenRanges(inode: Inode): Array<readonly [number, number, string]> {
  const out: Array<readonly [number, number, string]> = [];
  for (const e of inode.extents.entries()) if (e.v.pblk >= 0) out.push([e.start, e.end, 'has mapped']);
  for (const pa of inodePas(inode)) if (!pa.deleted) out.push([pa.lstart, paLogicalEnd(pa), 'has preallocated']);
  return out;
}

/** ext4_mb_pa_adjust_overlap: shrink [start, end) so that it overlaps none of the file's preallocations around the request. */
function ext4_mb_pa_adjust_overlap(ac: AllocationContext, start: number, end: number): [number, number] {
  for (const pa of inodePas(ac.inode)) {
    if (pa.deleted) continue;
    const pe = paLogicalEnd(pa);
    if (pe <= ac.o.logical && pe > start) start = pe;
    if (pa.lstart > ac.o.logical && pa.lstart < end) end = pa.lstart;
  }
  return [start, end];
}

// ---- the regular allocator ----------------------------------------------------

/**
 * ext4_mb_use_best_found: take the best extent found (no longer than the
 * goal) from the buddy; what it has past the original request becomes a
 * new preallocation.
 */
function ext4_mb_use_best_found(ac: AllocationContext): void {
  const geo = ac.geo;
  ac.b.len = Math.min(ac.b.len, ac.g.len);
  ac.b.logical = ac.g.logical;
  const p = toBlock(geo, ac.b);
  ac.sb.alloc.free.remove(p, p + ac.b.len * geo.ratio);
  ac.f = { ...ac.b };
  ac.status = 'found';
  mbState(ac.sb).allocated.add(ac.b.group);
  if ((ac.flags & EXT4_MB_STREAM_ALLOC) !== 0) mbState(ac.sb).lastGroup = ac.f.group;
  if (ac.o.len < ac.b.len) ext4_mb_new_preallocation(ac);
}

/** ext4_mb_check_limits: stop a long search with the best found so far. */
function ext4_mb_check_limits(ac: AllocationContext, finishGroup: boolean): void {
  if (ac.status === 'found') return;
  if (ac.found > MB_MAX_TO_SCAN && (ac.flags & EXT4_MB_HINT_FIRST) === 0) {
    ac.status = 'break';
    return;
  }
  if (ac.b.len < ac.g.len) return;
  if (finishGroup || ac.found > MB_MIN_TO_SCAN) ext4_mb_use_best_found(ac);
}

/** ext4_mb_measure_extent: an exact fit is taken; otherwise the best so far (larger while short of the goal, then the smallest that covers it). */
function ext4_mb_measure_extent(ac: AllocationContext, ex: FreeExtent): void {
  ac.found++;
  if ((ac.flags & EXT4_MB_HINT_FIRST) !== 0 || ex.len === ac.g.len) {
    ac.b = { ...ex };
    ext4_mb_use_best_found(ac);
    return;
  }
  if (ac.b.len === 0) ac.b = { ...ex };
  else if (ac.b.len < ac.g.len) {
    if (ex.len > ac.b.len) ac.b = { ...ex };
  } else if (ex.len > ac.g.len && ex.len < ac.b.len) ac.b = { ...ex };
  ext4_mb_check_limits(ac, false);
}

/** ext4_mb_find_by_goal: the goal block itself, when the request continues a neighbour (EXT4_MB_HINT_TRY_GOAL). */
function ext4_mb_find_by_goal(ac: AllocationContext): void {
  if ((ac.flags & (EXT4_MB_HINT_TRY_GOAL | EXT4_MB_HINT_GOAL_ONLY)) === 0) return;
  if (ac.g.group >= ac.geo.ngroups) return;
  const gi = groupInfo(ac.sb, ac.geo, ac.g.group);
  if (gi.free === 0) return;
  // ext4_mb_load_buddy
  ext4_mb_init_group(ac.sb, ac.geo, ac.g.group);
  const max = mb_find_extent(gi, ac.geo, ac.g.start, ac.g.len);
  if (max >= ac.g.len && alignedOk(ac, { group: ac.g.group, start: ac.g.start })) {
    ac.found++;
    ac.b = { group: ac.g.group, start: ac.g.start, len: max, logical: ac.g.logical };
    ext4_mb_use_best_found(ac);
  }
}

/** For an aligned request (RFC), is a buddy found at `fe` naturally aligned physically? (Groups start on a multiple of their size, except with s_first_data_block 1.) */
function alignedOk(ac: AllocationContext, fe: { group: number; start: number }): boolean {
  if ((ac.flags & EXT4_MB_HINT_ALIGNED) === 0 || ac.sb.k.v.on('ext4-rfc-mballoc-unaligned')) return true;
  return (toBlock(ac.geo, fe) + (ac.o.logical - ac.g.logical)) % (ac.o.len * ac.geo.ratio) === 0;
}

/**
 * ext4_mb_simple_scan_group (CR_POWER2_ALIGNED): the first free buddy of
 * the request's order in the group, else of the next larger order.
 */
function ext4_mb_simple_scan_group(ac: AllocationContext, gi: GroupInfo, group: number): void {
  const geo = ac.geo;
  for (let i = ac.order2; i <= geo.maxOrder; i++) {
    let k: number | null = null;
    for (const [a, b] of gi.runs) {
      for (const [s, o] of chunks(a, b - a, geo.maxOrder)) {
        if (o === i) {
          k = s;
          break;
        }
      }
      if (k !== null) break;
    }
    if (k === null) continue;
    ac.found++;
    ac.b = { group, start: k, len: 2 ** i, logical: ac.g.logical };
    ext4_mb_use_best_found(ac);
    return;
  }
}

/**
 * ext4_mb_scan_aligned, with the request's length as the stripe: the
 * first free run of the goal's length starting on a physical multiple of
 * it.  The RFC's aligned search (model): alignment is the device's, so it
 * is reckoned in physical blocks as the stripe scan does, not in buddy
 * offsets, which are off by one from physical alignment when
 * s_first_data_block is 1 (1 KiB blocks).
 */
function ext4_mb_scan_aligned(ac: AllocationContext, gi: GroupInfo, group: number): void {
  const geo = ac.geo;
  const base = groupFirst(geo, group);
  const len = ac.g.len * geo.ratio;
  for (const [a, b] of gi.runs) {
    const p = Math.ceil((base + a * geo.ratio) / len) * len;
    if (p + len > base + b * geo.ratio) continue;
    ac.found++;
    ac.b = { group, start: (p - base) / geo.ratio, len: ac.g.len, logical: ac.g.logical };
    ext4_mb_use_best_found(ac);
    return;
  }
}

/**
 * ext4_mb_complex_scan_group: the group's free extents from its first
 * free cluster (at the cheap criteria, only runs at least as long as the
 * goal), each measured against the goal.
 */
function ext4_mb_complex_scan_group(ac: AllocationContext, gi: GroupInfo, group: number): void {
  let free = gi.free;
  const expensive = ac.criteria >= CR_GOAL_LEN_SLOW;
  for (const [a, b] of gi.runs) {
    if (ac.status !== 'continue' || free <= 0) break;
    if (!expensive && b - a < ac.g.len) {
      free -= b - a;
      continue;
    }
    let i = a;
    while (i < b && ac.status === 'continue' && free > 0) {
      const len = mb_find_extent(gi, ac.geo, i, ac.g.len);
      if (len <= 0) break;
      ext4_mb_measure_extent(ac, { group, start: i, len, logical: 0 });
      i += len;
      free -= len;
    }
  }
  ext4_mb_check_limits(ac, true);
}

/** ext4_mb_good_group: can this group serve the request at this criterion? */
function ext4_mb_good_group(ac: AllocationContext, gi: GroupInfo, group: number, cr: number): boolean {
  if (gi.free === 0 || gi.fragments === 0) return false;
  // RFC: any group with room may hold a physically aligned extent (ext4_mb_scan_aligned looks).
  if ((ac.flags & EXT4_MB_HINT_ALIGNED) !== 0 && !ac.sb.k.v.on('ext4-rfc-mballoc-unaligned')) return gi.free >= ac.g.len;
  if (cr === CR_POWER2_ALIGNED) {
    // Data stays out of the first group of a flex group (its metadata's group).
    if ((ac.flags & EXT4_MB_HINT_DATA) !== 0 && group % FLEX_BG_SIZE === 0 && FLEX_BG_SIZE >= FLEX_SIZE_DIR_ALLOC_SCHEME) return false;
    if (gi.free < ac.g.len) return false;
    return gi.largestOrder >= ac.order2;
  }
  if (cr === CR_GOAL_LEN_FAST || cr === CR_BEST_AVAIL_LEN) return Math.floor(gi.free / gi.fragments) >= ac.g.len;
  if (cr === CR_GOAL_LEN_SLOW) return gi.free >= ac.g.len;
  return true;
}

/**
 * ext4_mb_good_group_nolock, for a group whose buddy is not loaded yet
 * (every group after a mount, until an allocation loads it): the cheap
 * criteria pass it by, unless it is the first group of its flex group or
 * still EXT4_BG_BLOCK_UNINIT (nothing ever allocated in it, its bitmap is
 * computed); otherwise it is loaded (ext4_mb_init_group).  The kernel's
 * background prefetch (the lazyinit thread, a random delay of up to 5 s
 * after the mount) may load groups sooner; the model assumes it has not.
 */
function ext4_mb_need_init_skips(ac: AllocationContext, gi: GroupInfo, group: number): boolean {
  const mb = mbState(ac.sb);
  if (mb.loaded.has(group)) return false;
  const uninit = ac.geo.blockUninit[group] === true && !mb.allocated.has(group) && gi.free === clustersIn(ac.geo, group) - ac.geo.mkfsUsed[group]!;
  if (ac.criteria < CR_GOAL_LEN_SLOW && group % FLEX_BG_SIZE !== 0 && !uninit) return true;
  ext4_mb_init_group(ac.sb, ac.geo, group);
  return false;
}

/**
 * ext4_mb_might_prefetch: scanning the group the last read-ahead stopped
 * at (at first the goal's) reads the bitmaps of the groups from there to
 * the end of its flex group (ext4_mb_prefetch: each group once per mount,
 * if not loaded and not full), unless the cheap criteria already issued
 * s_mb_prefetch_limit reads; ext4_mb_prefetch_fini loads them once the
 * search is over.
 */
function ext4_mb_might_prefetch(ac: AllocationContext, group: number): void {
  if (ac.prefetchGrp !== group) return;
  const geo = ac.geo;
  if (ac.criteria < CR_GOAL_LEN_SLOW && ac.prefetchIos >= Math.min(MB_PREFETCH, geo.ngroups)) return;
  const nr = Math.min(FLEX_BG_SIZE - (group % FLEX_BG_SIZE), MB_PREFETCH);
  const mb = mbState(ac.sb);
  let g = group;
  for (let i = 0; i < nr; i++, g = g + 1 >= geo.ngroups ? 0 : g + 1) {
    if (mb.bitmapRead.has(g) || mb.loaded.has(g) || groupInfo(ac.sb, geo, g).free === 0) continue;
    mb.bitmapRead.add(g);
    ac.prefetchIos++;
  }
  ac.prefetchNr = nr;
  ac.prefetchGrp = g;
}

/** ext4_mb_prefetch_fini: the `nr` groups before the read-ahead's end are loaded (ext4_mb_init_group). */
function ext4_mb_prefetch_fini(ac: AllocationContext): void {
  const geo = ac.geo;
  const mb = mbState(ac.sb);
  let group = ac.prefetchGrp;
  for (let nr = ac.prefetchNr; nr > 0; nr--) {
    if (group === 0) group = geo.ngroups;
    group--;
    if (!mb.loaded.has(group) && groupInfo(ac.sb, geo, group).free > 0) ext4_mb_init_group(ac.sb, geo, group);
  }
}

/**
 * ext4_mb_init_group -> ext4_mb_init_cache: a group's bitmap and buddy
 * live in the buddy cache's pages, two blocks per group; initializing one
 * generates every group of its page (groups_per_page = blocks_per_page /
 * 2: two groups with 1 KiB blocks on 4 KiB pages, one otherwise).
 */
function ext4_mb_init_group(sb: SuperBlock, geo: Geometry, group: number): void {
  const perPage = Math.max(1, Math.floor(PAGE_SIZE / sb.blockSize / 2));
  const first = group - (group % perPage);
  const mb = mbState(sb);
  for (let g = first; g < Math.min(first + perPage, geo.ngroups); g++) mb.loaded.add(g);
}

/** ext4_mb_scan_group: one group at the current criterion. */
function ext4_mb_scan_group(ac: AllocationContext, group: number): void {
  ext4_mb_might_prefetch(ac, group);
  const gi = groupInfo(ac.sb, ac.geo, group);
  if (gi.free === 0 || (ac.criteria < CR_ANY_FREE && gi.free < ac.g.len)) return;
  if (ext4_mb_need_init_skips(ac, gi, group)) return;
  if (!ext4_mb_good_group(ac, gi, group, ac.criteria)) return;
  if ((ac.flags & EXT4_MB_HINT_ALIGNED) !== 0 && !ac.sb.k.v.on('ext4-rfc-mballoc-unaligned')) ext4_mb_scan_aligned(ac, gi, group);
  else if (ac.criteria === CR_POWER2_ALIGNED) ext4_mb_simple_scan_group(ac, gi, group);
  else ext4_mb_complex_scan_group(ac, gi, group);
}

/** ext4_mb_scan_groups_linear: every group from the goal's, wrapping; none served the request: the next criterion. */
function ext4_mb_scan_groups_linear(ac: AllocationContext, start: number): void {
  const n = ac.geo.ngroups;
  let group = start;
  for (let i = 0; i < n; i++, group = group + 1 >= n ? 0 : group + 1) {
    ext4_mb_scan_group(ac, group);
    if (ac.status !== 'continue') return;
  }
  ac.criteria++;
}

/** mb_avg_fragment_size_order: the s_mb_avg_fragment_size list of an average free extent of `len` clusters. */
function mb_avg_fragment_size_order(geo: Geometry, len: number): number {
  let order = fls(len) - 2;
  if (order < 0) return 0;
  if (order === geo.maxOrder + 1) order--;
  return order;
}

/** fls: the 1-based index of the highest set bit, 0 for 0. */
function fls(x: number): number {
  return x <= 0 ? 0 : Math.floor(Math.log2(x)) + 1;
}

/**
 * The loaded groups' list orders for one optimized pass, by group number
 * (-1: in no list): bb_largest_free_order (s_mb_largest_free_orders) or
 * the average fragment's order (s_mb_avg_fragment_size, from
 * mb_update_avg_fragment_size).  Nothing changes during a pass until it
 * finds its extent.
 */
function xaOrders(ac: AllocationContext, list: 'largest' | 'avg'): number[] {
  const mb = mbState(ac.sb);
  return Array.from({ length: ac.geo.ngroups }, (_, group) => {
    if (!mb.loaded.has(group)) return -1;
    const gi = groupInfo(ac.sb, ac.geo, group);
    if (list === 'largest') return gi.free > 0 ? gi.largestOrder : -1;
    return gi.fragments === 0 ? -1 : mb_avg_fragment_size_order(ac.geo, Math.floor(gi.free / gi.fragments));
  });
}

/** ext4_mb_scan_groups_xa_range: the groups in [start, end) on the list of `order`, by group number. */
function ext4_mb_scan_groups_xa_range(ac: AllocationContext, orders: readonly number[], order: number, start: number, end: number): void {
  for (let group = start; group < end; group++) {
    if (orders[group] !== order) continue;
    ext4_mb_scan_group(ac, group);
    if (ac.status !== 'continue') return;
  }
}

/** The optimized passes go over [start, ngroups) then wrap around to [0, start): `pass(start, end)` for each range until one finds. */
function wrapAround(ac: AllocationContext, start: number, pass: (start: number, end: number) => void): void {
  pass(start, ac.geo.ngroups);
  if (ac.status === 'continue' && start > 0) pass(0, start);
}

/** ext4_mb_scan_groups_p2_aligned: groups by their largest free order, from the request's up. */
function ext4_mb_scan_groups_p2_aligned(ac: AllocationContext, start: number): void {
  const orders = xaOrders(ac, 'largest');
  wrapAround(ac, start, (s, e) => {
    for (let i = ac.order2; i <= ac.geo.maxOrder && ac.status === 'continue'; i++) ext4_mb_scan_groups_xa_range(ac, orders, i, s, e);
  });
  if (ac.status === 'continue') ac.criteria = CR_GOAL_LEN_FAST;
}

/** ext4_mb_scan_groups_goal_fast: groups by their average free extent, from the goal's order up. */
function ext4_mb_scan_groups_goal_fast(ac: AllocationContext, start: number): void {
  const orders = xaOrders(ac, 'avg');
  wrapAround(ac, start, (s, e) => {
    for (let i = mb_avg_fragment_size_order(ac.geo, ac.g.len); i <= ac.geo.maxOrder && ac.status === 'continue'; i++) ext4_mb_scan_groups_xa_range(ac, orders, i, s, e);
  });
  if (ac.status === 'continue') ac.criteria = (ac.flags & EXT4_MB_HINT_DATA) !== 0 ? CR_BEST_AVAIL_LEN : CR_GOAL_LEN_SLOW;
}

/**
 * ext4_mb_scan_groups_best_avail: the goal trimmed to a power of two, down
 * by up to s_mb_best_avail_max_trim_order orders (not below the request,
 * as the kernel reckons it: fls, one order above), each on the groups
 * whose average free extent is of its order.  Found: the trimmed goal is
 * what is allocated.  None: the goal becomes ac_orig_goal_len again, which
 * for a locality-group request is the request itself (its normalization
 * to s_mb_group_prealloc does not set it), so CR_GOAL_LEN_SLOW then looks
 * for the request alone and no group preallocation is made.
 */
function ext4_mb_scan_groups_best_avail(ac: AllocationContext, start: number): void {
  const orders = xaOrders(ac, 'avg');
  let order = fls(ac.g.len) - 1;
  if (order - 1 > ac.geo.maxOrder + 1) order = ac.geo.maxOrder + 1;
  let minOrder = Math.max(0, order - MB_BEST_AVAIL_TRIM_ORDER);
  if (2 ** minOrder < ac.o.len) minOrder = fls(ac.o.len);
  wrapAround(ac, start, (s, e) => {
    for (let i = order; i >= minOrder && ac.status === 'continue'; i--) {
      ac.g.len = 2 ** i;
      ext4_mb_scan_groups_xa_range(ac, orders, mb_avg_fragment_size_order(ac.geo, ac.g.len), s, e);
    }
  });
  if (ac.status !== 'continue') return;
  ac.g.len = ac.origGoalLen;
  ac.criteria = CR_GOAL_LEN_SLOW;
}

/**
 * ext4_mb_scan_groups: one criterion's pass over the groups, from the
 * goal's.  With mb_optimize_scan and a cheap criterion, the loaded groups
 * on the criterion's lists; else every group in turn.  (The RFC's aligned
 * search, model: every group in turn.)
 */
function ext4_mb_scan_groups(ac: AllocationContext, alignedOnly = false): void {
  const start = ac.g.group >= ac.geo.ngroups ? 0 : ac.g.group;
  ac.prefetchGrp = start;
  ac.prefetchNr = 0;
  // should_optimize_scan
  if (!ac.geo.optimizeScan || alignedOnly || ac.criteria >= CR_GOAL_LEN_SLOW) {
    ext4_mb_scan_groups_linear(ac, start);
    return;
  }
  match(ac.criteria)
    .with(CR_POWER2_ALIGNED, () => ext4_mb_scan_groups_p2_aligned(ac, start))
    .with(CR_GOAL_LEN_FAST, () => ext4_mb_scan_groups_goal_fast(ac, start))
    .with(CR_BEST_AVAIL_LEN, () => ext4_mb_scan_groups_best_avail(ac, start))
    .otherwise(() => {
      throw new Error(`ext4_mb_scan_groups: criterion ${ac.criteria} is never optimized`);
    });
}

/**
 * ext4_mb_regular_allocator: the goal, then the criteria passes over the
 * groups; if they end with something short of the goal, that is taken
 * (ext4_mb_try_best_found), else the first free extent anywhere
 * (EXT4_MB_HINT_FIRST, CR_ANY_FREE).
 *
 * RFC (aligned requests): only the aligned search (ext4_mb_scan_aligned),
 * in every group (a naturally aligned extent or nothing, never the best
 * found or the first free extent).  Variant ext4-rfc-mballoc-unaligned:
 * the aligned hint is dropped, the search is the ordinary one.
 */
function ext4_mb_regular_allocator(ac: AllocationContext): void {
  const geo = ac.geo;
  ext4_mb_find_by_goal(ac);
  if (ac.status === 'found' || (ac.flags & EXT4_MB_HINT_GOAL_ONLY) !== 0) return;
  const i = Math.floor(Math.log2(ac.g.len)) + 1;
  ac.order2 = 0;
  if (i >= MB_ORDER2_REQS && i <= geo.maxOrder + 1 && (ac.g.len & (ac.g.len - 1)) === 0) ac.order2 = i - 1;
  // The start in the group does not matter: the scans begin at the group's first free cluster.
  if ((ac.flags & EXT4_MB_STREAM_ALLOC) !== 0) ac.g.group = mbState(ac.sb).lastGroup;
  const alignedOnly = (ac.flags & EXT4_MB_HINT_ALIGNED) !== 0 && !ac.sb.k.v.on('ext4-rfc-mballoc-unaligned');
  ac.criteria = ac.order2 > 0 || alignedOnly ? CR_POWER2_ALIGNED : CR_GOAL_LEN_FAST;
  ac.prefetchIos = 0;
  ext4_mb_scan_criteria(ac, alignedOnly);
  if (ac.prefetchNr > 0) ext4_mb_prefetch_fini(ac);
}

/** The criteria passes of ext4_mb_regular_allocator, then its last resorts. */
function ext4_mb_scan_criteria(ac: AllocationContext, alignedOnly: boolean): void {
  const geo = ac.geo;
  if (alignedOnly) {
    ext4_mb_scan_groups(ac, true);
    return;
  }
  for (;;) {
    while (ac.criteria < EXT4_MB_NUM_CRS) {
      if (ac.criteria === CR_POWER2_ALIGNED && ac.order2 === 0) {
        ac.criteria++;
        continue;
      }
      ext4_mb_scan_groups(ac);
      if (ac.status !== 'continue') break;
    }
    if (ac.b.len > 0 && !isFound(ac) && (ac.flags & EXT4_MB_HINT_FIRST) === 0) {
      // ext4_mb_try_best_found
      const gi = groupInfo(ac.sb, geo, ac.b.group);
      const max = mb_find_extent(gi, geo, ac.b.start, ac.b.len);
      if (max > 0) {
        ac.b.len = max;
        ext4_mb_use_best_found(ac);
      }
      if (!isFound(ac)) {
        ac.b = { group: 0, start: 0, len: 0, logical: 0 };
        ac.status = 'continue';
        ac.flags |= EXT4_MB_HINT_FIRST;
        ac.criteria = CR_ANY_FREE;
        continue;
      }
    }
    return;
  }
}

// ---- preallocations -----------------------------------------------------------

/** ext4_mb_new_preallocation: the found extent's rest is kept for the file (ext4_mb_new_inode_pa) or the locality group (ext4_mb_new_group_pa). */
function ext4_mb_new_preallocation(ac: AllocationContext): void {
  const geo = ac.geo;
  const mb = mbState(ac.sb);
  const pstart = toBlock(geo, ac.b);
  const lenBlocks = ac.b.len * geo.ratio;
  if ((ac.flags & EXT4_MB_HINT_GROUP_ALLOC) !== 0) {
    const pa = new Ext4PreallocSpace('group', pstart, pstart, lenBlocks, null);
    mb.pas.add(pa);
    ac.sb.alloc.preallocated += lenBlocks;
    ext4_mb_use_group_pa(ac, pa);
    return;
  }
  // ext4_mb_new_inode_pa: found less than the goal, the preallocation still covers the original request.
  if (ac.b.len < ac.origGoalLen) {
    const origEnd = ac.g.logical + ac.origGoalLen * geo.ratio;
    const oEnd = ac.o.logical + ac.o.len * geo.ratio;
    let logical = origEnd - lenBlocks;
    if (ac.o.logical < logical) {
      logical = ac.g.logical;
      if (oEnd > logical + lenBlocks) logical = ac.o.logical;
    }
    ac.b.logical = logical;
  }
  const pa = new Ext4PreallocSpace('inode', pstart, ac.b.logical, lenBlocks, ac.inode);
  mb.pas.add(pa);
  const list = inodePas(ac.inode);
  list.push(pa);
  list.sort((x, y) => x.lstart - y.lstart);
  ac.sb.alloc.preallocated += lenBlocks;
  ext4_mb_use_inode_pa(ac, pa);
}

/** Take `pa` off `list` if it is there. */
function dropFrom(list: Ext4PreallocSpace[], pa: Ext4PreallocSpace): void {
  const i = list.indexOf(pa);
  if (i >= 0) list.splice(i, 1);
}

/** Drop a preallocation from every list it is on (ext4_mb_mark_pa_deleted and the list and tree removals). */
function unlinkPa(sb: SuperBlock, pa: Ext4PreallocSpace): void {
  const mb = mbState(sb);
  pa.deleted = true;
  mb.pas.delete(pa);
  if (pa.inode !== null) dropFrom(inodePas(pa.inode), pa);
  for (const l of mb.lg) dropFrom(l, pa);
}

/**
 * ext4_mb_release_inode_pa / ext4_mb_release_group_pa: the blocks of a
 * discarded preallocation that no file took go back to the buddy.
 * Variant ext4-mb-discard-leak: an inode preallocation gives back pa_free
 * blocks from its start, whichever blocks were taken (a miscount of the
 * kind ext4_mb_release_inode_pa's "free %u, pa_free %u" check reports).
 */
function ext4_mb_release_pa(sb: SuperBlock, pa: Ext4PreallocSpace): number {
  const free = pa.free();
  if (pa.type === 'inode' && sb.k.v.on('ext4-mb-discard-leak')) {
    if (free > 0) sb.alloc.free.set(pa.pstart, pa.pstart + free, true);
  } else {
    for (const e of pa.unused.entries()) sb.alloc.free.set(e.start, e.end, true);
  }
  sb.alloc.preallocated -= pa.take(pa.pstart, pa.pstart + pa.len);
  return free;
}

/** ext4_discard_preallocations: a file's preallocations go (truncate, punch, collapse, the last writer's close). */
export function ext4_discard_preallocations(inode: Inode): void {
  if (inode.kind !== 'reg') return;
  for (const pa of [...inodePas(inode)]) {
    ext4_mb_release_pa(inode.sb, pa);
    unlinkPa(inode.sb, pa);
  }
}

/** ext4_mb_discard_preallocations: out of space, preallocations (group by group) until `needed` blocks are back. */
function ext4_mb_discard_preallocations(sb: SuperBlock, needed: number): number {
  const geo = geometry(sb);
  const byGroup = [...mbState(sb).pas].sort((a, b) => groupOf(geo, a.pstart).group - groupOf(geo, b.pstart).group);
  let freed = 0;
  let group = -1;
  for (const pa of byGroup) {
    const g = groupOf(geo, pa.pstart).group;
    if (g !== group && freed >= needed) break;
    group = g;
    freed += ext4_mb_release_pa(sb, pa);
    unlinkPa(sb, pa);
  }
  return freed;
}

/**
 * ext4_mb_add_n_trim: the locality group's preallocation goes on the list
 * of its order of free clusters, sorted by free clusters; a list longer
 * than 8 is trimmed (ext4_mb_discard_lg_preallocations) down to 5.
 */
function ext4_mb_add_n_trim(sb: SuperBlock, pa: Ext4PreallocSpace): void {
  const mb = mbState(sb);
  const order = Math.min(PREALLOC_TB_SIZE - 1, Math.floor(Math.log2(pa.free())));
  const list = mb.lg[order]!;
  const at = list.findIndex((p) => pa.free() < p.free());
  if (at < 0) list.push(pa);
  else list.splice(at, 0, pa);
  if (list.length > 8) {
    let total = list.length;
    for (const p of [...list]) {
      if (p === pa) continue;
      ext4_mb_release_pa(sb, p);
      unlinkPa(sb, p);
      if (--total <= 5) break;
    }
  }
}

/**
 * ext4_mb_release_context: a locality-group preallocation moves past the
 * blocks used and is re-filed by what it has left; a preallocation used up
 * is deleted (ext4_mb_put_pa).
 */
function ext4_mb_release_context(ac: AllocationContext): void {
  const pa = ac.pa;
  if (pa === null) return;
  const sb = ac.sb;
  if (pa.type === 'group') {
    const used = ac.b.len * ac.geo.ratio;
    for (const l of mbState(sb).lg) dropFrom(l, pa);
    pa.pstart += used;
    pa.lstart += used;
    pa.len -= used;
    if (pa.free() > 0) ext4_mb_add_n_trim(sb, pa);
  }
  // ext4_mb_put_pa
  if (pa.free() === 0) unlinkPa(sb, pa);
}

/** A failed aligned allocation, for alloc/aligned-fails-only-when-none-free. */
function reportAlignedFailure(inode: Inode, ar: Ext4AllocationRequest): void {
  const k = inode.sb.k;
  if (k.recording) k.emit({ t: 'aligned-alloc-fail', ino: inode.ino, lblk: ar.logical, len: ar.len });
}

/**
 * ext4_calculate_resv_clusters (fs/ext4/super.c, s_resv_clusters): the
 * clusters an extent-mapped file system keeps back from ordinary
 * allocations and delalloc reservations, for the metadata that writeback
 * and unwritten conversion may need (EXT4_MB_USE_RESERVED dips into them):
 * 2% of the clusters or 4096, whichever is smaller.
 */
export function ext4_calculate_resv_clusters(sb: SuperBlock): number {
  return Math.min(Math.floor(Math.floor(sb.alloc.totalBlocks / sb.clusterRatio) / 50), 4096);
}

/**
 * ext4_has_free_clusters (fs/ext4/balloc.c), in blocks: what may still be
 * claimed, for an allocation without a delalloc reservation
 * (ext4_claim_free_clusters) or for a delalloc reservation
 * (ext4_da_reserve_space): the free clusters (s_freeclusters_counter, which
 * counts blocks freed in a transaction not yet committed as free at once:
 * ext4_mb_clear_bb) less those promised to delayed allocations
 * (s_dirtyclusters_counter) and the reserved pool (s_resv_clusters).  The
 * caller is root (CAP_SYS_RESOURCE), so the root-reserved blocks
 * (r_blocks_count) are not held back; no request of the model asks for
 * EXT4_MB_USE_RESERVED (it allocates no extent tree blocks), so none dips
 * into the pool.
 */
export function ext4_claimable_blocks(sb: SuperBlock): number {
  const busy = sb.busyBlocks().reduce((a, [, n]) => a + n, 0);
  return Math.max(0, sb.alloc.available() + busy - ext4_calculate_resv_clusters(sb) * sb.clusterRatio);
}

/** ext4_has_free_clusters: whether `nclusters` may be claimed (ext4_claimable_blocks). */
export function ext4_has_free_clusters(sb: SuperBlock, nclusters: number): boolean {
  return ext4_claimable_blocks(sb) >= nclusters * sb.clusterRatio;
}

/**
 * ext4_mb_new_blocks: blocks for `ar`, at most `ar.len` (fewer when only a
 * shorter extent is free), from a preallocation or the buddy; -ENOSPC when
 * nothing is free after discarding the preallocations.  The blocks are
 * taken from the in-core buddy; the caller records them on disk with the
 * extent (ext4_mb_mark_diskspace_used in the same handle).
 *
 * RFC, TODO 1 of the cover letter ("Fallback to original request size
 * when normalized request size (due to preallocation) allocation is not
 * possible"): an aligned request whose normalized size finds no aligned
 * extent is retried at its own size.  Variant
 * ext4-rfc-aligned-no-fallback: as posted, without the fallback.
 */
export function ext4_mb_new_blocks(inode: Inode, ar0: Ext4AllocationRequest): Allocation | number {
  const sb = inode.sb;
  const geo = geometry(sb);
  let ar = ar0;
  if ((ar.flags & EXT4_MB_DELALLOC_RESERVED) === 0) {
    // ext4_claim_free_clusters: only clusters not promised to delayed allocations
    // (s_dirtyclusters_counter) nor kept in the reserved pool; the request halves
    // until it fits, ENOSPC at none.
    let clusters = Math.ceil(ar.len / geo.ratio);
    while (clusters > 0 && !ext4_has_free_clusters(sb, clusters)) clusters >>= 1;
    if (clusters === 0) return -ENOSPC;
    if (clusters * geo.ratio < ar.len) ar = { ...ar, len: clusters * geo.ratio };
  }
  for (let retries = 0; ; retries++) {
    const ac = new AllocationContext(sb, geo, inode, ar);
    if (!ext4_mb_use_preallocated(ac)) {
      ext4_mb_normalize_request(ac);
      ext4_mb_regular_allocator(ac);
      const aligned = (ac.flags & EXT4_MB_HINT_ALIGNED) !== 0;
      if (ac.status !== 'found' && aligned && ac.g.len > ac.o.len && !sb.k.v.on('ext4-rfc-aligned-no-fallback')) {
        ac.g = { ...ac.o };
        ac.origGoalLen = ac.o.len;
        ac.status = 'continue';
        ac.b = { group: 0, start: 0, len: 0, logical: 0 };
        ext4_mb_regular_allocator(ac);
      }
    }
    if (ac.status === 'found') {
      const pblk = toBlock(geo, ac.b);
      const len = ac.b.len * geo.ratio;
      ext4_mb_release_context(ac);
      return { pblk, len };
    }
    // ext4_mb_discard_preallocations_should_retry, then ext4_should_retry_alloc (a commit frees the busy blocks).
    if (retries < 2 && ext4_mb_discard_preallocations(sb, ac.o.len * geo.ratio) > 0) continue;
    if (retries < 3 && sb.hasBusy()) {
      sb.journal.commit();
      continue;
    }
    if ((ar.flags & EXT4_MB_HINT_ALIGNED) !== 0) reportAlignedFailure(inode, ar);
    return -ENOSPC;
  }
}

/**
 * ext4_inode_to_goal_block: with flex_bg and delalloc, the first block of
 * the group after the first of the inode's flex group (regular files leave
 * the first group to directories).  Every inode of a file system of at
 * most 16 groups is in flex group 0 (find_group_orlov spreads directories
 * over flex groups, of which there is one), so that is group 1.  (With
 * more flex groups, orlov picks a directory's at random; the model keeps
 * every inode in flex group 0.)
 */
export function ext4_inode_to_goal_block(inode: Inode): number {
  const geo = geometry(inode.sb);
  return groupFirst(geo, geo.ngroups > 1 && inode.kind === 'reg' ? 1 : 0);
}

/** The live preallocations of a file system, for the allocation invariants. */
export function ext4_preallocations(sb: SuperBlock): Array<{ readonly pblk: number; readonly len: number; readonly who: () => string }> {
  const out: Array<{ pblk: number; len: number; who: () => string }> = [];
  for (const pa of mbState(sb).pas) {
    const who = (): string => (pa.type === 'inode' ? `inode ${pa.inode?.ino ?? '?'}'s preallocation at file block ${pa.lstart}` : `the locality group's preallocation at block ${pa.pstart}`);
    for (const e of pa.unused.entries()) out.push({ pblk: e.start, len: e.end - e.start, who });
  }
  return out;
}

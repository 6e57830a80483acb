/**
 * Allocation invariants: blocks are owned once, and nothing is lost.
 */
import type { CheckContext } from './invariant.ts';
import { invariant } from './invariant.ts';
import type { System } from '../model/system.ts';
import type { RefcountMap } from '../model/fs/refcount.ts';
import type { ExtentMap } from '../model/fs/extent.ts';
import { IntervalMap } from '../model/lib/interval-map.ts';

interface Owner {
  readonly pblk: number;
  readonly len: number;
  readonly ino: number;
  readonly lblk: number;
  /** Another fork than the data fork (XFS's COW staging): its name; null for a data-fork mapping. */
  readonly fork: string | null;
}

/** A block of another fork than the data fork, not a data-fork mapping. */
const staging = (o: Owner): boolean => o.fork !== null;

/** The owner as a message names it (built only for a message). */
function who(o: Owner): string {
  return o.fork === null ? `inode ${o.ino} block ${o.lblk}` : `inode ${o.ino} ${o.fork.toUpperCase()} fork block ${o.lblk}`;
}

/**
 * The physical blocks one block map (a data fork, or another fork) maps,
 * as of its change counter (kept in the map's `memo`); the same list, with
 * the same id, as before while they are the same blocks at the same
 * offsets (a delayed allocation changes the map, not what it owns), so
 * that the checks' fingerprint stays put.
 */
interface OwnerList {
  seq: number;
  readonly id: number;
  readonly owners: Owner[];
}
let nextListId = 1;

function mapOwners(map: ExtentMap, ino: number, fork: string | null): OwnerList {
  const c = map.memo as OwnerList | null;
  if (c !== null && c.seq === map.seq) return c;
  const owners: Owner[] = [];
  for (const e of map.entries()) if (e.v.pblk >= 0) owners.push({ pblk: e.v.pblk, len: e.end - e.start, ino, lblk: e.start, fork });
  if (c !== null && c.owners.length === owners.length) {
    let same = true;
    for (let i = 0; i < owners.length && same; i++) {
      const o = c.owners[i]!;
      const p = owners[i]!;
      same = o.pblk === p.pblk && o.len === p.len && o.lblk === p.lblk && o.ino === ino && o.fork === fork;
    }
    if (same) {
      c.seq = map.seq;
      return c;
    }
  }
  const l: OwnerList = { seq: map.seq, id: nextListId++, owners };
  map.memo = l;
  return l;
}

/** Every in-memory block map's owner list (data forks, then each inode's other forks). */
function ownerLists(sys: System): OwnerList[] {
  const out: OwnerList[] = [];
  for (const inode of sys.sb.inodes.values()) {
    out.push(mapOwners(inode.extents, inode.ino, null));
    for (const fork of sys.sb.ops.extra_forks?.(inode) ?? []) out.push(mapOwners(fork.map, inode.ino, fork.name));
  }
  return out;
}

function onDiskOwners(sys: System): Owner[] {
  const out: Owner[] = [];
  for (const d of sys.sb.image.inodes.values()) {
    for (const e of d.extents.entries()) out.push({ pblk: e.v.pblk, len: e.end - e.start, ino: d.ino, lblk: e.start, fork: null });
  }
  return out;
}

/**
 * What the in-memory allocation checks depend on: every block map (what
 * each owns), the refcount and free-space maps, the blocks being freed.
 * When a step changed none of them, a check that passed before passes
 * again and is not redone (long runs stay linear).
 */
function allocFingerprint(sys: System, lists: readonly OwnerList[]): number[] {
  const sb = sys.sb;
  const out: number[] = [];
  for (const l of lists) out.push(l.id);
  out.push(-1, sb.refcount.uid, sb.refcount.seq, sb.alloc.free.uid, sb.alloc.free.seq, sb.alloc.preallocated, -1);
  for (const [p, n] of sb.busyBlocks()) out.push(p, n);
  return out;
}

/**
 * The in-memory allocation state as of its fingerprint, with the owners and
 * their runs computed at most once for it: the checks that read them share
 * them (they were rebuilt by each check at every step that allocated).
 */
interface AllocState {
  /** The step it was taken at: the checks of one step read the same state (checks change nothing). */
  n: number;
  readonly fp: number[];
  readonly lists: readonly OwnerList[];
  owners: Owner[] | null;
  runs: Run[] | null;
}
const ALLOC_STATE = new WeakMap<System, AllocState>();

function allocState(sys: System, n: number): AllocState {
  const last = ALLOC_STATE.get(sys);
  if (last !== undefined && last.n === n) return last;
  const lists = ownerLists(sys);
  const fp = allocFingerprint(sys, lists);
  if (last !== undefined && last.fp.length === fp.length && last.fp.every((x, i) => x === fp[i])) {
    last.n = n;
    return last;
  }
  const s: AllocState = { n, fp, lists, owners: null, runs: null };
  ALLOC_STATE.set(sys, s);
  return s;
}

function ownersOf(s: AllocState): Owner[] {
  if (s.owners === null) {
    const all: Owner[] = [];
    for (const l of s.lists) for (const o of l.owners) all.push(o);
    s.owners = all;
  }
  return s.owners;
}
const runsOf = (s: AllocState): Run[] => (s.runs ??= ownedRuns(ownersOf(s)));

/** Has this check passed on this very state (the fingerprint at its last pass)? */
function unchangedSincePass(seen: WeakMap<System, number[]>, sys: System, n: number): { state: AllocState; same: boolean; passed: () => void } {
  const state = allocState(sys, n);
  return { state, same: seen.get(sys) === state.fp, passed: () => seen.set(sys, state.fp) };
}
const DOUBLE_PASSED = new WeakMap<System, number[]>();
const HELD_PASSED = new WeakMap<System, number[]>();
const REFCOUNT_PASSED = new WeakMap<System, number[]>();

/** Physical runs with the owners that map them (a sweep over the owner intervals, sorted by block). */
interface Run {
  readonly start: number;
  readonly end: number;
  readonly owners: Owner[];
}

function ownedRuns<O extends { readonly pblk: number; readonly len: number }>(owners: readonly O[]): Array<{ start: number; end: number; owners: O[] }> {
  // Nothing shared or doubly mapped (most states): each owner, in block order, is a run of its own.
  const byBlock = owners.slice().sort((a, b) => a.pblk - b.pblk);
  let disjoint = true;
  for (let i = 1; i < byBlock.length && disjoint; i++) disjoint = byBlock[i]!.pblk >= byBlock[i - 1]!.pblk + byBlock[i - 1]!.len;
  if (disjoint) return byBlock.filter((o) => o.len > 0).map((o) => ({ start: o.pblk, end: o.pblk + o.len, owners: [o] }));
  const ev: Array<[number, number, O]> = [];
  for (const o of owners) ev.push([o.pblk, 1, o], [o.pblk + o.len, -1, o]);
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const active = new Set<O>();
  const out: Array<{ start: number; end: number; owners: O[] }> = [];
  for (let i = 0; i < ev.length; ) {
    const pos = ev[i]![0];
    for (; i < ev.length && ev[i]![0] === pos; i++) {
      if (ev[i]![1] > 0) active.add(ev[i]![2]);
      else active.delete(ev[i]![2]);
    }
    if (active.size > 0 && i < ev.length) out.push({ start: pos, end: ev[i]![0], owners: [...active] });
  }
  return out;
}

/** With bigalloc a cluster is in use as a whole when any of its blocks is mapped: the clusters a run touches. */
function wholeClusters(o: { readonly pblk: number; readonly len: number }, ratio: number): { pblk: number; len: number } {
  const pblk = o.pblk - (o.pblk % ratio);
  return { pblk, len: Math.ceil((o.pblk + o.len) / ratio) * ratio - pblk };
}

/** The owner count a refcount map records for block `pblk` (1 where there is no record). */
function recorded(map: RefcountMap, pblk: number): number {
  return map.find(pblk)?.v ?? 1;
}

export const noDoubleAllocation = invariant({
  id: 'alloc/no-double-allocation',
  statement:
    'No physical block is mapped by two file blocks unless it is deliberately shared (reflink, with a reference count that says so), and no mapped block is also in the free-space map: the allocator never hands out a block that is still in use.',
  source: 'fs/ext4/mballoc.c: ext4_mb_new_blocks, ext4_free_blocks; fs/xfs/libxfs/xfs_alloc.c: xfs_alloc_vextent, xfs_free_extent',
  kind: 'state',
  events: false,
  check(ctx: CheckContext): string | null {
    const since = unchangedSincePass(DOUBLE_PASSED, ctx.sys, ctx.n);
    if (since.same) return null;
    const owners = ownersOf(since.state);
    for (const r of runsOf(since.state)) {
      if (r.owners.length < 2) continue;
      if (r.owners.some(staging) || recorded(ctx.sys.sb.refcount, r.start) < r.owners.length) {
        return `step ${ctx.n}: physical block ${r.start} is mapped by both ${who(r.owners[0]!)} and ${who(r.owners[1]!)}, and is not shared by reflink`;
      }
    }
    const free = ctx.sys.sb.alloc.free;
    for (const o of owners) {
      if (free.intersects(o.pblk, o.pblk + o.len)) {
        const e = free.overlapping(o.pblk, o.pblk + o.len)[0]!;
        return `step ${ctx.n}: physical block ${Math.max(e.start, o.pblk)} is mapped by ${who(o)} but is in the free-space map`;
      }
    }
    since.passed();
    return null;
  },
});

/** Reference counts against mappings: the first mismatch, or null. */
function refcountProblem(runs: readonly Run[], map: RefcountMap, free: { intersects(a: number, b: number): boolean }, busy: ReadonlyArray<readonly [number, number]>, where: string): string | null {
  // Blocks being freed, as one sorted map (a file system that commits rarely, as btrfs does, has many).
  const freeing = new IntervalMap<true>((v) => v, () => true);
  for (const [p, n] of busy) freeing.set(p, p + n, true);
  for (const r of runs) {
    let mapped = 0;
    for (const o of r.owners) if (!staging(o)) mapped++;
    const rec = recorded(map, r.start);
    if (mapped < r.owners.length && (mapped > 0 || rec > 1)) return `${where}physical block ${r.start} is CoW staging for ${who(r.owners.find(staging)!)} but is also mapped or shared`;
    if (mapped > 0 && rec !== mapped) return `${where}physical block ${r.start} is mapped by ${mapped} file block(s) (${r.owners.map(who).join(', ')}) but its reference count is ${rec}`;
    if (free.intersects(r.start, r.end)) return `${where}physical block ${r.start} is freed while ${who(r.owners[0]!)} still references it`;
    const f = freeing.overlapping(r.start, r.end)[0];
    if (f !== undefined) return `${where}physical block ${f.start} is being freed while ${who(r.owners[0]!)} still references it`;
  }
  // Every block with a record is mapped (runs are sorted and disjoint).
  let j = 0;
  for (const e of map.entries()) {
    while (j < runs.length && runs[j]!.end <= e.start) j++;
    let p = e.start;
    for (let k = j; k < runs.length && runs[k]!.start < e.end && runs[k]!.start <= p; k++) p = Math.max(p, runs[k]!.end);
    if (p < e.end) return `${where}physical block ${p} has a reference count of ${e.v} but nothing maps it`;
  }
  return null;
}

export const refcountConsistent = invariant({
  id: 'alloc/refcount-consistent',
  statement:
    "A block's reference count equals the number of file mappings that point to it (one when it has no refcount record), CoW staging blocks belong to exactly one COW fork and are neither mapped nor shared, and nothing is freed while it is referenced — in memory after every step, and on disk after every mount.",
  source: 'fs/xfs/libxfs/xfs_refcount.c: xfs_refcount_increase_extent, xfs_refcount_decrease_extent; fs/xfs/xfs_reflink.c: xfs_reflink_remap_extent, xfs_reflink_end_cow_extent; xfs_repair refcount checks',
  kind: 'state',
  events: false,
  check(ctx: CheckContext): string | null {
    const sb = ctx.sys.sb;
    const since = unchangedSincePass(REFCOUNT_PASSED, ctx.sys, ctx.n);
    if (!since.same) {
      const p = refcountProblem(runsOf(since.state), sb.refcount, sb.alloc.free, sb.busyBlocks(), `step ${ctx.n}: `);
      if (p !== null) return p;
      since.passed();
    }
    if (ctx.step.op !== 'remount') return null;
    return refcountProblem(ownedRuns(onDiskOwners(ctx.sys)), sb.image.refcount, sb.image.free, [], `step ${ctx.n}: after mount, `);
  },
});

export const noLeakAfterRemount = invariant({
  id: 'alloc/no-leak-after-remount',
  statement:
    'After any unmount or crash and the next mount (log recovery), every data block of the file system is either free or mapped by a file: no block is lost to a half-finished allocation or free, and none is both.',
  source: 'fs/xfs/xfs_log_recover.c (transactions replay whole); fs/jbd2/recovery.c; e2fsck/xfs_repair block accounting',
  kind: 'state',
  events: false,
  check(ctx: CheckContext): string | null {
    if (ctx.step.op !== 'remount') return null;
    const sb = ctx.sys.sb;
    const img = sb.image;
    const owners = onDiskOwners(ctx.sys);
    const runs = ownedRuns(owners);
    for (const r of runs) {
      if (r.owners.length > 1 && recorded(img.refcount, r.start) < r.owners.length) return `step ${ctx.n}: after mount, physical block ${r.start} is mapped by both ${who(r.owners[0]!)} and ${who(r.owners[1]!)}`;
    }
    for (const o of owners) {
      if (img.free.intersects(o.pblk, o.pblk + o.len)) return `step ${ctx.n}: after mount, block ${o.pblk} of ${who(o)} is also free on disk`;
    }
    const first = sb.alloc.firstDataBlock;
    const total = sb.alloc.totalBlocks;
    const cr = sb.clusterRatio;
    const inUse = cr === 1 ? owners : owners.map((o) => ({ ...o, ...wholeClusters(o, cr) }));
    const used = ownedRuns(inUse).reduce((a, r) => a + (r.end - r.start), 0);
    const free = img.free.covered(first, total);
    const meta = img.metadata.reduce((a, [s, e]) => a + (e - s), 0);
    if (used + free + meta !== total - first) {
      // Find the first leaked block.
      const all = inUse.map((o) => [o.pblk, o.pblk + o.len] as [number, number]);
      for (const [s, e] of img.metadata) all.push([s, e]);
      for (const e of img.free.entries()) all.push([e.start, e.end]);
      all.sort((a, b) => a[0] - b[0]);
      let pos = first;
      for (const [a, b] of all) {
        if (a > pos) return `step ${ctx.n}: after mount, blocks ${pos}..${a - 1} are neither free nor mapped by any file (leaked)`;
        pos = Math.max(pos, b);
      }
      if (pos < total) return `step ${ctx.n}: after mount, blocks ${pos}..${total - 1} are neither free nor mapped (leaked)`;
      return `step ${ctx.n}: after mount, ${used} mapped + ${free} free blocks != ${total - first} data blocks`;
    }
    return null;
  },
});

export const alignedWhenRequired = invariant({
  id: 'alloc/aligned-when-required',
  statement:
    "Blocks allocated for a write that needs them physically contiguous and naturally aligned — an RWF_ATOMIC write the device does in one REQ_ATOMIC bio: on ext4 with bigalloc, whose clusters give the alignment, and with the RFC's aligned mballoc — put each of the write's file blocks at the same offset from one physical start that is a multiple of the write's length. When no such extent can be had, the allocation fails and the write returns an error; it never hands out a misaligned extent, or a preallocated one whose alignment nobody checked.",
  source: "seed 004 (ext4 atomic direct writes with aligned allocation in mballoc: \"If for any reason we are not able to obtain blocks at given alignment we fail the atomic write\"; TODO: preallocation and normalized requests); Documentation/filesystems/ext4/atomic_writes.rst (\"Bigalloc ensures that all allocations are aligned to the cluster size\"); fs/ext4/inode.c: ext4_map_blocks_atomic_write",
  kind: 'state',
  events: true,
  check(ctx: CheckContext): string | null {
    for (const e of ctx.sys.events) {
      if (e.t !== 'alloc' || e.align === undefined) continue;
      const start = e.pblk - (e.lblk - e.align.lblk);
      if (start % e.align.len !== 0) {
        return `step ${ctx.n}: file blocks ${e.lblk}..${e.lblk + e.len - 1} of inode ${e.ino}, allocated for an atomic write of ${e.align.len} blocks at file block ${e.align.lblk}, got physical block ${e.pblk}: the write starts at physical block ${start}, not a multiple of ${e.align.len}`;
      }
    }
    return null;
  },
});

export const preallocAccounted = invariant({
  id: 'alloc/prealloc-accounted',
  statement:
    'Where the allocator preallocates (ext4\'s mballoc), every data block is exactly one of: free, used by a file, being freed until the journal commits, held in a preallocation, or file-system metadata. A preallocation never holds a block that is free or that a file uses, and discarding one returns every block it held and no other.',
  source: 'fs/ext4/mballoc.c: "in-core buddy = on-disk bitmap + preallocation descriptors", ext4_mb_release_inode_pa, ext4_mb_release_group_pa, ext4_discard_preallocations',
  kind: 'state',
  events: false,
  check(ctx: CheckContext): string | null {
    const sb = ctx.sys.sb;
    if (sb.ops.held === undefined) return null;
    const since = unchangedSincePass(HELD_PASSED, ctx.sys, ctx.n);
    if (since.same) return null;
    const held = sb.ops.held(sb);
    const runs = new IntervalMap<string>((v) => v, (a, b) => (a.v === b.v ? a.v : null));
    const claim = (a: number, b: number, who: string): string | null => {
      const o = runs.overlapping(a, b)[0];
      if (o !== undefined) return `step ${ctx.n}: block ${Math.max(a, o.start)} is ${o.v} and also ${who}`;
      runs.set(a, b, who);
      return null;
    };
    const r = sb.clusterRatio;
    for (const e of sb.alloc.free.entries()) claim(e.start, e.end, 'free');
    for (const [a, b] of sb.image.metadata) {
      const p = claim(a, b, 'file-system metadata');
      if (p !== null) return p;
    }
    for (const [p, n] of sb.busyBlocks()) {
      const q = claim(p, p + n, 'being freed');
      if (q !== null) return q;
    }
    for (const h of held) {
      const q = claim(h.pblk, h.pblk + h.len, `held in ${h.who}`);
      if (q !== null) return q;
    }
    // Files' blocks (whole clusters with bigalloc), shared ones once.
    const owned = new IntervalMap<true>((v) => v, () => true);
    for (const o of ownersOf(since.state)) {
      const c = wholeClusters(o, r);
      owned.set(c.pblk, c.pblk + c.len, true);
    }
    for (const e of owned.entries()) {
      const o = runs.overlapping(e.start, e.end)[0];
      if (o !== undefined) return `step ${ctx.n}: block ${Math.max(e.start, o.start)} is used by a file and also ${o.v}`;
    }
    const first = sb.alloc.firstDataBlock;
    const gaps = runs.gaps(first, sb.alloc.totalBlocks);
    for (const [a, b] of gaps) {
      if (owned.covered(a, b) !== b - a) {
        const hole = owned.gaps(a, b)[0]!;
        return `step ${ctx.n}: blocks ${hole[0]}..${hole[1] - 1} are neither free, used, being freed, preallocated nor metadata (lost)`;
      }
    }
    since.passed();
    return null;
  },
});

export const mbNormalizeBounds = invariant({
  id: 'alloc/mb-normalize-bounds',
  statement:
    'A normalized allocation request (ext4_mb_normalize_request) contains the first block of the original request, is at most one block group long, and reaches neither into the blocks the file already has on either side nor into another of its preallocations: preallocation only reserves blocks the file can still use, at the offsets it would use them.',
  source: 'fs/ext4/mballoc.c: ext4_mb_normalize_request (its BUG_ON on a range that misses the request), ext4_mb_pa_adjust_overlap, ext4_mb_pa_assert_overlap',
  kind: 'state',
  events: true,
  check(ctx: CheckContext): string | null {
    for (const e of ctx.sys.events) {
      if (e.t !== 'mb-normalize') continue;
      const where = `step ${ctx.n}: inode ${e.ino}'s request for file blocks ${e.lblk}..${e.lblk + e.len - 1} was normalized to ${e.start}..${e.start + e.size - 1}`;
      if (e.start > e.lblk || e.start + e.size <= e.lblk) return `${where}, which does not contain its first block`;
      if (e.size > e.bpg) return `${where}, longer than a block group (${e.bpg} blocks)`;
      for (const [a, b, what] of e.taken) {
        if (a < e.start + e.size && b > e.start) return `${where}, over file blocks ${Math.max(a, e.start)}..${Math.min(b, e.start + e.size) - 1}, which the file ${what}`;
      }
    }
    return null;
  },
});

export const alignedFailsOnlyWhenNoneFree = invariant({
  id: 'alloc/aligned-fails-only-when-none-free',
  statement:
    "An allocation that must be naturally aligned (the RFC's EXT4_MB_HINT_ALIGNED, for an atomic write) fails with ENOSPC only when the file system has no free, naturally aligned extent of the write's length: a request grown for preallocation falls back to the write's own size before the write is failed.",
  source: 'seed 004 (TODO 1: "Fallback to original request size when normalized request size (due to preallocation) allocation is not possible"); fs/ext4/mballoc.c: ext4_mb_new_blocks',
  kind: 'state',
  events: true,
  check(ctx: CheckContext): string | null {
    for (const e of ctx.sys.events) {
      if (e.t !== 'aligned-alloc-fail') continue;
      for (const f of ctx.sys.sb.alloc.free.entries()) {
        const s = Math.ceil(f.start / e.len) * e.len;
        if (s + e.len <= f.end) return `step ${ctx.n}: the aligned allocation of ${e.len} blocks for file block ${e.lblk} of inode ${e.ino} failed with ENOSPC, but blocks ${s}..${s + e.len - 1} are free and aligned`;
      }
    }
    return null;
  },
});

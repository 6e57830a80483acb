/**
 * Allocation invariants: blocks are owned once, and nothing is lost.
 */
import type { CheckContext } from './invariant.ts';
import { invariant } from './invariant.ts';
import type { System } from '../model/system.ts';
import type { RefcountMap } from '../model/fs/refcount.ts';
import { refcountRuns } from '../model/fs/refcount.ts';
import type { ExtentMap } from '../model/fs/extent.ts';
import { IntervalMap } from '../model/lib/interval-map.ts';
import type { Entry } from '../model/lib/interval-map.ts';
import { incrementalMode } from './incremental.ts';

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
  const es = map.entries();
  if (c !== null) {
    // The same blocks at the same offsets: compared as the entries are walked, nothing built.
    let k = 0;
    let same = true;
    for (let i = 0; i < es.length && same; i++) {
      const e = es[i]!;
      if (e.v.pblk < 0) continue;
      const o = c.owners[k++];
      same = o !== undefined && o.pblk === e.v.pblk && o.len === e.end - e.start && o.lblk === e.start && o.ino === ino && o.fork === fork;
    }
    if (same && k === c.owners.length) {
      c.seq = map.seq;
      return c;
    }
  }
  const owners: Owner[] = [];
  for (const e of es) if (e.v.pblk >= 0) owners.push({ pblk: e.v.pblk, len: e.end - e.start, ino, lblk: e.start, fork });
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

/**
 * What the allocation checks keep of one system from step to step
 * (System.memo): a field of the system rather than WeakMaps keyed by it,
 * as docs/design.md asks of bookkeeping about a short-lived object.
 */
interface AllocMemo {
  /** The on-disk owners after the mount of step `n`, and their runs. */
  mounted: Mounted | null;
  /** The in-memory allocation state (allocState). */
  state: AllocState | null;
  /** The fingerprint at each fast-passing check's last pass (passedOn, recordPass). */
  doublePassed: number[] | null;
  heldPassed: number[] | null;
  refcountPassed: number[] | null;
}

function memoOf(sys: System): AllocMemo {
  return (sys.memo ??= { mounted: null, state: null, doublePassed: null, heldPassed: null, refcountPassed: null } satisfies AllocMemo) as AllocMemo;
}

/** The on-disk owners after the mount of step `n`: as they are, in block order (none empty), and their runs. */
interface Mounted {
  readonly n: number;
  readonly owners: Owner[];
  readonly byBlock: Owner[];
  readonly disjoint: boolean;
  readonly runs: Run[];
}

/** The Mounted of step `n`: made once for the checks of that step. */
function mountedOwners(sys: System, n: number): Mounted {
  const memo = memoOf(sys);
  const last = memo.mounted;
  if (last !== null && last.n === n) return last;
  const owners = onDiskOwners(sys);
  const byBlock = inBlockOrder(owners);
  const disjoint = disjointInOrder(byBlock);
  const m = { n, owners, byBlock, disjoint, runs: runsInOrder(byBlock, disjoint) };
  memo.mounted = m;
  return m;
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

/** Is allocFingerprint(sys, ownerLists(sys)) `fp` (compared as it is made, without making it)? */
function sameFingerprint(sys: System, fp: readonly number[]): boolean {
  const sb = sys.sb;
  let k = 0;
  for (const inode of sb.inodes.values()) {
    if (fp[k++] !== mapOwners(inode.extents, inode.ino, null).id) return false;
    const forks = sb.ops.extra_forks?.(inode);
    if (forks !== undefined) for (const fork of forks) if (fp[k++] !== mapOwners(fork.map, inode.ino, fork.name).id) return false;
  }
  if (fp[k++] !== -1 || fp[k++] !== sb.refcount.uid || fp[k++] !== sb.refcount.seq || fp[k++] !== sb.alloc.free.uid || fp[k++] !== sb.alloc.free.seq || fp[k++] !== sb.alloc.preallocated || fp[k++] !== -1) return false;
  for (const [p, n] of sb.busyBlocks()) if (fp[k++] !== p || fp[k++] !== n) return false;
  return k === fp.length;
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
  /** The owners in block order (none empty), and whether no two of them share a block. */
  byBlock: Owner[] | null;
  disjoint: boolean;
}
function allocState(sys: System, n: number): AllocState {
  const memo = memoOf(sys);
  const last = memo.state;
  if (last !== null && last.n === n) return last;
  if (last !== null && sameFingerprint(sys, last.fp)) {
    last.n = n;
    return last;
  }
  const lists = ownerLists(sys);
  const fp = allocFingerprint(sys, lists);
  const s: AllocState = { n, fp, lists, owners: null, runs: null, byBlock: null, disjoint: false };
  memo.state = s;
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
const runsOf = (s: AllocState): Run[] => (s.runs ??= runsInOrder(byBlockOf(s), s.disjoint));

/**
 * Sort by block, in place: an insertion sort (stable), as the owner and
 * range lists here are short and mostly in order already (Array.prototype.sort
 * calls its comparator through the runtime, and cost more than the checks).
 */
function sortByBlock(a: Owner[]): Owner[] {
  for (let i = 1; i < a.length; i++) {
    const x = a[i]!;
    let j = i - 1;
    for (; j >= 0 && a[j]!.pblk > x.pblk; j--) a[j + 1] = a[j]!;
    a[j + 1] = x;
  }
  return a;
}

/**
 * Sort [start, end) pairs laid out flat ([s0, e0, s1, e1, ...]) by start, in
 * place and stable: a natural merge sort.  The lists come in as a few runs
 * already in order (the free space, the metadata, the blocks being freed,
 * the preallocations, one after the other): one pass finds the runs and
 * each round merges them pairwise, O(n log runs).  An insertion sort did
 * this before, and took a third of `check`'s time on the crypto-all-blk-crypto
 * variant's 5,000 sequences: systems with thousands of groups whose metadata
 * ranges each moved back past the free ranges between them (61,056 pairs in
 * one call).
 */
export function sortPairs(p: number[]): number[] {
  let bounds: number[] = [0];
  for (let i = 2; i < p.length; i += 2) if (p[i]! < p[i - 2]!) bounds.push(i);
  if (bounds.length === 1) return p;
  bounds.push(p.length);
  let src = p;
  let dst: number[] = new Array<number>(p.length);
  while (bounds.length > 2) {
    const next: number[] = [0];
    for (let r = 0; r + 1 < bounds.length; r += 2) {
      const lo = bounds[r]!;
      const mid = bounds[r + 1]!;
      const hi = r + 2 < bounds.length ? bounds[r + 2]! : mid;
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid || j < hi) {
        const from = j >= hi || (i < mid && src[i]! <= src[j]!) ? i : j;
        dst[k] = src[from]!;
        dst[k + 1] = src[from + 1]!;
        k += 2;
        if (from === i) i += 2;
        else j += 2;
      }
      next.push(hi);
    }
    bounds = next;
    [src, dst] = [dst, src];
  }
  if (src !== p) for (let i = 0; i < p.length; i++) p[i] = src[i]!;
  return p;
}

function byBlockOf(s: AllocState): Owner[] {
  if (s.byBlock === null) {
    const sorted = sortByBlock(ownersOf(s).filter((o) => o.len > 0));
    s.byBlock = sorted;
    s.disjoint = disjointInOrder(sorted);
  }
  return s.byBlock;
}

/** Does an owner (in block order) share a block with an entry of a map (a merge of the two sorted lists)? */
function anyOwnerIn(byBlock: readonly Owner[], es: readonly Entry<unknown>[]): boolean {
  let j = 0;
  for (const o of byBlock) {
    while (j < es.length && es[j]!.end <= o.pblk) j++;
    if (j === es.length) return false;
    if (es[j]!.start < o.pblk + o.len) return true;
  }
  return false;
}

/** Does an owner share a block with one of a few [block, count) ranges? */
function anyOwnerInRanges(byBlock: readonly Owner[], ranges: ReadonlyArray<readonly [number, number]>): boolean {
  for (const [p, n] of ranges) {
    // The first owner ending past p (owners are disjoint where this is used: their ends are in order too).
    let lo = 0;
    let hi = byBlock.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (byBlock[mid]!.pblk + byBlock[mid]!.len <= p) lo = mid + 1;
      else hi = mid;
    }
    if (lo < byBlock.length && byBlock[lo]!.pblk < p + n) return true;
  }
  return false;
}

/**
 * The checks below decide most states with a merge of sorted lists (a
 * fast pass that only says "nothing wrong"); anything it cannot clear is
 * decided, and described, by the full check.  In 'audit' (the tests) the
 * full check runs after a fast pass too, and must agree.
 */
function fastPassed(fast: boolean, full: () => string | null, id: string): string | null {
  if (!fast) return full();
  if (incrementalMode() === 'audit') {
    const d = full();
    if (d !== null) throw new Error(`checker bug: the fast pass of ${id} cleared a state its full check fails: ${d}`);
  }
  return null;
}

type PassSlot = 'doublePassed' | 'heldPassed' | 'refcountPassed';

/** Has this check passed on this very state (its fingerprint at the check's last pass)?  Nothing allocated: it runs at every step. */
function passedOn(seen: PassSlot, sys: System, s: AllocState): boolean {
  return memoOf(sys)[seen] === s.fp;
}

/** Record that this check passed on this state (see passedOn). */
function recordPass(seen: PassSlot, sys: System, s: AllocState): void {
  memoOf(sys)[seen] = s.fp;
}

/** Physical runs with the owners that map them (a sweep over the owner intervals, sorted by block). */
interface Run {
  readonly start: number;
  readonly end: number;
  readonly owners: Owner[];
}

/** The runs of `owners` (any order; empty ones left out): ownedRuns in block order, as the checks build them (exported for its test). */
export function ownedRuns<O extends { readonly pblk: number; readonly len: number }>(owners: readonly O[]): Array<{ start: number; end: number; owners: O[] }> {
  const byBlock = inBlockOrder(owners);
  return runsInOrder(byBlock, disjointInOrder(byBlock));
}

/** Owners in any order: the non-empty ones in block order (a new array). */
function inBlockOrder<O extends { readonly pblk: number; readonly len: number }>(owners: readonly O[]): O[] {
  return owners.filter((o) => o.len > 0).sort((a, b) => a.pblk - b.pblk);
}

/** Do no two of these owners (in block order) share a block? */
function disjointInOrder(byBlock: ReadonlyArray<{ readonly pblk: number; readonly len: number }>): boolean {
  for (let i = 1; i < byBlock.length; i++) if (byBlock[i]!.pblk < byBlock[i - 1]!.pblk + byBlock[i - 1]!.len) return false;
  return true;
}

/** ownedRuns of owners already in block order (none empty), knowing whether they are disjoint. */
function runsInOrder<O extends { readonly pblk: number; readonly len: number }>(byBlock: readonly O[], disjoint: boolean): Array<{ start: number; end: number; owners: O[] }> {
  const out: Array<{ start: number; end: number; owners: O[] }> = [];
  forEachRun(byBlock, disjoint, (start, end, owners, count) => out.push({ start, end, owners: owners.slice(0, count) }) > 0);
  return out;
}

/**
 * Each run of owners in block order (none empty), knowing whether they are
 * disjoint: `visit(start, end, owners, count)` with the owners over the
 * run's first block, in block order: the first `count` of an array that is
 * reused (copy them to keep them); stops where `visit` returns false, and
 * returns false then.  What the fast checks walk, with no run built (a run
 * object and an owner list per owner at every step that allocated was the
 * checker's largest allocation).
 */
function forEachRun<O extends { readonly pblk: number; readonly len: number }>(byBlock: readonly O[], disjoint: boolean, visit: (start: number, end: number, owners: readonly O[], count: number) => boolean): boolean {
  // Nothing shared or doubly mapped (most states): each owner is a run of its own.
  if (disjoint) {
    const one: O[] = [];
    for (const o of byBlock) {
      one[0] = o;
      if (!visit(o.pblk, o.pblk + o.len, one, 1)) return false;
    }
    return true;
  }
  // Every start and end cuts a run; a run's owners are those over its first block, in block order: a sweep
  // from cut to cut with the owners that have started and not yet ended (they start in block order).  The
  // next cut is the nearer of the next start and the first end among those (a few: no list of cuts is built).
  // The first `na` of `active` are those owners: the array is never shrunk, as a shorter length gave back
  // its storage and the next owner to start allocated it again (2 KB per call).  Small integers throughout
  // (an Infinity for "no next start" made every position a heap number).
  const active: O[] = [];
  let na = 0;
  let next = 0;
  let pos = 0;
  while (next < byBlock.length || na > 0) {
    if (na === 0) pos = Math.max(pos, byBlock[next]!.pblk);
    for (; next < byBlock.length && byBlock[next]!.pblk <= pos; next++) if (byBlock[next]!.pblk + byBlock[next]!.len > pos) active[na++] = byBlock[next]!;
    let cut = next < byBlock.length ? byBlock[next]!.pblk : -1;
    for (let r = 0; r < na; r++) {
      const end = active[r]!.pblk + active[r]!.len;
      if (cut < 0 || end < cut) cut = end;
    }
    if (!visit(pos, cut, active, na)) return false;
    pos = cut;
    // Those ended at the cut leave, in place.
    let w = 0;
    for (let r = 0; r < na; r++) if (active[r]!.pblk + active[r]!.len > pos) active[w++] = active[r]!;
    na = w;
  }
  return true;
}

/** With bigalloc a cluster is in use as a whole when any of its blocks is mapped: the clusters a run touches. */
function wholeClusters(o: { readonly pblk: number; readonly len: number }, ratio: number): { pblk: number; len: number } {
  const pblk = o.pblk - (o.pblk % ratio);
  return { pblk, len: Math.ceil((o.pblk + o.len) / ratio) * ratio - pblk };
}

/** The first block of [start, end) whose recorded owner count (1 where there is no record) is below `need`, or -1. */
function firstShort(map: RefcountMap, start: number, end: number, need: number): number {
  let p = start;
  for (const e of map.overlapping(start, end)) {
    if (e.start > p && need > 1) return p;
    if (e.v < need) return Math.max(e.start, start);
    p = e.end;
  }
  return p < end && need > 1 ? p : -1;
}

/** The first block of a run mapped by two or more owners (the first `count` of `owners`) that is not deliberately shared (staging among them, or a count short of them), or -1. */
function unsharedDouble(map: RefcountMap, start: number, end: number, owners: readonly Owner[], count: number): number {
  if (count < 2) return -1;
  for (let i = 0; i < count; i++) if (staging(owners[i]!)) return start;
  return firstShort(map, start, end, count);
}

export const noDoubleAllocation = invariant({
  id: 'alloc/no-double-allocation',
  statement:
    'No physical block is mapped by two file blocks unless it is deliberately shared (reflink, with a reference count that says so), and no mapped block is also in the free-space map: the allocator never hands out a block that is still in use.',
  source: 'fs/ext4/mballoc.c: ext4_mb_new_blocks, ext4_free_blocks; fs/xfs/libxfs/xfs_alloc.c: xfs_alloc_vextent, xfs_free_extent',
  kind: 'state',
  events: [],
  check(ctx: CheckContext): string | null {
    const s = allocState(ctx.sys, ctx.n);
    if (passedOn('doublePassed', ctx.sys, s)) return null;
    const byBlock = byBlockOf(s);
    const sb = ctx.sys.sb;
    // Nothing mapped is free, and (where owners overlap) each run of two or more is shared by reflink.
    const fast = !anyOwnerIn(byBlock, sb.alloc.free.entries()) && (s.disjoint || forEachRun(byBlock, false, (start, end, owners, count) => unsharedDouble(sb.refcount, start, end, owners, count) < 0));
    const d = fastPassed(fast, () => doubleAllocation(ctx, s), 'alloc/no-double-allocation');
    if (d === null) recordPass('doublePassed', ctx.sys, s);
    return d;
  },
});

/** The full check of alloc/no-double-allocation: the first block mapped twice without a reference count that says so, or mapped and free. */
function doubleAllocation(ctx: CheckContext, s: AllocState): string | null {
  const owners = ownersOf(s);
  for (const r of runsOf(s)) {
    const at = unsharedDouble(ctx.sys.sb.refcount, r.start, r.end, r.owners, r.owners.length);
    if (at >= 0) {
      return `step ${ctx.n}: physical block ${at} is mapped by both ${who(r.owners[0]!)} and ${who(r.owners[1]!)}, and is not shared by reflink`;
    }
  }
  const free = ctx.sys.sb.alloc.free;
  for (const o of owners) {
    if (free.intersects(o.pblk, o.pblk + o.len)) {
      const e = free.overlapping(o.pblk, o.pblk + o.len)[0]!;
      return `step ${ctx.n}: physical block ${Math.max(e.start, o.pblk)} is mapped by ${who(o)} but is in the free-space map`;
    }
  }
  return null;
}

/**
 * The fast pass of refcountProblem: the same conditions, each run of the
 * owners `byBlock` (in block order, none empty; `disjoint` as byBlockOf
 * says) against the records, the free space and the blocks being freed by
 * a merge of sorted lists, walked with no run built (forEachRun).
 */
export function refcountFine(byBlock: readonly Owner[], disjoint: boolean, map: RefcountMap, free: IntervalMap<true>, busy: ReadonlyArray<readonly [number, number]>): boolean {
  const recs = map.entries();
  const fr = free.entries();
  // The blocks being freed, sorted and merged.
  const sorted: number[] = [];
  for (const [p, n] of busy) if (n > 0) sorted.push(p, p + n);
  sortPairs(sorted);
  const bz: number[] = [];
  for (let k = 0; k < sorted.length; k += 2) {
    if (bz.length > 0 && sorted[k]! <= bz[bz.length - 1]!) bz[bz.length - 1] = Math.max(bz[bz.length - 1]!, sorted[k + 1]!);
    else bz.push(sorted[k]!, sorted[k + 1]!);
  }
  let ri = 0;
  let fi = 0;
  let bi = 0;
  const fine = forEachRun(byBlock, disjoint, (start, end, owners, count) => {
    let mapped = 0;
    for (let i = 0; i < count; i++) if (!staging(owners[i]!)) mapped++;
    while (ri < recs.length && recs[ri]!.end <= start) ri++;
    // Each stretch of the run with one reference count: a record over it, or none (1) up to the next record.
    for (let q = ri, p = start; p < end; ) {
      const over = q < recs.length && recs[q]!.start <= p;
      const rec = over ? recs[q]!.v : 1;
      if (mapped < count && (mapped > 0 || rec > 1)) return false;
      if (mapped > 0 && rec !== mapped) return false;
      p = over ? recs[q++]!.end : q < recs.length ? recs[q]!.start : end;
    }
    while (fi < fr.length && fr[fi]!.end <= start) fi++;
    if (fi < fr.length && fr[fi]!.start < end) return false;
    while (bi < bz.length && bz[bi + 1]! <= start) bi += 2;
    return !(bi < bz.length && bz[bi]! < end);
  });
  if (!fine) return false;
  // Every block with a record is mapped: covered by the owners (in block order; `reach`, the furthest end of those started).
  let j = 0;
  let reach = -1;
  for (const e of recs) {
    for (let p = e.start; p < e.end; p = reach) {
      for (; j < byBlock.length && byBlock[j]!.pblk <= p; j++) reach = Math.max(reach, byBlock[j]!.pblk + byBlock[j]!.len);
      if (reach <= p) return false;
    }
  }
  return true;
}

/** Reference counts against mappings: the first mismatch, or null (exported, with refcountFine, for their test). */
export function refcountProblem(runs: readonly Run[], map: RefcountMap, free: { intersects(a: number, b: number): boolean }, busy: ReadonlyArray<readonly [number, number]>, where: string): string | null {
  // Blocks being freed, as one sorted map (a file system that commits rarely, as btrfs does, has many).
  const freeing = new IntervalMap<true>((v) => v, () => true);
  for (const [p, n] of busy) freeing.set(p, p + n, true);
  for (const r of runs) {
    let mapped = 0;
    for (const o of r.owners) if (!staging(o)) mapped++;
    // Each stretch of the run with one reference count (a record may start or end inside a run).
    for (const [a, , rec] of refcountRuns(map, r.start, r.end - r.start)) {
      if (mapped < r.owners.length && (mapped > 0 || rec > 1)) return `${where}physical block ${a} is CoW staging for ${who(r.owners.find(staging)!)} but is also mapped or shared`;
      if (mapped > 0 && rec !== mapped) return `${where}physical block ${a} is mapped by ${mapped} file block(s) (${r.owners.map(who).join(', ')}) but its reference count is ${rec}`;
    }
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
  events: [],
  check(ctx: CheckContext): string | null {
    const sb = ctx.sys.sb;
    const s = allocState(ctx.sys, ctx.n);
    if (!passedOn('refcountPassed', ctx.sys, s)) {
      const byBlock = byBlockOf(s);
      // No sharing, no reference count: a block is referenced once, and must be neither free nor being freed.
      const fast = s.disjoint && sb.refcount.isEmpty() ? !anyOwnerIn(byBlock, sb.alloc.free.entries()) && !anyOwnerInRanges(byBlock, sb.busyBlocks()) : refcountFine(byBlock, s.disjoint, sb.refcount, sb.alloc.free, sb.busyBlocks());
      const p = fastPassed(fast, () => refcountProblem(runsOf(s), sb.refcount, sb.alloc.free, sb.busyBlocks(), `step ${ctx.n}: `), 'alloc/refcount-consistent');
      if (p !== null) return p;
      recordPass('refcountPassed', ctx.sys, s);
    }
    if (ctx.step.op !== 'remount') return null;
    const disk = mountedOwners(ctx.sys, ctx.n);
    return fastPassed(refcountFine(disk.byBlock, disk.disjoint, sb.image.refcount, sb.image.free, []), () => refcountProblem(disk.runs, sb.image.refcount, sb.image.free, [], `step ${ctx.n}: after mount, `), 'alloc/refcount-consistent');
  },
});

export const noLeakAfterRemount = invariant({
  id: 'alloc/no-leak-after-remount',
  statement:
    'After any unmount or crash and the next mount (log recovery), every data block of the file system is either free or mapped by a file: no block is lost to a half-finished allocation or free, and none is both.',
  source: 'fs/xfs/xfs_log_recover.c (transactions replay whole); fs/jbd2/recovery.c; e2fsck/xfs_repair block accounting',
  kind: 'state',
  events: [],
  check(ctx: CheckContext): string | null {
    if (ctx.step.op !== 'remount') return null;
    const sb = ctx.sys.sb;
    const img = sb.image;
    const { owners, runs } = mountedOwners(ctx.sys, ctx.n);
    for (const r of runs) {
      const at = r.owners.length > 1 ? firstShort(img.refcount, r.start, r.end, r.owners.length) : -1;
      if (at >= 0) return `step ${ctx.n}: after mount, physical block ${at} is mapped by both ${who(r.owners[0]!)} and ${who(r.owners[1]!)}`;
    }
    for (const o of owners) {
      if (img.free.intersects(o.pblk, o.pblk + o.len)) return `step ${ctx.n}: after mount, block ${o.pblk} of ${who(o)} is also free on disk`;
    }
    const first = sb.alloc.firstDataBlock;
    const total = sb.alloc.totalBlocks;
    const cr = sb.clusterRatio;
    const inUse = cr === 1 ? owners : owners.map((o) => ({ ...o, ...wholeClusters(o, cr) }));
    // The blocks in use: without bigalloc, what the runs of the owners cover (they are disjoint).
    const used = (cr === 1 ? runs : ownedRuns(inUse)).reduce((a, r) => a + (r.end - r.start), 0);
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
  events: ['alloc'],
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
  events: [],
  check(ctx: CheckContext): string | null {
    const sb = ctx.sys.sb;
    if (sb.ops.held === undefined) return null;
    const s = allocState(ctx.sys, ctx.n);
    if (passedOn('heldPassed', ctx.sys, s)) return null;
    const held = sb.ops.held(sb);
    const d = fastPassed(accountedFast(sb, byBlockOf(s), held), () => accounting(ctx, s, held), 'alloc/prealloc-accounted');
    if (d === null) recordPass('heldPassed', ctx.sys, s);
    return d;
  },
});

/**
 * The fast pass of alloc/prealloc-accounted: free space, metadata, blocks
 * being freed and preallocations, in block order, never overlap; the files'
 * clusters overlap none of them; and together they tile the data blocks.
 */
function accountedFast(sb: System['sb'], byBlock: readonly Owner[], held: ReadonlyArray<{ readonly pblk: number; readonly len: number }>): boolean {
  const other: number[] = [];
  const add = (a: number, b: number): void => {
    if (b > a) other.push(a, b);
  };
  for (const e of sb.alloc.free.entries()) add(e.start, e.end);
  for (const [a, b] of sb.image.metadata) add(a, b);
  for (const [p, n] of sb.busyBlocks()) add(p, p + n);
  for (const h of held) add(h.pblk, h.pblk + h.len);
  sortPairs(other);
  // The files' blocks as whole clusters, merged where they touch or share.
  const used: number[] = [];
  const r = sb.clusterRatio;
  for (const o of byBlock) {
    const a = o.pblk - (o.pblk % r);
    const b = Math.ceil((o.pblk + o.len) / r) * r;
    if (used.length > 0 && a <= used[used.length - 1]!) used[used.length - 1] = Math.max(used[used.length - 1]!, b);
    else used.push(a, b);
  }
  // Walk both in block order: no piece may start before the last one ended, and from the first data block on each starts where the last ended.
  const first = sb.alloc.firstDataBlock;
  const total = sb.alloc.totalBlocks;
  let end = -Infinity;
  let covered = first;
  let i = 0;
  let j = 0;
  while (i < other.length || j < used.length) {
    const oa = i < other.length ? other[i]! : Infinity;
    const ua = j < used.length ? used[j]! : Infinity;
    let a: number;
    let b: number;
    if (oa <= ua) {
      a = oa;
      b = other[i + 1]!;
      i += 2;
    } else {
      a = ua;
      b = used[j + 1]!;
      j += 2;
    }
    if (a < end) return false;
    end = b;
    if (b <= covered) continue;
    if (a > covered && covered < total) return false;
    covered = b;
  }
  return covered >= total;
}

/** The full check of alloc/prealloc-accounted: the first block with two roles, or with none. */
function accounting(ctx: CheckContext, state: AllocState, held: ReadonlyArray<{ readonly pblk: number; readonly len: number; readonly who: () => string }>): string | null {
  const sb = ctx.sys.sb;
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
    const q = claim(h.pblk, h.pblk + h.len, `held in ${h.who()}`);
    if (q !== null) return q;
  }
  // Files' blocks (whole clusters with bigalloc), shared ones once.
  const owned = new IntervalMap<true>((v) => v, () => true);
  for (const o of ownersOf(state)) {
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
  return null;
}

export const mbNormalizeBounds = invariant({
  id: 'alloc/mb-normalize-bounds',
  statement:
    'A normalized allocation request (ext4_mb_normalize_request) contains the first block of the original request, is at most one block group long, and reaches neither into the blocks the file already has on either side nor into another of its preallocations: preallocation only reserves blocks the file can still use, at the offsets it would use them.',
  source: 'fs/ext4/mballoc.c: ext4_mb_normalize_request (its BUG_ON on a range that misses the request), ext4_mb_pa_adjust_overlap, ext4_mb_pa_assert_overlap',
  kind: 'state',
  events: ['mb-normalize'],
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
  events: ['aligned-alloc-fail'],
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

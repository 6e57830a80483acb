/**
 * Folio state invariants (include/linux/page-flags.h, fs/iomap/buffered-io.c).
 */
import type { CheckContext } from './invariant.ts';
import { invariant } from './invariant.ts';
import { incrementalMode } from './incremental.ts';
import type { Inode } from '../model/fs/inode.ts';
import type { Folio } from '../model/mm/folio.ts';
import type { Span } from '../model/lib/content.ts';
import type { Entry } from '../model/lib/interval-map.ts';
import type { Extent } from '../model/fs/extent.ts';
import type { AddressSpace } from '../model/mm/filemap.ts';
import { concatData, DataCursor, dataEqual, dataLen, sliceData, zeroData, ZEROES } from '../model/lib/content.ts';

/**
 * Incremental checking.  The folio checks below read, of a file, its
 * cached folios and their state (which bump the mapping's `gen` when they
 * change: AddressSpace.gen, Folio.owner) and a few other values, each
 * check its own (the file's size, its block map, the in-flight I/O, the
 * disk's contents).  A file that passed a check is passed over by it until
 * one of these changes: a step touches one or two files, and the checks no
 * longer walk every cached folio of every file at every step.  The record
 * is the mapping's `checked[slot]`, one slot per check.
 */
interface Passed {
  gen: number;
  k1: unknown;
  k2: unknown;
  k3: unknown;
  k4: unknown;
  k5: unknown;
  k6: unknown;
  /** With 'audit': the cache's whole folio state when the file passed. */
  state: unknown[] | undefined;
}
const DIRTY_SLOT = 0;
const WRITEBACK_SLOT = 1;
const CLEAN_SLOT = 2;
const STABLE_SLOT = 3;
/*
 * With incrementalMode() 'audit', where a file is passed over its folios'
 * state is compared with what it was when the file passed, and a folio the
 * clean-folio check would pass over is verified anyway: a difference means
 * the model changed a folio without bumping the mapping's gen or its own (a
 * missing Folio.changed()), and throws.
 */

/** Everything of a mapping's folios a folio check reads (for 'audit'). */
function folioState(m: AddressSpace): unknown[] {
  const out: unknown[] = [];
  for (const { v: f } of m.folioEntries()) {
    out.push(f, f.uptodate, f.dirty, f.writeback, f.ifs, f.ifs?.uptodate.join('') ?? '', f.ifs?.dirty.join('') ?? '', f.data, f.wbReqs, f.changedUnderWriteback, f.zeroedInCacheOnly);
  }
  return out;
}

/** Did the file pass this check with the same keys, and its cache not change since? */
function stillPassed(m: AddressSpace, slot: number, k1: unknown = 0, k2: unknown = 0, k3: unknown = 0, k4: unknown = 0, k5: unknown = 0, k6: unknown = 0): boolean {
  const same = passedAt(m, slot, k1, k2, k3, k4, k5, k6) === m.gen;
  if (same && incrementalMode() === 'audit') {
    const now = folioState(m);
    const was = (m.checked[slot] as Passed).state ?? [];
    const i = now.findIndex((x, j) => x !== was[j]);
    if (i >= 0 || now.length !== was.length) throw new Error(`model bug: a folio of inode ${m.host.ino} changed (state item ${i < 0 ? now.length : i}) without bumping its mapping's gen (Folio.changed)`);
  }
  return same;
}

/**
 * The mapping's gen when the file last passed this check with these same
 * keys, or -1: a folio whose own gen is not above it has not changed since
 * (Folio.gen), and what else it was checked against has not either.
 */
function passedAt(m: AddressSpace, slot: number, k1: unknown = 0, k2: unknown = 0, k3: unknown = 0, k4: unknown = 0, k5: unknown = 0, k6: unknown = 0): number {
  const p = m.checked[slot] as Passed | undefined;
  return incrementalMode() !== 'off' && p !== undefined && p.k1 === k1 && p.k2 === k2 && p.k3 === k3 && p.k4 === k4 && p.k5 === k5 && p.k6 === k6 ? p.gen : -1;
}

/** Did a device byte under one of the file's written blocks change since the disk's `gen`? */
function diskChangedUnder(sys: CheckContext['sys'], inode: Inode, gen: number): boolean {
  const bs = inode.blockSize;
  for (const e of inode.extents.entries()) if (e.v.type === 'mapped' && sys.disk.changedSince(e.v.pblk * bs, (e.end - e.start) * bs, gen)) return true;
  return false;
}

/**
 * The folio has not changed since its file last passed with the same keys
 * (`since`, passedAt), and is passed over.  Not in 'audit' or 'off', where
 * every folio is looked at: one that fails although its gen says it did
 * not change is a model bug (unchangedFolioFails).
 */
function unchangedSince(f: Folio, since: number): boolean {
  return f.gen <= since && incrementalMode() === 'on';
}

function unchangedFolioFails(inode: Inode, f: Folio): Error {
  return new Error(`model bug: the folio at ${f.pos} of inode ${inode.ino} changed without changing its gen (Folio.changed)`);
}

/** Record that the file passed this check with these keys (a file is walked only when something changed): its record, updated in place. */
function passed(m: AddressSpace, slot: number, k1: unknown = 0, k2: unknown = 0, k3: unknown = 0, k4: unknown = 0, k5: unknown = 0, k6: unknown = 0): void {
  const state = incrementalMode() === 'audit' ? folioState(m) : undefined;
  const p = m.checked[slot] as Passed | undefined;
  if (p === undefined) {
    m.checked[slot] = { gen: m.gen, k1, k2, k3, k4, k5, k6, state } satisfies Passed;
    return;
  }
  p.gen = m.gen;
  p.k1 = k1;
  p.k2 = k2;
  p.k3 = k3;
  p.k4 = k4;
  p.k5 = k5;
  p.k6 = k6;
  p.state = state;
}

export const dirtyIffDirtyBlocks = invariant({
  id: 'folio/dirty-iff-dirty-blocks',
  statement:
    'Between operations, a folio inside EOF with per-block state (iomap_folio_state) is marked dirty if and only if at least one of its blocks is marked dirty: a dirty folio whose blocks are all clean would be "written back" without writing anything, and a clean folio with dirty blocks would never be written back. (Writeback skips folios wholly beyond EOF, which wait for truncation, without touching their blocks.)',
  source: 'fs/iomap/buffered-io.c: __iomap_write_end, iomap_dirty_folio, iomap_writeback_folio (ifs_find_dirty_range, iomap_clear_range_dirty)',
  kind: 'state',
  events: [],
  check(ctx: CheckContext): string | null {
    if (ctx.sys.crashed) return null;
    for (const inode of ctx.sys.sb.inodes.values()) {
      const m = inode.mapping;
      if (stillPassed(m, DIRTY_SLOT, inode.i_size)) continue;
      // Only the folios that changed since the file passed with this size (Folio.gen).
      const since = passedAt(m, DIRTY_SLOT, inode.i_size);
      for (const { v: f } of m.folioEntries()) {
        if (f.ifs === null || f.pos >= inode.i_size || unchangedSince(f, since)) continue;
        const anyDirty = f.ifs.dirty.indexOf(1) >= 0;
        if (f.dirty !== anyDirty) {
          if (f.gen <= since) throw unchangedFolioFails(inode, f);
          return `step ${ctx.n}: folio at ${f.pos} of inode ${inode.ino} is ${f.dirty ? 'dirty' : 'clean'} but its blocks are ${anyDirty ? `dirty (${[...f.ifs.dirty].map((b) => (b === 1 ? 'D' : '.')).join('')})` : 'all clean'}`;
        }
      }
      passed(m, DIRTY_SLOT, inode.i_size);
    }
    return null;
  },
});

export const writebackIffIoInFlight = invariant({
  id: 'folio/writeback-iff-io-in-flight',
  statement:
    'A folio is under writeback (PG_writeback) exactly while write I/O for it is in flight: writeback starts before its bios are submitted and ends only when the last of them completes, so waiting for writeback (fsync, truncate, stable pages) really waits for the I/O.',
  source: 'mm/page-writeback.c: __folio_start_writeback; mm/filemap.c: folio_end_writeback; fs/iomap/ioend.c: iomap_finish_ioend_buffered',
  kind: 'state',
  events: [],
  check(ctx: CheckContext): string | null {
    if (ctx.sys.crashed) return null;
    const disk = ctx.sys.disk;
    // The ioends with write I/O in flight, listed once per call when a file needs them (a set, and a closure
    // per folio, were a twentieth of what the checker allocates).  A local list, not a module-level Set
    // cleared at each call: Set.clear() leaves the old table pointing at the new one, and once an old table
    // had been promoted, that chain kept every table made since alive until the next mark-compact
    // (15 MB promoted in a 20 s check worker run).
    let inflight: number[] | null = null;
    for (const inode of ctx.sys.sb.inodes.values()) {
      const m = inode.mapping;
      if (stillPassed(m, WRITEBACK_SLOT, disk.inflightGen)) continue;
      // Only the folios that changed since the file passed with the same I/O in flight (Folio.gen).
      const since = passedAt(m, WRITEBACK_SLOT, disk.inflightGen);
      if (inflight === null) {
        inflight = [];
        for (const b of disk.inflight) if (b.op === 'write') inflight.push(b.req);
      }
      for (const { v: f } of m.folioEntries()) {
        if (unchangedSince(f, since)) continue;
        let io = false;
        if (inflight.length > 0) for (let i = 0; i < f.wbReqs.length && !io; i++) io = inflight.includes(f.wbReqs[i]!);
        if (f.writeback !== io && f.gen <= since) throw unchangedFolioFails(inode, f);
        if (f.writeback && !io) return `step ${ctx.n}: folio at ${f.pos} of inode ${inode.ino} is under writeback with no write I/O in flight`;
        if (!f.writeback && io) return `step ${ctx.n}: folio at ${f.pos} of inode ${inode.ino} has write I/O in flight (ioend ${f.wbReqs.join(',')}) but is not under writeback`;
      }
      passed(m, WRITEBACK_SLOT, disk.inflightGen);
    }
    return null;
  },
});

/** Takes file bytes piece by piece from diskPieces. */
interface PieceVisitor {
  /** The next n bytes are at device byte `addr`, or (-1) read as zeroes; false stops the walk. */
  piece(addr: number, n: number): boolean;
}

/**
 * Where file bytes [pos, end) are on disk, piece by piece (an inline item
 * is the caller's): `v.piece(addr, n)` for the next n bytes, at device byte
 * `addr` where a written block maps them, -1 (zeroes) over a hole, an
 * unwritten extent or a delayed allocation.  Stops where it returns false.
 */
function diskPieces(inode: Inode, pos: number, end: number, v: PieceVisitor): void {
  const bs = inode.blockSize;
  for (let p = pos; p < end; ) {
    const lblk = Math.floor(p / bs);
    // Up to the end of this extent, or of this hole (the next extent's start).
    const e = inode.extents.find(lblk) ?? null;
    const edge = e !== null ? e.end : inode.extents.next(lblk)?.start;
    const n = Math.max(1, Math.min(end, edge === undefined ? end : edge * bs) - p);
    if (!v.piece(e === null || e.v.type !== 'mapped' ? -1 : (e.v.pblk + lblk - e.start) * bs + (p % bs), n)) return;
    p += n;
  }
}

/** What the disk holds for file bytes [pos, pos+len): the mapped blocks' bytes (or an inline item's), zeroes elsewhere. */
function diskView(sys: CheckContext['sys'], inode: Inode, pos: number, len: number): Span[] {
  const bs = inode.blockSize;
  const parts: Span[][] = [];
  let p = pos;
  const end = pos + len;
  const inline = sys.sb.ops.inline_data?.(inode) ?? null;
  if (inline !== null && p < bs) {
    const block = concatData(inline, zeroData(bs - dataLen(inline)));
    parts.push(sliceData(block, p, Math.min(end, bs) - p));
    p = Math.min(end, bs);
  }
  diskPieces(inode, p, end, { piece: (addr, n) => parts.push(addr < 0 ? zeroData(n) : sys.disk.read(addr, n)) > 0 });
  // One piece (a folio inside one extent or hole) is already what concatData would make of it.
  return parts.length === 1 ? parts[0]! : concatData(...parts);
}

/** Do the folio's bytes [pos, pos+len) equal diskView's (compared as they are walked, nothing built)? */
function matchesDisk(sys: CheckContext['sys'], inode: Inode, f: Folio, pos: number, len: number): boolean {
  if (pos < inode.blockSize && (sys.sb.ops.inline_data?.(inode) ?? null) !== null) return dataEqual(sliceData(f.data, pos - f.pos, len), diskView(sys, inode, pos, len));
  const m = new DiskMatcher(sys, new DataCursor(f.data, pos - f.pos));
  diskPieces(inode, pos, pos + len, m);
  return m.same;
}

/** Compares the pieces diskPieces walks with a folio's bytes (one object per comparison, no closure). */
class DiskMatcher implements PieceVisitor {
  same = true;

  constructor(
    private readonly sys: CheckContext['sys'],
    private readonly cur: DataCursor,
  ) {}

  piece(addr: number, n: number): boolean {
    this.same = addr < 0 ? this.cur.visit(ZEROES, 0, n) : this.sys.disk.matches(addr, n, this.cur);
    return this.same;
  }
}

/**
 * What a clean folio's comparison with the disk depended on when it last
 * matched: the folio itself as it was (its `gen`, kept on the folio as
 * `verifiedGen`: any change of its data, up-to-date bits or flags bumps
 * it), the file's size as far as it cuts the folio, an inline item, the
 * block map's entries over the folio (the map's entry objects are
 * replaced, never mutated, so the same objects mean the same mapping); and
 * the device bytes behind its written blocks (the disk's change counter
 * then; the byte ranges follow from the entries).  A change elsewhere in
 * the file (an extending write, an allocation past the folio) leaves the
 * folio verified.  One record serves every folio of a run verified in one
 * walk (a readahead brings in hundreds: a record each was the largest
 * thing the checker allocated); a record is never changed once made.
 */
interface Verified {
  readonly extents: object;
  /** The block map's entries over the folios recorded (whole, not clipped: rawOverlapping). */
  readonly entries: readonly Entry<Extent>[];
  /** -1: each folio recorded lies wholly inside EOF (and stays verified while it does); else min(i_size, end of the folio) of its one folio. */
  readonly isize: number;
  readonly inline: readonly Span[] | null;
  /** The disk's change counter when recorded. */
  readonly gen: number;
}
function stillVerified(sys: CheckContext['sys'], inode: Inode, f: Folio, inline: readonly Span[] | null): boolean {
  const v = f.verified as Verified | null;
  if (v === null || f.verifiedGen !== f.gen || v.extents !== inode.extents || v.inline !== inline) return false;
  if (v.isize < 0 ? inode.i_size < f.pos + f.size : v.isize !== Math.min(inode.i_size, f.pos + f.size)) return false;
  const bs = inode.blockSize;
  const first = Math.floor(f.pos / bs);
  const end = Math.ceil((f.pos + f.size) / bs);
  if (!inode.extents.sameRawWithin(first, end, v.entries)) return false;
  if (v.gen === sys.disk.gen) return true;
  // The device bytes behind its written blocks (the same entries: the same blocks).
  for (const e of v.entries) {
    if (e.v.type !== 'mapped' || e.end <= first || e.start >= end) continue;
    const s = Math.max(e.start, first);
    if (sys.disk.changedSince((e.v.pblk + s - e.start) * bs, (Math.min(e.end, end) - s) * bs, v.gen)) return false;
  }
  return true;
}

/**
 * Record what the folios `run` (one folio, or adjacent whole ones inside
 * EOF compared in one walk) were verified against (see Verified): one
 * record for them all.
 */
function markVerified(sys: CheckContext['sys'], inode: Inode, run: readonly Folio[], inline: readonly Span[] | null): void {
  const bs = inode.blockSize;
  const head = run[0]!;
  const tail = run[run.length - 1]!;
  const first = Math.floor(head.pos / bs);
  const end = Math.ceil((tail.pos + tail.size) / bs);
  const map = inode.extents;
  // The entries list of the folio's last record, when the map still has those entries there (a new list is an allocation).
  const last = head.verified as Verified | null;
  const entries = run.length === 1 && last !== null && last.entries.length > 0 && map.sameRawWithin(first, end, last.entries) ? last.entries : map.rawOverlapping(first, end);
  const whole = run.length > 1 || head.pos + head.size <= inode.i_size;
  const v: Verified = { extents: map, entries, isize: whole ? -1 : Math.min(inode.i_size, head.pos + head.size), inline, gen: sys.disk.gen };
  for (const f of run) {
    f.verified = v;
    f.verifiedGen = f.gen;
  }
}

/** The first block of [pos, pos+len) whose folio bytes differ from the disk's, described; or null. */
function firstDifference(sys: CheckContext['sys'], inode: Inode, f: Folio, pos: number, len: number): { pos: number; mem: string; disk: string } | null {
  const same = matchesDisk(sys, inode, f, pos, len);
  if (same && incrementalMode() !== 'audit') return null;
  const mem = pos === f.pos && len === f.size ? f.data : sliceData(f.data, pos - f.pos, len);
  const disk = diskView(sys, inode, pos, len);
  // In audit (the tests), the comparison as it is walked and the one of the built spans must agree.
  if (same !== dataEqual(mem, disk)) throw new Error(`checker bug: the folio at ${f.pos} of inode ${inode.ino} compared ${same ? 'equal' : 'unequal'} to the disk as walked, but not as built`);
  if (same) return null;
  const bs = inode.blockSize;
  for (let p = pos; p < pos + len; p += bs) {
    const n = Math.min(bs, pos + len - p);
    const m = sliceData(mem, p - pos, n);
    const d = sliceData(disk, p - pos, n);
    if (dataEqual(m, d)) continue;
    const s = m[0]!;
    return {
      pos: p,
      mem: s.src > 0 ? `source #${s.src} (0x${s.val.toString(16)})` : s.src === 0 ? 'zeroes' : 'other bytes',
      disk: dataEqual(d, zeroData(n)) ? 'has zeroes there' : 'has other bytes there',
    };
  }
  return null;
}

/**
 * folio/no-clean-while-block-dirty for one clean folio: the violation, or
 * null (and the folio is marked verified).
 */
function verifyFolio(n: number, sys: CheckContext['sys'], inode: Inode, f: Folio, inline: readonly Span[] | null): string | null {
  const bad = folioDifference(n, sys, inode, f);
  if (bad === null) markVerified(sys, inode, [f], inline);
  return bad;
}

/** A clean folio's runs of up-to-date blocks inside EOF, each compared with the disk in one piece: the violation, or null. */
function folioDifference(n: number, sys: CheckContext['sys'], inode: Inode, f: Folio): string | null {
  const bs = inode.blockSize;
  const isize = inode.i_size;
  const nb = Math.ceil(f.size / bs);
  const bits = f.uptodate ? null : (f.ifs?.uptodate ?? null);
  if (!f.uptodate && bits === null) return null;
  for (let b = 0; b < nb; ) {
    if (bits !== null && bits[b] !== 1) {
      b++;
      continue;
    }
    let e = b + 1;
    while (e < nb && (bits === null || bits[e] === 1)) e++;
    const pos = f.pos + b * bs;
    if (pos >= isize) break;
    const len = Math.min((e - b) * bs, isize - pos);
    const bad = firstDifference(sys, inode, f, pos, len);
    if (bad !== null) return `step ${n}: the folio at ${f.pos} of inode ${inode.ino} is clean, but its block at ${bad.pos} holds ${bad.mem} and the disk ${bad.disk}: nothing will write it back`;
    b = e;
  }
  return null;
}

/**
 * verifyFolio for adjacent whole up-to-date folios inside EOF (none over
 * an inline item): their bytes, one after the other, compared with the
 * disk in one walk over their range (a readahead brings in hundreds of
 * one-page folios: one walk of the block map instead of one per folio).
 * Where they differ, each folio is compared on its own, in order, for the
 * first that differs; in audit (the tests) always, and the two answers
 * must agree.
 */
function verifyRun(n: number, sys: CheckContext['sys'], inode: Inode, run: readonly Folio[], inline: readonly Span[] | null): string | null {
  if (run.length === 0) return null;
  if (run.length === 1) return verifyFolio(n, sys, inode, run[0]!, inline);
  const first = run[0]!;
  const last = run[run.length - 1]!;
  // The folios' bytes one after the other, read in place.
  const m = new DiskMatcher(sys, new DataCursor(first.data, 0, run, 1));
  diskPieces(inode, first.pos, last.pos + last.size, m);
  if (m.same && incrementalMode() !== 'audit') {
    markVerified(sys, inode, run, inline);
    return null;
  }
  for (const f of run) {
    const bad = verifyFolio(n, sys, inode, f, inline);
    if (bad === null) continue;
    if (m.same) throw new Error(`checker bug: the folios at ${first.pos}..${last.pos + last.size} of inode ${inode.ino} compared equal to the disk in one walk, but the folio at ${f.pos} does not`);
    return bad;
  }
  if (!m.same) throw new Error(`checker bug: the folios at ${first.pos}..${last.pos + last.size} of inode ${inode.ino} compared unequal to the disk in one walk, but each folio equal`);
  return null;
}

export const noCleanWhileBlockDirty = invariant({
  id: 'folio/no-clean-while-block-dirty',
  statement:
    'Between operations, every uptodate block inside EOF of a cached folio that is neither dirty nor under writeback holds exactly what the disk holds for it (the block its data fork maps, or zeroes over a hole, an unwritten extent or a delayed allocation): a folio is never marked clean while one of its blocks has data the disk has not received, because reclaim would drop that data and fsync would never write it. Not compared: files whose writeback failed (their folios are left clean on purpose, and fsync reports the error), encrypted files (the disk holds ciphertext), and a folio that truncate_pagecache_range zeroed in part when the on-disk zeroing that follows failed (an ext4 punch or ZERO_RANGE that returned EIO).',
  source: 'mm/page-writeback.c: folio_clear_dirty_for_io, writeback_iter; fs/iomap/buffered-io.c: iomap_writeback_folio, iomap_clear_range_dirty, iomap_page_mkwrite; mm/vmscan.c: shrink_folio_list; seed 003 (RFC RWF_WRITETHROUGH design note 1 and folio_mkclean)',
  kind: 'state',
  events: [],
  check(ctx: CheckContext): string | null {
    const sys = ctx.sys;
    if (sys.crashed) return null;
    for (const inode of sys.sb.inodes.values()) {
      const m = inode.mapping;
      if (inode.kind !== 'reg' || inode.crypt !== null || m.wb_err.value !== 0 || m.nrFolios === 0) continue;
      const bs = inode.blockSize;
      const isize = inode.i_size;
      const inline = sys.sb.ops.inline_data?.(inode) ?? null;
      // The disk's contents as when the file last passed, where the disk changed since only outside the file's blocks.
      const last = m.checked[CLEAN_SLOT] as Passed | undefined;
      const diskGen = last !== undefined && last.k5 !== sys.disk.gen && !diskChangedUnder(sys, inode, last.k5 as number) ? (last.k5 as number) : sys.disk.gen;
      // The folios, the size, the block map, an inline item and the disk's contents as when the file last passed.
      if (stillPassed(m, CLEAN_SLOT, isize, inode.extents, inode.extents.seq, inline, diskGen)) continue;
      // Some folio changed, and nothing else: only those folios are looked at again.
      const since = passedAt(m, CLEAN_SLOT, isize, inode.extents, inode.extents.seq, inline, diskGen);
      // Adjacent whole up-to-date folios inside EOF (what a readahead brings in) are compared with the disk
      // in one walk over their range; the first that differs, or any in audit, is compared on its own.
      const run: Folio[] = [];
      for (const { v: f } of m.folioEntries()) {
        if (f.dirty || f.writeback || f.pos >= isize || f.zeroedInCacheOnly) continue;
        if (unchangedSince(f, since)) continue;
        // Verified before, and nothing it depends on changed since: skip (long runs stay linear).
        if (stillVerified(sys, inode, f, inline)) {
          // In audit (the tests), a folio passed over as verified is compared all the same, and must match.
          const bad = incrementalMode() === 'audit' ? folioDifference(ctx.n, sys, inode, f) : null;
          if (bad !== null) throw new Error(`checker bug: the folio at ${f.pos} of inode ${inode.ino} was passed over as verified, but differs from the disk: ${bad}`);
          continue;
        }
        if (f.gen <= since && f.verified !== null) throw unchangedFolioFails(inode, f);
        const whole = f.uptodate && f.pos + f.size <= isize && (inline === null || f.pos >= bs);
        const last = run[run.length - 1];
        if (last !== undefined && !(whole && last.pos + last.size === f.pos)) {
          const bad = verifyRun(ctx.n, sys, inode, run, inline);
          if (bad !== null) return bad;
          run.length = 0;
        }
        if (whole) {
          run.push(f);
          continue;
        }
        const bad = verifyFolio(ctx.n, sys, inode, f, inline);
        if (bad !== null) return bad;
      }
      const bad = verifyRun(ctx.n, sys, inode, run, inline);
      if (bad !== null) return bad;
      passed(m, CLEAN_SLOT, isize, inode.extents, inode.extents.seq, inline, sys.disk.gen);
    }
    return null;
  },
});

export const stableUnderWriteback = invariant({
  id: 'folio/stable-under-writeback',
  statement:
    'On a device that requires stable writes, nothing changes the data of a folio while it is under writeback: a buffered write, zeroing or a store through a mapping first waits for the writeback to end (folio_wait_stable in write_begin, page_mkwrite and the zeroing paths), and writeback write-protects the folio\'s mappings before it starts (folio_mkclean) so that a store faults and waits. Otherwise the data the device receives may not match the checksum computed when the I/O was submitted.',
  source: 'include/linux/pagemap.h, mm/page-writeback.c: folio_wait_stable (AS_STABLE_WRITES); fs/iomap/buffered-io.c: __iomap_get_folio (FGP_WRITEBEGIN), iomap_page_mkwrite; mm/page-writeback.c: folio_clear_dirty_for_io (folio_mkclean); seed 001; seed 003 (folio_mkclean in folio_prepare_writethrough)',
  kind: 'state',
  events: [],
  check(ctx: CheckContext): string | null {
    for (const inode of ctx.sys.sb.inodes.values()) {
      const m = inode.mapping;
      if (!m.stableWrites || stillPassed(m, STABLE_SLOT)) continue;
      for (const { v: f } of m.folioEntries()) {
        if (f.changedUnderWriteback) return `step ${ctx.n}: the folio at ${f.pos} of inode ${inode.ino} was changed while under writeback, on a device that needs stable pages`;
      }
      passed(m, STABLE_SLOT);
    }
    return null;
  },
});

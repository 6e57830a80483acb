/**
 * The disk: a block device with a durable medium, a volatile write cache and
 * a queue of in-flight bios.  It stands for the hardware (or the loop
 * driver) under the block layer; it has no single kernel counterpart.
 *
 * - A write bio is in flight from submission until the fuzzer (or a waiting
 *   caller) completes it.  At completion its data enters the volatile cache
 *   (or the medium, for FUA writes and devices without a write cache).
 * - A flush (REQ_PREFLUSH, REQ_OP_FLUSH) makes every completed write durable.
 * - At a crash, every write that is in the cache or in flight may reach the
 *   medium in part, at sector granularity, in submission order; which
 *   sectors do is the crash's choice, made explicit in its report so that a
 *   counterexample replays exactly.  A REQ_ATOMIC write lands whole or not at
 *   all.
 */
import type { Knobs } from '../variants.ts';
import { UPSTREAM } from '../variants.ts';
import type { BackingDevInfo } from '../mm/backing-dev.ts';
import { VM_READAHEAD_PAGES } from '../mm/backing-dev.ts';
import type { DataCursor, Span, SpanVisitor } from '../lib/content.ts';
import { cutSpan, dataEqual, pushSpan, sliceData, uninitData } from '../lib/content.ts';
import { IntervalMap } from '../lib/interval-map.ts';
import type { Entry } from '../lib/interval-map.ts';
import type { Bio, BioOrigin } from './bio.ts';
import type { DunScheme } from '../crypto/crypto.ts';
import { decryptData, encryptData } from '../crypto/crypto.ts';
import { REQ_ATOMIC, REQ_FUA, REQ_PREFLUSH } from './bio.ts';
import type { QueueLimits } from './blk-settings.ts';
import { SECTOR_SIZE } from './blk-settings.ts';
import { EILSEQ, EIO } from '../lib/errno.ts';
import { cover } from '../lib/coverage.ts';

/** The inline engine's numbering of a bio's data units: from its (request's) DUN on, counting past any wrap (bio_crypt_dun_increment). */
function inlineScheme(bio: Bio): DunScheme {
  const c = bio.crypt!;
  const first = bio.mergedDun ?? c.dun;
  return { key: c.key, dataUnitSize: c.dataUnitSize, dunOf: (u) => first + u };
}

function spanMap(): IntervalMap<Span> {
  return new IntervalMap<Span>(
    (v, d) => cutSpan(v, d, v.len - d),
    null,
  );
}

/** A write that reached the device but is not durable yet. */
export interface PendingWrite {
  readonly seq: number;
  readonly bio: Bio;
  readonly addr: number;
  readonly len: number;
  /** What the device stores: the bytes at submission, replaced by the bytes transferred at completion. */
  data: readonly Span[];
  readonly atomic: boolean;
  readonly origin: BioOrigin;
  state: 'inflight' | 'cached';
  /** Byte ranges not yet superseded by a later durable write. */
  live: Array<[number, number]>;
}

/**
 * How a crash treats writes that are not durable:
 * - `all`: every completed or in-flight write reaches the medium (what a
 *   loop device on a healthy host does);
 * - `none`: only flushed data survives;
 * - `keep`: exactly these sectors of these pending writes reach the medium:
 *   `[index in the crash report's pending list, first sector, sector count]`;
 * - `pattern`: the fuzzer's compact choice, one number per pending write
 *   (cycled): 0 lost, 1 whole, n >= 2 sector j kept iff bit (j mod 16) of n.
 */
export type CrashChoice =
  | 'all'
  | 'none'
  | { readonly keep: ReadonlyArray<readonly [number, number, number]> }
  | { readonly pattern: readonly number[] };

export interface CrashReport {
  readonly pending: ReadonlyArray<{
    readonly i: number;
    readonly bio: number;
    readonly sector: number;
    readonly sectors: number;
    readonly state: 'inflight' | 'cached';
    readonly atomic: boolean;
    readonly origin: BioOrigin;
  }>;
  /** `[pending index, first sector, sector count]` that reached the medium. */
  readonly kept: Array<[number, number, number]>;
}

export interface DiskObserver {
  onQueue(bio: Bio): void;
  onComplete(bio: Bio): void;
}

/** The coverage points of a crash: what was pending, and what of each pending write survived. */
function coverCrash(report: CrashReport): void {
  for (const p of report.pending) {
    cover(p.state === 'inflight' ? 'crash: write in flight' : 'crash: write in the device cache');
    if (p.atomic) cover('crash: atomic write pending');
    let kept = 0;
    for (const k of report.kept) if (k[0] === p.i) kept += k[2];
    cover(kept === 0 ? 'crash: pending write lost' : kept >= p.sectors ? 'crash: pending write kept whole' : 'crash: part of a pending write kept');
  }
}

export class Disk {
  readonly limits: QueueLimits;
  readonly sizeBytes: number;
  private medium = spanMap();
  private cache = spanMap();
  private pending: PendingWrite[] = [];
  private seq = 0;
  /** Bios queued to the device and not completed, in submission order. */
  inflight: Bio[] = [];
  /** Model bookkeeping: bumped whenever `inflight` changes (a check of in-flight I/O can tell nothing changed). */
  inflightGen = 0;
  /** Byte ranges where the medium fails I/O (a fuzzer step injects these). */
  readonly badRanges = new IntervalMap<true>((v) => v);
  observer: DiskObserver | null = null;
  /** Write bios that completed with an error since the owner last emptied this (System: per step), counted when the bio they were split from completed (blk_complete). */
  readonly failedWrites: Bio[] = [];
  /** Counters for traces and statistics. */
  flushes = 0;
  /** disk->bdi (struct backing_dev_info): the readahead window of files on this disk, in pages. */
  readonly bdi: BackingDevInfo = { ra_pages: VM_READAHEAD_PAGES };

  constructor(
    limits: QueueLimits,
    sizeBytes: number,
    /** The design variants in force (the block layer's are read where they diverge). */
    readonly v: Knobs = UPSTREAM,
    /** What never-written sectors hold (DeviceConfig.fill). */
    readonly fill = 0,
  ) {
    this.limits = limits;
    this.sizeBytes = sizeBytes;
  }

  /**
   * blk_attempt_plug_merge / blk_rq_merge_ok, for what they change here: a
   * write bio that continues the last queued one on disk joins its request
   * when their crypt contexts are mergeable (bio_crypt_ctx_mergeable: same
   * key, and the DUN continuing) and the request stays within
   * max_sectors; the engine then encrypts the request from its first DUN on.
   */
  private attemptMerge(bio: Bio): void {
    const prev = this.inflight.at(-1);
    if (prev === undefined || prev.op !== 'write' || bio.op !== 'write' || prev.crypt === null || bio.crypt === null) return;
    if (prev.byteAddr + prev.size !== bio.byteAddr || (prev.opf & REQ_ATOMIC) !== 0 || (bio.opf & REQ_ATOMIC) !== 0) return;
    const head = this.rqStart.get(prev) ?? prev.byteAddr;
    if (bio.byteAddr + bio.size - head > this.limits.max_sectors * SECTOR_SIZE) return;
    const pc = prev.crypt;
    const bc = bio.crypt;
    if (pc.key !== bc.key || pc.dataUnitSize !== bc.dataUnitSize) return;
    const next = (prev.mergedDun ?? pc.dun) + prev.size / pc.dataUnitSize;
    // Variant crypto-merge-ignores-dun: merge requests without the DUN-contiguity check.
    if (next !== bc.dun && !this.v.on('crypto-merge-ignores-dun')) return;
    if (next !== bc.dun) bio.mergedDun = next;
    this.rqStart.set(bio, head);
  }

  private readonly rqStart = new WeakMap<Bio, number>();

  /** What the device stores for a write: the inline engine or the file system encrypted it. */
  private storedData(bio: Bio, data: readonly Span[] = bio.data): readonly Span[] {
    if (bio.crypt !== null) return encryptData(data, inlineScheme(bio));
    if (bio.fsCrypto !== null) return encryptData(data, bio.fsCrypto);
    return data;
  }

  /** Accept a bio that passed the block layer; it stays in flight until completed. */
  queue(bio: Bio): void {
    this.attemptMerge(bio);
    this.inflight.push(bio);
    this.inflightGen++;
    if (bio.op === 'write') {
      this.pending.push({
        seq: this.seq++,
        bio,
        addr: bio.byteAddr,
        len: bio.size,
        data: this.storedData(bio),
        atomic: (bio.opf & REQ_ATOMIC) !== 0,
        origin: bio.origin,
        state: 'inflight',
        live: [[bio.byteAddr, bio.byteAddr + bio.size]],
      });
    }
    this.observer?.onQueue(bio);
  }

  /** Current content of [addr, addr+len): cache over medium; in-flight writes are not visible. */
  read(addr: number, len: number): Span[] {
    return this.collect(addr, addr + len, true);
  }

  /**
   * Does [addr, addr+len) read (as read() would) as the next `len` bytes of
   * `cur`?  Advances it.  Model bookkeeping for the clean-folio check: the
   * comparison without the spans read() would build.
   */
  matches(addr: number, len: number, cur: DataCursor): boolean {
    return this.walk(addr, addr + len, true, cur);
  }

  /** Durable content only (what a crash with `none` would leave). */
  readDurable(addr: number, len: number): Span[] {
    return this.collect(addr, addr + len, false);
  }

  /** walk's pieces as data. */
  private collect(pos: number, end: number, cached: boolean): Span[] {
    const out: Span[] = [];
    this.walk(pos, end, cached, {
      visit: (s, delta, n) => {
        pushSpan(out, cutSpan(s, delta, n));
        return true;
      },
    });
    return out;
  }

  /**
   * The content of [pos, end) piece by piece, in order: the cache's (when
   * `cached`) over the medium's, never-written bytes where neither has
   * any: `v.visit(s, delta, n)` for bytes [delta, delta+n) of span `s`.
   * Stops (and returns false) where it returns false.
   */
  private walk(pos: number, end: number, cached: boolean, v: SpanVisitor): boolean {
    const cache = cached ? this.cache.overlapping(pos, end) : [];
    let ci = 0;
    while (pos < end) {
      const c = cache[ci];
      if (c !== undefined && c.start <= pos) {
        if (!v.visit(c.v, pos - c.start, c.end - pos)) return false;
        pos = c.end;
        ci++;
        continue;
      }
      const stop = c !== undefined ? c.start : end;
      for (const e of this.medium.overlapping(pos, stop)) {
        if (e.start > pos && !v.visit(uninitData(pos, e.start - pos, this.fill)[0]!, 0, e.start - pos)) return false;
        if (!v.visit(e.v, 0, e.end - e.start)) return false;
        pos = e.end;
      }
      if (pos < stop && !v.visit(uninitData(pos, stop - pos, this.fill)[0]!, 0, stop - pos)) return false;
      pos = stop;
    }
    return true;
  }

  private put(map: IntervalMap<Span>, addr: number, data: readonly Span[]): void {
    let a = addr;
    const entries: Entry<Span>[] = [];
    for (const s of data) {
      entries.push({ start: a, end: a + s.len, v: s });
      a += s.len;
    }
    map.overlay(entries);
    this.gen++;
    this.writeGens.set(addr, a, this.gen);
  }

  /** A counter bumped by every change of what reads return (model bookkeeping for checks that cache). */
  gen = 0;
  /** Per byte range, the `gen` of the last change there. */
  private readonly writeGens = new IntervalMap<number>((v) => v, (a, b) => (a.v === b.v ? a.v : null));

  /** Has any byte of [addr, addr+len) changed since `gen`? */
  changedSince(addr: number, len: number, gen: number): boolean {
    return this.writeGens.maxOverlapping(addr, addr + len) > gen;
  }

  /** Make every completed write durable (a cache flush). */
  flush(): void {
    this.flushes++;
    this.medium.overlay(this.cache.entries());
    this.cache.clear();
    this.pending = this.pending.filter((p) => p.state === 'inflight');
  }

  private supersede(addr: number, end: number, upTo: number): void {
    for (const p of this.pending) {
      if (p.seq >= upTo) continue;
      const next: Array<[number, number]> = [];
      for (const [s, t] of p.live) {
        if (t <= addr || s >= end) next.push([s, t]);
        else {
          if (s < addr) next.push([s, addr]);
          if (t > end) next.push([end, t]);
        }
      }
      p.live = next;
    }
    this.pending = this.pending.filter((p) => p.live.length > 0 || p.state === 'inflight');
  }

  /**
   * Complete a queued bio: the device did the transfer.  Reads take the
   * current content; writes enter the cache, or the medium when FUA or when
   * the device has no volatile cache.  A bio touching a bad range fails with
   * -EIO and transfers nothing.
   */
  complete(bio: Bio): void {
    const i = this.inflight.indexOf(bio);
    if (i < 0) return;
    this.inflight.splice(i, 1);
    this.inflightGen++;
    const addr = bio.byteAddr;
    const end = addr + bio.size;
    if (bio.op === 'flush' || (bio.opf & REQ_PREFLUSH) !== 0) this.flush();
    if (bio.size > 0 && this.badRanges.intersects(addr, end)) {
      bio.status = -EIO;
    } else if (bio.op === 'write' && this.limits.stable_writes && bio.live !== null && !dataEqual(bio.live(bio.relOff, bio.size), bio.data)) {
      // A device that checks protection information: the data transferred now is not what the
      // checksum was computed over at submission — BLK_STS_PROTECTION, and nothing is written.
      bio.piMismatch = true;
      bio.status = -EILSEQ;
    } else if (bio.op === 'read') {
      // The inline engine decrypts on the way in; the file system decrypts after completion.
      const raw = this.read(addr, bio.size);
      bio.readData = bio.crypt !== null ? decryptData(raw, inlineScheme(bio)) : bio.fsCrypto !== null ? decryptData(raw, bio.fsCrypto) : raw;
      bio.sink?.(bio.relOff, bio.readData);
    } else if (bio.op === 'write') {
      const p = this.pending.find((x) => x.bio === bio);
      // A zero-copy direct write transfers the user's pages as they are now (Bio.liveIsUserMemory).
      const stored = bio.live !== null && bio.liveIsUserMemory ? this.storedData(bio, bio.live(bio.relOff, bio.size)) : p?.data ?? this.storedData(bio);
      if (p !== undefined) p.data = stored;
      if ((bio.opf & REQ_FUA) !== 0 || !this.limits.write_cache) {
        this.put(this.medium, addr, stored);
        this.cache.remove(addr, end);
        if (p !== undefined) {
          this.supersede(addr, end, p.seq + 1);
          this.pending = this.pending.filter((x) => x !== p);
        }
      } else {
        this.put(this.cache, addr, stored);
        if (p !== undefined) p.state = 'cached';
      }
    }
    if (bio.status !== 0 && bio.op === 'write') {
      this.pending = this.pending.filter((x) => x.bio !== bio);
      let root = bio;
      while (root.parent !== null) root = root.parent;
      root.failedParts.push(bio);
    }
    if (bio.status !== 0) cover(bio.op === 'write' ? 'bio: write failed' : 'bio: read failed');
    this.observer?.onComplete(bio);
  }

  /** Power is cut: decide what of the non-durable writes reaches the medium. */
  crash(choice: CrashChoice): CrashReport {
    const list = this.pending.slice().sort((a, b) => a.seq - b.seq);
    const report: CrashReport = {
      pending: list.map((p, i) => ({
        i,
        bio: p.bio.id,
        sector: p.addr / SECTOR_SIZE,
        sectors: p.len / SECTOR_SIZE,
        state: p.state,
        atomic: p.atomic,
        origin: p.origin,
      })),
      kept: [],
    };
    const keepRange = (i: number, p: PendingWrite, s: number, n: number): void => {
      // Clip to the live ranges of p.
      const a = s * SECTOR_SIZE;
      const b = (s + n) * SECTOR_SIZE;
      for (const [ls, le] of p.live) {
        const x = Math.max(a, ls);
        const y = Math.min(b, le);
        if (x < y) {
          this.put(this.medium, x, sliceData(p.data, x - p.addr, y - x));
          report.kept.push([i, x / SECTOR_SIZE, (y - x) / SECTOR_SIZE]);
        }
      }
    };
    list.forEach((p, i) => {
      const first = p.addr / SECTOR_SIZE;
      const n = p.len / SECTOR_SIZE;
      if (choice === 'all') {
        keepRange(i, p, first, n);
      } else if (choice === 'none') {
        // nothing
      } else if ('keep' in choice) {
        const mine = choice.keep.filter((k) => k[0] === i);
        if (p.atomic) {
          // A REQ_ATOMIC write lands whole or not at all.
          if (mine.length > 0) keepRange(i, p, first, n);
        } else {
          for (const k of mine) keepRange(i, p, k[1], k[2]);
        }
      } else {
        const pat = choice.pattern;
        const c = pat.length === 0 ? 1 : (pat[i % pat.length] ?? 1);
        if (c === 0) return;
        if (c === 1 || p.atomic) {
          keepRange(i, p, first, n);
          return;
        }
        let runStart = -1;
        for (let j = 0; j <= n; j++) {
          const on = j < n && ((c >> (j % 16)) & 1) === 1;
          if (on && runStart < 0) runStart = j;
          if (!on && runStart >= 0) {
            keepRange(i, p, first + runStart, j - runStart);
            runStart = -1;
          }
        }
      }
    });
    this.cache.clear();
    this.pending = [];
    this.inflight = [];
    this.inflightGen++;
    coverCrash(report);
    return report;
  }

  /** Bytes of the device currently holding data nobody has written (for tests). */
  hasPending(): boolean {
    return this.pending.length > 0;
  }

  pendingWrites(): readonly PendingWrite[] {
    return this.pending;
  }
}

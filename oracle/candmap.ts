/**
 * Per-byte candidate sets over a file: each interval holds the contents a
 * read of those bytes may return (one candidate when the content is known,
 * several after a failed write or a crash).  Candidates are content spans,
 * compared by provenance (source and offset), not by byte value.
 */
import type { Span } from '../model/lib/content.ts';
import { cutSpan, SRC_ZERO, span } from '../model/lib/content.ts';
import { IntervalMap } from '../model/lib/interval-map.ts';
import type { Entry } from '../model/lib/interval-map.ts';

export type Cands = readonly Span[];

/** A range of a read that the candidates do not allow: where, what was read there, and what was allowed. */
export interface Mismatch {
  readonly at: number;
  readonly len: number;
  readonly got: Span;
  readonly allowed: Cands;
}

function cutCands(c: Cands, d: number): Cands {
  return c.map((s) => cutSpan(s, d, s.len - d));
}

/**
 * More possible contents than this for one byte range (long runs with many
 * unsynced collapses, inserts, clones and crashes multiply them) and the
 * oracle stops telling them apart: the range holds one wildcard candidate,
 * which any read matches, until a read or a write makes it certain again.
 * Exact data checks are lost there; data/no-stale-exposure (which bytes were
 * ever placed at an offset) is kept separately and still applies.
 */
export const MAX_CANDIDATES = 24;
/** The wildcard candidate's source id. */
export const SRC_ANY = -100;

function anyOf(len: number): Span {
  return span(len, SRC_ANY, 0, 0);
}

/**
 * Is `c`, from its byte `delta` on, among `cands`?  Candidates are told
 * apart by provenance: source and value, and the offset into the source
 * but for zeroes; the wildcard allows anything.  (A negative `delta`: `c`
 * starts that many bytes into the candidates.)
 */
function hasCut(cands: Cands, c: Span, delta: number): boolean {
  for (const x of cands) {
    if (x.src === SRC_ANY) return true;
    if (x.src === c.src && x.val === c.val && (x.src === SRC_ZERO || x.off === c.off + delta)) return true;
  }
  return false;
}

/** `c` with `more` added (unless already there), or the wildcard when that is too many. */
function withCandidate(c: Cands, more: Span): Cands {
  if (hasCut(c, more, 0)) return c;
  if (c.length >= MAX_CANDIDATES) return [anyOf(more.len)];
  return [...c, more];
}

export class CandMap {
  readonly m: IntervalMap<Cands>;

  constructor(m?: IntervalMap<Cands>) {
    this.m = m ?? new IntervalMap<Cands>(cutCands);
  }

  /** A map of `entries` (in order, disjoint), as setting each in turn into an empty map makes it. */
  static of(entries: Array<Entry<Cands>>): CandMap {
    return new CandMap(new IntervalMap<Cands>(cutCands, null, entries));
  }

  clone(): CandMap {
    return new CandMap(this.m.clone());
  }

  /** The content of [start, start+len) is exactly `data`. */
  setCertain(start: number, data: readonly Span[]): void {
    let p = start;
    for (const s of data) {
      this.m.set(p, p + s.len, [s]);
      p += s.len;
    }
  }

  setZero(start: number, end: number): void {
    if (end > start) this.m.set(start, end, [span(end - start, SRC_ZERO, 0, 0)]);
  }

  remove(start: number, end: number): void {
    this.m.remove(start, end);
  }

  /** Add `data` as one more possible content of [start, start+len). */
  addCandidate(start: number, data: readonly Span[]): void {
    let p = start;
    for (const s of data) {
      const end = p + s.len;
      const pieces: Array<Entry<Cands>> = [];
      let changed = false;
      let q = p;
      for (const e of this.m.overlapping(p, end)) {
        if (e.start > q) {
          pieces.push({ start: q, end: e.start, v: [cutSpan(s, q - p, e.start - q)] });
          changed = true;
        }
        // Already a candidate there (zeroes, often): the entry stays as it is.
        if (hasCut(e.v, s, e.start - p)) pieces.push(e);
        else {
          pieces.push({ start: e.start, end: e.end, v: withCandidate(e.v, cutSpan(s, e.start - p, e.end - e.start)) });
          changed = true;
        }
        q = e.end;
      }
      if (q < end) {
        pieces.push({ start: q, end, v: [cutSpan(s, q - p, end - q)] });
        changed = true;
      }
      if (changed) this.m.replaceRange(p, end, pieces);
      else {
        // Nothing to add: only the cuts at the range's ends that replacing it would have made.
        this.splitAt(p);
        this.splitAt(end);
      }
      p = end;
    }
  }

  /** Add zeroes as a possible content of [start, end). */
  addZeroCandidate(start: number, end: number): void {
    if (end > start) this.addCandidate(start, [span(end - start, SRC_ZERO, 0, 0)]);
  }

  /**
   * Merge every candidate of `other` over [start, end) into this map, in one
   * sweep over both (linear in their entries: long runs fragment the maps).
   */
  union(other: CandMap, start: number, end: number): void {
    const b = other.m.overlapping(start, end);
    if (b.length === 0) return;
    // Only [first, last) of `other` adds anything: this map's entries elsewhere stay as they are, but
    // for their cuts at start and end (the entries the sweep over [start, end) would have made).
    const first = b[0]!.start;
    const last = b[b.length - 1]!.end;
    if (first > start) this.splitAt(start);
    if (last < end) this.splitAt(end);
    start = first;
    end = last;
    const a = this.m.overlapping(start, end);
    // The boundaries of both, merged in order (two sorted lists of disjoint intervals).
    const xs: number[] = [];
    {
      let i = 0;
      let j = 0;
      const at = (list: typeof a, n: number): number => (n % 2 === 0 ? list[n >> 1]!.start : list[n >> 1]!.end);
      while (i < a.length * 2 || j < b.length * 2) {
        const x = i < a.length * 2 ? at(a, i) : Infinity;
        const y = j < b.length * 2 ? at(b, j) : Infinity;
        const v = Math.min(x, y);
        if (x === v) i++;
        if (y === v) j++;
        if (xs.length === 0 || xs[xs.length - 1] !== v) xs.push(v);
      }
    }
    const out: Array<{ start: number; end: number; v: Cands }> = [];
    let i = 0;
    let j = 0;
    for (let k = 0; k + 1 < xs.length; k++) {
      const x = xs[k]!;
      const y = xs[k + 1]!;
      while (i < a.length && a[i]!.end <= x) i++;
      while (j < b.length && b[j]!.end <= x) j++;
      const ea = i < a.length && a[i]!.start <= x ? a[i]! : null;
      const eb = j < b.length && b[j]!.start <= x ? b[j]! : null;
      if (ea === null && eb === null) continue;
      // An entry of this map that the other adds nothing to stays as it is (no copy of it or its candidates).
      const wholeA = ea !== null && ea.start === x && ea.end === y;
      let merged: Cands | null = ea === null ? [] : wholeA ? null : ea.v.map((c) => cutSpan(c, x - ea.start, y - x));
      if (eb !== null) {
        for (const c of eb.v) {
          if (merged === null) {
            if (hasCut(ea!.v, c, x - eb.start)) continue;
            merged = ea!.v;
          }
          merged = withCandidate(merged, cutSpan(c, x - eb.start, y - x));
        }
      }
      out.push(merged === null ? ea! : { start: x, end: y, v: merged });
    }
    this.m.replaceRange(start, end, out);
  }

  /** Cut the entry across `x`, if any, in two at `x` (its contents as they were). */
  private splitAt(x: number): void {
    const e = this.m.find(x);
    if (e !== undefined && e.start < x) this.m.replaceRange(x, e.end, this.m.overlapping(x, e.end));
  }

  /** Move the contents at or after `from` by `delta` bytes (collapse/insert). */
  shift(from: number, delta: number): void {
    const moved = this.m.overlapping(from, Number.MAX_SAFE_INTEGER);
    this.m.remove(from, Number.MAX_SAFE_INTEGER);
    for (const e of moved) this.m.set(e.start + delta, e.end + delta, e.v);
  }

  /** Is `got`, read at `at`, one of the candidates for its first bytes? */
  allows(at: number, got: Span): boolean {
    const e = this.m.find(at);
    if (e === undefined) return false;
    return hasCut(e.v, got, e.start - at);
  }

  /**
   * Check only the bytes of `data` (read at `start`) that this map has
   * entries for; bytes in gaps are not constrained.
   */
  checkCovered(start: number, data: readonly Span[]): Mismatch | null {
    return this.mismatch(start, data, true);
  }

  /**
   * Check `data` read at `start` against the candidates.  Returns null when
   * every byte is a candidate, else the first offending byte range with what
   * was allowed there.
   */
  check(start: number, data: readonly Span[]): Mismatch | null {
    return this.mismatch(start, data, false);
  }

  /**
   * The first range of `data` (read at `start`) that no candidate allows,
   * or (unless `gaps`) that no entry covers.  One walk over the read's spans
   * and the map's own entries, nothing cut or copied unless reported: the
   * byte at `t` of a span read from `p` is a candidate's of an entry at
   * `e.start` when their offsets differ by `e.start - p` (hasCut).
   */
  private mismatch(start: number, data: readonly Span[], gaps: boolean): Mismatch | null {
    const es = this.m.entries();
    let i = this.m.firstEndingAfter(start);
    let p = start;
    for (const s of data) {
      const end = p + s.len;
      if (end === p) continue;
      while (i < es.length && es[i]!.end <= p) i++;
      let q = p;
      for (let k = i; k < es.length && es[k]!.start < end; k++) {
        const e = es[k]!;
        const a = Math.max(e.start, p);
        const b = Math.min(e.end, end);
        if (a > q && !gaps) return { at: q, len: a - q, got: cutSpan(s, q - p, a - q), allowed: [] };
        if (!hasCut(e.v, s, e.start - p)) return { at: a, len: b - a, got: cutSpan(s, a - p, b - a), allowed: cutCands(e.v, a - e.start) };
        q = b;
      }
      if (q < end && !gaps) return { at: q, len: end - q, got: cutSpan(s, q - p, end - q), allowed: [] };
      p = end;
    }
    return null;
  }
}

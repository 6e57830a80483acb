/**
 * A map from disjoint half-open integer intervals to values, kept as a
 * sorted array.  Used for extent maps (file block -> physical block), device
 * content (byte address -> content) and free-space maps.  Values that depend
 * on the position inside the interval (a physical block, a source offset) are
 * re-based by the `cut` function when an interval is split.
 */
export interface Entry<T> {
  readonly start: number;
  readonly end: number;
  readonly v: T;
}

export type Cut<T> = (v: T, delta: number) => T;
export type Merge<T> = (a: Entry<T>, b: Entry<T>) => T | null;

let nextUid = 1;

export class IntervalMap<T> {
  private es: Entry<T>[];
  /** Bumped by every change (a validity cookie, as XFS's if_seq is for a fork). */
  seq = 0;
  /** A number no other map has: with `seq`, names this map's contents (the checks' fingerprints). */
  readonly uid = nextUid++;
  /** Checker bookkeeping, not kernel state: what the allocation checks derived from this map (properties/alloc.ts alone reads it). */
  memo: object | null = null;

  constructor(
    private readonly cut: Cut<T>,
    private readonly merge: Merge<T> | null = null,
    entries: Entry<T>[] = [],
  ) {
    this.es = entries;
  }

  clone(): IntervalMap<T> {
    return new IntervalMap(this.cut, this.merge, this.es.slice());
  }

  get size(): number {
    return this.es.length;
  }

  entries(): readonly Entry<T>[] {
    return this.es;
  }

  isEmpty(): boolean {
    return this.es.length === 0;
  }

  /** The index in entries() of the first entry ending after `pos` (entries().length when none does). */
  firstEndingAfter(pos: number): number {
    let lo = 0;
    let hi = this.es.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.es[mid]!.end <= pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The entry containing `pos`, if any. */
  find(pos: number): Entry<T> | undefined {
    const i = this.firstEndingAfter(pos);
    const e = this.es[i];
    return e !== undefined && e.start <= pos ? e : undefined;
  }

  /** The first entry starting at or after `pos` (or containing it). */
  next(pos: number): Entry<T> | undefined {
    return this.es[this.firstEndingAfter(pos)];
  }

  /** Entries intersecting [start, end), clipped to it. */
  overlapping(start: number, end: number): Entry<T>[] {
    const out: Entry<T>[] = [];
    // An empty range intersects nothing (the entry around `start` would be cut to a negative offset).
    if (end <= start) return out;
    for (let i = this.firstEndingAfter(start); i < this.es.length; i++) {
      const e = this.es[i]!;
      if (e.start >= end) break;
      const s = Math.max(e.start, start);
      const t = Math.min(e.end, end);
      out.push(s === e.start && t === e.end ? e : { start: s, end: t, v: this.cut(e.v, s - e.start) });
    }
    return out;
  }

  /** The entries intersecting [start, end), whole (not clipped): the map's own objects. */
  rawOverlapping(start: number, end: number): Entry<T>[] {
    const out: Entry<T>[] = [];
    if (end <= start) return out;
    for (let i = this.firstEndingAfter(start); i < this.es.length && this.es[i]!.start < end; i++) out.push(this.es[i]!);
    return out;
  }

  /** The values of the entries intersecting [start, end), one per entry, in order (no entry objects made). */
  valuesOverlapping(start: number, end: number): T[] {
    const out: T[] = [];
    if (end <= start) return out;
    for (let i = this.firstEndingAfter(start); i < this.es.length && this.es[i]!.start < end; i++) out.push(this.es[i]!.v);
    return out;
  }

  /**
   * Are the entries intersecting [start, end) still exactly those of `saved`
   * that intersect it?  `saved` is what rawOverlapping returned for this
   * range or a wider one (the map's own entry objects, in order).  No
   * allocation.
   */
  sameRawWithin(start: number, end: number, saved: readonly Entry<T>[]): boolean {
    // The first saved entry ending after `start`.
    let lo = 0;
    let hi = saved.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (saved[mid]!.end <= start) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    if (end > start) for (let i = this.firstEndingAfter(start); i < this.es.length && this.es[i]!.start < end; i++) if (saved[j++] !== this.es[i]) return false;
    return j >= saved.length || saved[j]!.start >= end;
  }

  /** The largest value over [start, end) of a map of numbers (-Infinity where nothing is mapped).  No allocation. */
  maxOverlapping(this: IntervalMap<number>, start: number, end: number): number {
    let max = -Infinity;
    if (end <= start) return max;
    for (let i = this.firstEndingAfter(start); i < this.es.length && this.es[i]!.start < end; i++) if (this.es[i]!.v > max) max = this.es[i]!.v;
    return max;
  }

  /** True when some entry intersects [start, end). */
  intersects(start: number, end: number): boolean {
    if (end <= start) return false;
    const e = this.es[this.firstEndingAfter(start)];
    return e !== undefined && e.start < end;
  }

  /** Remove [start, end) from the map, trimming or splitting entries. */
  remove(start: number, end: number): void {
    if (end <= start) return;
    this.seq++;
    const i = this.firstEndingAfter(start);
    const j = this.cover(i, start, end);
    if (j > i) this.replaceSlice(i, j, this.head, undefined, this.tail);
  }

  // What cover() found: the parts of the covered entries outside the range.
  private head: Entry<T> | undefined;
  private tail: Entry<T> | undefined;

  /**
   * The entries from index i on that intersect [start, end): returns the
   * index past them, and leaves in head/tail the parts of the first and the
   * last that stick out of the range.
   */
  private cover(i: number, start: number, end: number): number {
    const es = this.es;
    this.head = undefined;
    this.tail = undefined;
    let j = i;
    for (; j < es.length; j++) {
      const e = es[j]!;
      if (e.start >= end) break;
      if (e.start < start) this.head = { start: e.start, end: start, v: e.v };
      if (e.end > end) this.tail = { start: end, end: e.end, v: this.cut(e.v, end - e.start) };
    }
    return j;
  }

  /** Replace es[i, j) by head, mid, tail (each optional): one splice, no array spread. */
  private replaceSlice(i: number, j: number, head: Entry<T> | undefined, mid: Entry<T> | undefined, tail: Entry<T> | undefined): void {
    const es = this.es;
    if (head !== undefined) {
      if (mid !== undefined) {
        if (tail !== undefined) es.splice(i, j - i, head, mid, tail);
        else es.splice(i, j - i, head, mid);
      } else if (tail !== undefined) es.splice(i, j - i, head, tail);
      else es.splice(i, j - i, head);
    } else if (mid !== undefined) {
      if (tail !== undefined) es.splice(i, j - i, mid, tail);
      else if (j === i + 1) es[i] = mid;
      else es.splice(i, j - i, mid);
    } else if (tail !== undefined) {
      if (j === i + 1) es[i] = tail;
      else es.splice(i, j - i, tail);
    } else es.splice(i, j - i);
  }

  /**
   * Map each of `entries` (sorted, disjoint) to its value, replacing what
   * was there, as set() one by one would: one pass over the map instead of
   * one splice per entry (a cache flush moves every cached write to the
   * medium).  Maps that merge neighbours take the entries one by one.
   */
  overlay(entries: readonly Entry<T>[]): void {
    if (entries.length < 8 || this.merge !== null) {
      for (const e of entries) this.set(e.start, e.end, e.v);
      return;
    }
    this.seq++;
    const es = this.es;
    const out: Entry<T>[] = [];
    let i = 0;
    let cur = es[0];
    for (const n of entries) {
      // An empty entry maps nothing (as set() of an empty range).
      if (n.end <= n.start) continue;
      while (cur !== undefined && cur.end <= n.start) {
        out.push(cur);
        cur = es[++i];
      }
      while (cur !== undefined && cur.start < n.end) {
        if (cur.start < n.start) out.push({ start: cur.start, end: n.start, v: cur.v });
        if (cur.end > n.end) {
          cur = { start: n.end, end: cur.end, v: this.cut(cur.v, n.end - cur.start) };
          break;
        }
        cur = es[++i];
      }
      out.push(n);
    }
    while (cur !== undefined) {
      out.push(cur);
      cur = es[++i];
    }
    this.es = out;
  }

  /**
   * Replace everything in [start, end) by `entries` (sorted, disjoint, inside
   * the range): one splice instead of one per entry.
   */
  replaceRange(start: number, end: number, entries: readonly Entry<T>[]): void {
    this.remove(start, end);
    if (entries.length === 0) return;
    this.seq++;
    const i = this.firstEndingAfter(start);
    // concat, not splice(...entries): the list may be longer than the call stack allows.
    this.es = this.es.slice(0, i).concat(entries as Entry<T>[], this.es.slice(i));
  }

  /**
   * Map each of `entries` (sorted, each starting where the one before ends)
   * into a gap of the map, which they must not overlap: one splice (an
   * append at the end) instead of one per entry.
   */
  insertRun(entries: readonly Entry<T>[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!;
    const last = entries[entries.length - 1]!;
    const i = this.firstEndingAfter(first.start);
    const next = this.es[i];
    if (next !== undefined && next.start < last.end) throw new Error(`model bug: insertRun over [${next.start}, ${next.end})`);
    this.seq++;
    if (i === this.es.length) for (const e of entries) this.es.push(e);
    else if (entries.length < 4096) this.es.splice(i, 0, ...entries);
    else this.es = this.es.slice(0, i).concat(entries as Entry<T>[], this.es.slice(i));
  }

  /** Map [start, end) to `v` (replacing what was there). */
  set(start: number, end: number, v: T): void {
    if (end <= start) return;
    this.seq++;
    let i = this.firstEndingAfter(start);
    let j = this.cover(i, start, end);
    let head = this.head;
    let tail = this.tail;
    let e: Entry<T> = { start, end, v };
    if (this.merge !== null) {
      const prev = head ?? this.es[i - 1];
      if (prev !== undefined && prev.end === start) {
        const m = this.merge(prev, e);
        if (m !== null) {
          e = { start: prev.start, end, v: m };
          if (head !== undefined) head = undefined;
          else i--;
        }
      }
      const nxt = tail ?? this.es[j];
      if (nxt !== undefined && nxt.start === end) {
        const m = this.merge(e, nxt);
        if (m !== null) {
          e = { start: e.start, end: nxt.end, v: m };
          if (tail !== undefined) tail = undefined;
          else j++;
        }
      }
    }
    this.replaceSlice(i, j, head, e, tail);
  }

  /** Sum of interval lengths intersecting [start, end). */
  covered(start: number, end: number): number {
    let n = 0;
    for (const e of this.overlapping(start, end)) n += e.end - e.start;
    return n;
  }

  /** Total length of all intervals. */
  total(): number {
    let n = 0;
    for (const e of this.es) n += e.end - e.start;
    return n;
  }

  /** The gaps (unmapped sub-ranges) of [start, end). */
  gaps(start: number, end: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let pos = start;
    for (const e of this.overlapping(start, end)) {
      if (e.start > pos) out.push([pos, e.start]);
      pos = e.end;
    }
    if (pos < end) out.push([pos, end]);
    return out;
  }

  clear(): void {
    this.seq++;
    this.es = [];
  }
}

/** Cut function for values that do not depend on position. */
export function sameValue<T>(v: T): T {
  return v;
}

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

export class IntervalMap<T> {
  private es: Entry<T>[];
  /** Bumped by every change (a validity cookie, as XFS's if_seq is for a fork). */
  seq = 0;

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

  /** Index of the first entry whose end is > pos. */
  private firstEndingAfter(pos: number): number {
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
    for (let i = this.firstEndingAfter(start); i < this.es.length; i++) {
      const e = this.es[i]!;
      if (e.start >= end) break;
      const s = Math.max(e.start, start);
      const t = Math.min(e.end, end);
      out.push(s === e.start && t === e.end ? e : { start: s, end: t, v: this.cut(e.v, s - e.start) });
    }
    return out;
  }

  /** True when some entry intersects [start, end). */
  intersects(start: number, end: number): boolean {
    const e = this.es[this.firstEndingAfter(start)];
    return e !== undefined && e.start < end;
  }

  /** Remove [start, end) from the map, trimming or splitting entries. */
  remove(start: number, end: number): void {
    if (end <= start) return;
    this.seq++;
    const i = this.firstEndingAfter(start);
    let j = i;
    const keep: Entry<T>[] = [];
    while (j < this.es.length && this.es[j]!.start < end) {
      const e = this.es[j]!;
      if (e.start < start) keep.push({ start: e.start, end: start, v: e.v });
      if (e.end > end) keep.push({ start: end, end: e.end, v: this.cut(e.v, end - e.start) });
      j++;
    }
    if (j > i || keep.length > 0) this.es.splice(i, j - i, ...keep);
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

  /** Map [start, end) to `v` (replacing what was there). */
  set(start: number, end: number, v: T): void {
    if (end <= start) return;
    this.remove(start, end);
    const i = this.firstEndingAfter(start);
    let e: Entry<T> = { start, end, v };
    let at = i;
    let del = 0;
    if (this.merge !== null) {
      const prev = this.es[i - 1];
      if (prev !== undefined && prev.end === start) {
        const m = this.merge(prev, e);
        if (m !== null) {
          e = { start: prev.start, end, v: m };
          at = i - 1;
          del = 1;
        }
      }
      const nxt = this.es[i];
      if (nxt !== undefined && nxt.start === end) {
        const m = this.merge(e, nxt);
        if (m !== null) {
          e = { start: e.start, end: nxt.end, v: m };
          del += 1;
        }
      }
    }
    this.es.splice(at, del, e);
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

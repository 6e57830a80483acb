/**
 * The oracle's candidate maps: adding a candidate, and the union of two
 * maps over a range, against the rule restated piece by piece (refAdd:
 * every entry of the range cut at its ends and given the candidate, every
 * gap given it alone).  The maps themselves skip what changes nothing; the
 * entries, their bounds and their candidates must come out the same.
 */
import { expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { CandMap, MAX_CANDIDATES, SRC_ANY } from '../../oracle/candmap.ts';
import type { Cands } from '../../oracle/candmap.ts';
import { concatData, cutSpan, sliceData, span, SRC_ZERO } from '../../model/lib/content.ts';
import type { Span } from '../../model/lib/content.ts';

// A map built by certain writes and added candidates over [0, 200): fragmented, with gaps, some entries with
// several candidates; the crowded ones (many adds over a short range) past MAX_CANDIDATES, to the wildcard.
const arbOps = (n: number, at: number, srcs: number, adds: number) => fc.array(fc.record({ at: fc.nat(at), len: fc.integer({ min: 1, max: 60 }), src: fc.integer({ min: 0, max: srcs }), add: fc.integer({ min: 0, max: 9 }).map((k) => k < adds) }), { minLength: n >> 1, maxLength: n });
const arbMap = fc.oneof(arbOps(8, 180, 6, 5), arbOps(60, 20, 60, 10)).map((ops) => {
  const m = new CandMap();
  for (const o of ops) {
    const s = span(o.len, o.src, o.src === SRC_ZERO ? 0 : o.at, o.src);
    if (o.add) m.addCandidate(o.at, [s]);
    else m.setCertain(o.at, [s]);
  }
  return m;
});

/** The list with one more candidate (unless one there already matches it), or the wildcard past MAX_CANDIDATES: the rule, restated. */
function refWith(c: Cands, more: Span): Cands {
  if (c.some((x) => x.src === SRC_ANY || (x.src === more.src && x.val === more.val && (x.src === SRC_ZERO || x.off === more.off)))) return c;
  return c.length >= MAX_CANDIDATES ? [span(more.len, SRC_ANY, 0, 0)] : [...c, more];
}

/** Adding one candidate over [p, p+s.len), restated piece by piece: every entry there cut at the range's ends and given it, every gap given it alone. */
function refAdd(m: CandMap, p: number, s: Span): void {
  const end = p + s.len;
  const pieces: Array<{ start: number; end: number; v: Cands }> = [];
  let q = p;
  for (const e of m.m.overlapping(p, end)) {
    if (e.start > q) pieces.push({ start: q, end: e.start, v: [cutSpan(s, q - p, e.start - q)] });
    pieces.push({ start: e.start, end: e.end, v: refWith(e.v, cutSpan(s, e.start - p, e.end - e.start)) });
    q = e.end;
  }
  if (q < end) pieces.push({ start: q, end, v: [cutSpan(s, q - p, end - q)] });
  m.m.replaceRange(p, end, pieces);
}

/** The entries as a read of them sees them: bounds and each candidate's provenance (a candidate's own length past its entry is not read). */
const seen = (m: CandMap) => m.m.entries().map((e) => ({ start: e.start, end: e.end, v: e.v.map((c) => `${c.src}:${c.src === SRC_ZERO ? 0 : c.off}:${c.val}`) }));

test.prop([arbMap, arbMap, fc.nat(220), fc.nat(220)], { numRuns: 500 })('union over a range is adding each candidate of the other map there, one by one, cut at the range ends', (a, b, x, y) => {
  const start = Math.min(x, y);
  const end = Math.max(x, y);
  const ref = a.clone();
  const pieces = b.m.overlapping(start, end);
  if (pieces.length > 0) {
    // The cuts at the range's ends, where an entry crosses them.
    for (const at of [start, end]) {
      const e = ref.m.find(at);
      if (e !== undefined && e.start < at) ref.m.replaceRange(at, e.end, ref.m.overlapping(at, e.end));
    }
    for (const e of pieces) for (const c of e.v) refAdd(ref, e.start, cutSpan(c, 0, e.end - e.start));
  }
  a.union(b, start, end);
  expect(seen(a)).toEqual(seen(ref));
});

test.prop([fc.integer({ min: 1, max: 3 })])('a range with more than MAX_CANDIDATES possible contents holds the wildcard, which union keeps', (extra) => {
  const a = new CandMap();
  for (let k = 1; k <= MAX_CANDIDATES + extra; k++) a.addCandidate(0, [span(10, k, 0, k)]);
  expect(a.m.entries().map((e) => e.v.map((c) => c.src))).toEqual([[SRC_ANY]]);
  const b = new CandMap();
  b.setCertain(5, [span(10, 99, 0, 99)]);
  a.union(b, 0, 20);
  expect(a.m.entries().map((e) => [e.start, e.end, e.v.map((c) => c.src)])).toEqual([[0, 5, [SRC_ANY]], [5, 10, [SRC_ANY]], [10, 15, [99]]]);
});

test.prop([arbMap, fc.nat(200), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 60 })], { numRuns: 500 })('adding a candidate gives every entry and gap of its range that candidate, cut at the range ends', (a, at, len, src) => {
  const s = span(len, src, src === SRC_ZERO ? 0 : at, src);
  const ref = a.clone();
  refAdd(ref, at, s);
  a.addCandidate(at, [s]);
  expect(seen(a)).toEqual(seen(ref));
});

/**
 * A read of [start, end) as the map may allow it: each entry, cut at `cuts`,
 * gives each of its pieces one of its candidates (by `pick`; past the list a
 * foreign span), gaps read zeroes, and spans that continue one another are
 * merged (a span then crosses entries, and an entry holds pieces of
 * different candidates).
 */
function readOf(m: CandMap, start: number, end: number, pick: readonly number[], cuts: readonly number[]): Span[] {
  const out: Span[] = [];
  let p = start;
  let k = 0;
  for (const e of m.m.overlapping(start, end)) {
    if (e.start > p) out.push(span(e.start - p, SRC_ZERO, 0, 0));
    const bounds = [e.start, ...cuts.filter((c) => c > e.start && c < e.end).sort((x, y) => x - y), e.end];
    for (let j = 0; j + 1 < bounds.length; j++) {
      const [a, b] = [bounds[j]!, bounds[j + 1]!];
      if (b <= a) continue;
      const c = e.v[pick[k++ % Math.max(1, pick.length)] ?? 0];
      out.push(c === undefined || c.src === SRC_ANY ? span(b - a, 77, a, 77) : cutSpan(c, a - e.start, b - a));
    }
    p = e.end;
  }
  if (p < end) out.push(span(end - p, SRC_ZERO, 0, 0));
  return concatData(out);
}

const same = (a: Span, b: Span) => a.src === b.src && a.val === b.val && (a.src === SRC_ZERO || a.off === b.off) && a.len === b.len;
const verdict = (r: { at: number; len: number; got: Span; allowed: Cands } | null) => (r === null ? null : { at: r.at, len: r.len, got: `${r.got.src}:${r.got.src === SRC_ZERO ? 0 : r.got.off}:${r.got.val}:${r.got.len}`, allowed: r.allowed.map((c) => `${c.src}:${c.src === SRC_ZERO ? 0 : c.off}:${c.val}`) });

test.prop([arbMap, fc.nat(200), fc.integer({ min: 1, max: 80 }), fc.array(fc.nat(4), { maxLength: 6 }), fc.array(fc.nat(220), { maxLength: 4 })], { numRuns: 500 })('a read checked against the candidates: the first byte range none allows, and which spans are allowed where, as the rule says', (a, at, len, pick, cuts) => {
  const data = readOf(a, at, at + len, pick, cuts);
  // check: every byte needs an entry, and its entry a candidate equal to the read from there.
  let want: ReturnType<CandMap['check']> = null;
  let p = at;
  outer: for (const s of data) {
    let q = p;
    for (const e of a.m.overlapping(p, p + s.len)) {
      if (e.start > q) {
        want = { at: q, len: e.start - q, got: cutSpan(s, q - p, e.start - q), allowed: [] };
        break outer;
      }
      const got = cutSpan(s, e.start - p, e.end - e.start);
      if (!e.v.some((c) => c.src === SRC_ANY || same({ ...c, len: got.len }, got))) {
        want = { at: e.start, len: e.end - e.start, got, allowed: e.v };
        break outer;
      }
      q = e.end;
    }
    if (q < p + s.len) {
      want = { at: q, len: p + s.len - q, got: cutSpan(s, q - p, p + s.len - q), allowed: [] };
      break;
    }
    p += s.len;
  }
  expect(verdict(a.check(at, data))).toEqual(verdict(want));
  // checkCovered: only bytes with an entry are held to it.
  let wantCovered: ReturnType<CandMap['checkCovered']> = null;
  for (const e of a.m.overlapping(at, at + len)) {
    let q = e.start;
    for (const s of sliceData(data, e.start - at, e.end - e.start)) {
      const allowed = e.v.map((c) => cutSpan(c, q - e.start, c.len - (q - e.start)));
      if (!allowed.some((c) => c.src === SRC_ANY || same({ ...c, len: s.len }, s))) {
        wantCovered = { at: q, len: s.len, got: s, allowed };
        break;
      }
      q += s.len;
    }
    if (wantCovered !== null) break;
  }
  expect(verdict(a.checkCovered(at, data))).toEqual(verdict(wantCovered));
  // allows: each span of the read, at its offset, against the candidates of the entry there cut to that byte.
  let q = at;
  for (const s of data) {
    const e = a.m.find(q);
    const ok = e !== undefined && e.v.some((c) => c.src === SRC_ANY || same({ ...cutSpan(c, q - e.start, 1), len: s.len }, s));
    expect(a.allows(q, s), `allows at ${q}`).toBe(ok);
    q += s.len;
  }
});

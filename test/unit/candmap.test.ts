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
import { cutSpan, span, SRC_ZERO } from '../../model/lib/content.ts';
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

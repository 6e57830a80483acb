/**
 * The oracle's candidate maps: union over a range merges another map's
 * candidates into this one's entries, cut where either map's entries start
 * or end (and at the range's ends), and nowhere else; its result is what
 * adding each of the other map's candidates one by one gives.
 */
import { expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { CandMap } from '../../oracle/candmap.ts';
import { cutSpan, span, SRC_ZERO } from '../../model/lib/content.ts';

// A map built by a few certain writes and added candidates over [0, 200): fragmented, with gaps, some entries with several candidates.
const arbMap = fc.array(fc.record({ at: fc.nat(180), len: fc.integer({ min: 1, max: 60 }), src: fc.integer({ min: 0, max: 6 }), add: fc.boolean() }), { maxLength: 8 }).map((ops) => {
  const m = new CandMap();
  for (const o of ops) {
    const s = span(o.len, o.src, o.src === SRC_ZERO ? 0 : o.at, o.src);
    if (o.add) m.addCandidate(o.at, [s]);
    else m.setCertain(o.at, [s]);
  }
  return m;
});

/** The entries as a read of them sees them: bounds and each candidate's provenance (a candidate's own length past its entry is not read). */
const seen = (m: CandMap) => m.m.entries().map((e) => ({ start: e.start, end: e.end, v: e.v.map((c) => `${c.src}:${c.src === SRC_ZERO ? 0 : c.off}:${c.val}`) }));

test.prop([arbMap, arbMap, fc.nat(220), fc.nat(220)])('union over a range is adding each candidate of the other map there, cut at the range ends', (a, b, x, y) => {
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
    for (const e of pieces) for (const c of e.v) ref.addCandidate(e.start, [cutSpan(c, 0, e.end - e.start)]);
  }
  a.union(b, start, end);
  expect(seen(a)).toEqual(seen(ref));
});

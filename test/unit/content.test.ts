import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { concatData, DataCursor, dataEqual, dataLen, dataRuns, overlayData, sliceData, span, splitData, SRC_ZERO, zeroData, ZEROES } from '../../model/lib/content.ts';

describe('symbolic content', () => {
  it('keeps provenance through slicing and overlay', () => {
    const d = [span(100, 7, 0, 0xaa)];
    const o = overlayData(d, 10, [span(5, 9, 3, 0xbb)]);
    expect(dataRuns(o)).toEqual([
      [0xaa, 10],
      [0xbb, 5],
      [0xaa, 85],
    ]);
    expect(o[2]).toMatchObject({ src: 7, off: 15 });
    expect(sliceData(o, 12, 10)).toEqual([span(3, 9, 5, 0xbb), span(7, 7, 15, 0xaa)]);
  });

  it('merges only spans that continue each other', () => {
    expect(concatData([span(4, 1, 0, 1)], [span(4, 1, 4, 1)])).toEqual([span(8, 1, 0, 1)]);
    expect(concatData([span(4, 1, 0, 1)], [span(4, 1, 5, 1)])).toHaveLength(2);
    expect(concatData(zeroData(3), zeroData(4))).toEqual([span(7, SRC_ZERO, 0, 0)]);
  });

  test.prop([fc.array(fc.record({ len: fc.integer({ min: 1, max: 50 }), src: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 10 }), fc.nat(400), fc.nat(400)])(
    'slices compose',
    (parts, a, b) => {
      const d = concatData(parts.map((p, i) => [span(p.len, p.src, i * 1000, p.src)]).flat());
      const n = dataLen(d);
      const from = Math.min(a, n);
      const len = Math.min(b, n - from);
      const s = sliceData(d, from, len);
      expect(dataLen(s)).toBe(len);
      if (len > 2) expect(concatData(sliceData(s, 0, 1), sliceData(s, 1, len - 1))).toEqual(s);
    },
  );

  test.prop([fc.array(fc.record({ len: fc.integer({ min: 1, max: 50 }), src: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 10 }), fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 12 })])(
    'splitData gives the slices sliceData gives, in one pass',
    (parts, want) => {
      const d = concatData(parts.map((p, i) => [span(p.len, p.src, i * 1000, p.src)]).flat());
      const n = dataLen(d);
      const lens: number[] = [];
      let at = 0;
      for (const w of want) {
        if (at + w > n) continue;
        lens.push(w);
        at += w;
      }
      let from = 0;
      splitData(d, lens).forEach((piece, j) => {
        expect(piece).toEqual(sliceData(d, from, lens[j]!));
        from += lens[j]!;
      });
    },
  );
});

describe('DataCursor', () => {
  // Spans that sometimes continue one another (same source, adjacent offsets) and sometimes not, zeroes among them.
  const arbData = fc.array(fc.record({ len: fc.integer({ min: 1, max: 40 }), src: fc.integer({ min: 0, max: 2 }), off: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 8 })
    .map((ps) => {
      let next = 0;
      return ps.map((p) => {
        const s = span(p.len, p.src, p.src === SRC_ZERO ? 0 : next + p.off, p.src);
        next += p.len + p.off;
        return s;
      });
    });
  test.prop([arbData, arbData, fc.nat(200), fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 6 })])(
    'matches piece by piece exactly where dataEqual says the bytes are the same',
    (a, b, at, cuts) => {
      const da = concatData(a);
      const db = concatData(b);
      const from = Math.min(at, dataLen(da));
      const len = Math.min(dataLen(db), dataLen(da) - from);
      // b's first len bytes, in pieces (raw spans and offsets into them, as the disk hands them out).
      const cur = new DataCursor(da, from);
      let p = 0;
      let same = true;
      for (const c of [...cuts, len]) {
        const n = Math.min(c, len - p);
        for (const s of sliceData(db, p, n)) same &&= cur.visit(s, 0, s.len);
        p += n;
        if (p >= len) break;
      }
      expect(same).toBe(dataEqual(sliceData(da, from, len), sliceData(db, 0, len)));
    },
  );
  test.prop([arbData, fc.nat(200), fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 6 })])(
    'matches the data itself, however it is cut into pieces',
    (a, at, cuts) => {
      const da = concatData(a);
      const from = Math.min(at, dataLen(da));
      const len = dataLen(da) - from;
      const cur = new DataCursor(da, from);
      let p = 0;
      for (const c of [...cuts, len]) {
        const n = Math.min(c, len - p);
        // Each piece given as a longer span and an offset into it, as a disk's cached entry is.
        for (const s of sliceData(da, from + p, n)) {
          const k = s.src === SRC_ZERO ? 2 : Math.min(s.off, 3);
          expect(cur.visit(span(s.len + k, s.src, s.src === SRC_ZERO ? 0 : s.off - k, s.val), k, s.len)).toBe(true);
        }
        p += n;
        if (p >= len) break;
      }
      if (len > 0) expect(new DataCursor(da, from).visit(a[0]!.src === 7 ? ZEROES : span(len, 7, 0, 7), 0, len)).toBe(false);
    },
  );
  test.prop([fc.array(arbData, { minLength: 1, maxLength: 4 }), arbData, fc.nat(200), fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 6 })])(
    'reads the data of a run of holders after its first array as if they were one array',
    (parts, b, at, cuts) => {
      // The spans as the folios of a run hold them (each array on its own), against their concatenation.
      const holders = parts.map((d) => ({ data: concatData(d) }));
      const whole = holders.flatMap((h) => h.data);
      const db = concatData(b);
      const from = Math.min(at, dataLen(holders[0]!.data));
      const len = Math.min(dataLen(db) + 5, dataLen(whole) - from + 5);
      const one = new DataCursor(whole, from);
      const run = new DataCursor(holders[0]!.data, from, holders, 1);
      let p = 0;
      for (const c of [...cuts, len]) {
        const n = Math.min(c, len - p);
        // b's bytes, then zeroes past its end: past the run's end both must say no.
        for (const s of n > 0 && p < dataLen(db) ? sliceData(db, p, Math.min(n, dataLen(db) - p)) : []) expect(run.visit(s, 0, s.len)).toBe(one.visit(s, 0, s.len));
        p += n;
        if (p >= len) break;
      }
      expect(run.visit(ZEROES, 0, 1_000)).toBe(one.visit(ZEROES, 0, 1_000));
    },
  );
  it('compares zeroes of any length with ZEROES', () => {
    expect(new DataCursor(zeroData(8), 2).visit(ZEROES, 0, 6)).toBe(true);
    expect(new DataCursor([span(8, 1, 0, 1)], 0).visit(ZEROES, 0, 8)).toBe(false);
    // Past the end of the data: not the same.
    expect(new DataCursor(zeroData(8), 4).visit(ZEROES, 0, 6)).toBe(false);
  });
});

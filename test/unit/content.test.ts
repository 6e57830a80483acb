import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { concatData, dataLen, dataRuns, overlayData, sliceData, span, splitData, SRC_ZERO, zeroData } from '../../model/lib/content.ts';

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

import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { IntervalMap } from '../../model/lib/interval-map.ts';

/** A naive per-integer model to compare against. */
function naive(ops: Array<[number, number, number | null]>, size: number): Array<number | null> {
  const a: Array<number | null> = new Array(size).fill(null);
  for (const [s, e, v] of ops) for (let i = s; i < e && i < size; i++) a[i] = v === null ? null : v + (i - s);
  return a;
}

describe('IntervalMap', () => {
  it('splits and re-bases values on remove and set', () => {
    const m = new IntervalMap<number>((v, d) => v + d);
    m.set(0, 10, 100);
    m.remove(3, 5);
    expect(m.entries().map((e) => [e.start, e.end, e.v])).toEqual([
      [0, 3, 100],
      [5, 10, 105],
    ]);
    m.set(4, 6, 7);
    expect(m.find(5)?.v).toBe(7);
    expect(m.overlapping(2, 9).map((e) => [e.start, e.end, e.v])).toEqual([
      [2, 3, 102],
      [4, 6, 7],
      [6, 9, 106],
    ]);
    expect(m.gaps(0, 12)).toEqual([
      [3, 4],
      [10, 12],
    ]);
  });

  it('merges adjacent entries that continue each other', () => {
    const m = new IntervalMap<number>((v, d) => v + d, (a, b) => (a.v + (a.end - a.start) === b.v ? a.v : null));
    m.set(0, 4, 10);
    m.set(4, 8, 14);
    expect(m.size).toBe(1);
    m.set(8, 9, 99);
    expect(m.size).toBe(2);
  });

  test.prop([fc.array(fc.tuple(fc.nat(60), fc.nat(20), fc.option(fc.nat(1000), { nil: null })), { maxLength: 30 })])(
    'agrees with a per-integer array',
    (raw) => {
      const ops = raw.map(([s, l, v]) => [s, s + l, v] as [number, number, number | null]);
      const m = new IntervalMap<number>((v, d) => v + d);
      for (const [s, e, v] of ops) {
        if (v === null) m.remove(s, e);
        else m.set(s, e, v);
      }
      const want = naive(ops, 90);
      for (let i = 0; i < 90; i++) {
        const e = m.find(i);
        expect(e === undefined ? null : e.v + (i - e.start)).toBe(want[i]);
      }
      const es = m.entries();
      for (let i = 1; i < es.length; i++) expect(es[i - 1]!.end).toBeLessThanOrEqual(es[i]!.start);
    },
  );
});

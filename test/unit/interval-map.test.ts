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
    // An empty range intersects nothing, even inside an entry.
    expect(m.overlapping(7, 7)).toEqual([]);
    expect(m.intersects(7, 7)).toBe(false);
    expect(m.gaps(0, 12)).toEqual([
      [3, 4],
      [10, 12],
    ]);
  });

  it('inserts a run of adjacent entries into a gap, at the end or inside, and refuses an overlap', () => {
    const m = new IntervalMap<number>((v, d) => v + d);
    m.set(0, 2, 1);
    m.set(10, 12, 2);
    const run = (s: number, n: number): Array<{ start: number; end: number; v: number }> => Array.from({ length: n }, (_, i) => ({ start: s + i, end: s + i + 1, v: 100 + s + i }));
    m.insertRun(run(12, 3));
    m.insertRun(run(4, 5));
    m.insertRun([]);
    expect(m.entries().map((e) => [e.start, e.end])).toEqual([[0, 2], [4, 5], [5, 6], [6, 7], [7, 8], [8, 9], [10, 12], [12, 13], [13, 14], [14, 15]]);
    expect(m.find(6)?.v).toBe(106);
    // The values of the entries a range touches, whole, one per entry (the page cache's folioRange).
    expect(m.valuesOverlapping(5, 11)).toEqual([105, 106, 107, 108, 2]);
    expect(m.valuesOverlapping(9, 10)).toEqual([]);
    expect(m.valuesOverlapping(7, 7)).toEqual([]);
    expect(() => m.insertRun(run(9, 2))).toThrow(/insertRun over \[10, 12\)/);
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

  // overlay() is set() of each entry in one pass; a merging map keeps merging across set/remove.
  const opArb = fc.oneof(
    fc.tuple(fc.constant('set' as const), fc.nat(60), fc.nat(20), fc.nat(1000)),
    fc.tuple(fc.constant('remove' as const), fc.nat(60), fc.nat(20), fc.constant(0)),
    fc.tuple(fc.constant('overlay' as const), fc.nat(1000), fc.array(fc.tuple(fc.nat(6), fc.integer({ min: 0, max: 6 })), { maxLength: 14 }), fc.nat(1000)),
  );
  test.prop([fc.array(opArb, { maxLength: 30 }), fc.boolean()])('overlay and merging set agree with a per-integer array', (ops, merging) => {
    const m = new IntervalMap<number>((v, d) => v + d, merging ? (a, b) => (a.v + (a.end - a.start) === b.v ? a.v : null) : null);
    const want: Array<number | null> = new Array(90).fill(null);
    const put = (s: number, e: number, v: number | null): void => {
      for (let i = s; i < e && i < 90; i++) want[i] = v === null ? null : v + (i - s);
    };
    for (const op of ops) {
      if (op[0] === 'set') {
        m.set(op[1], op[1] + op[2], op[3]);
        put(op[1], op[1] + op[2], op[3]);
      } else if (op[0] === 'remove') {
        m.remove(op[1], op[1] + op[2]);
        put(op[1], op[1] + op[2], null);
      } else {
        let pos = op[1] % 20;
        const entries = op[2].map(([gap, len], k) => {
          const e = { start: pos + gap, end: pos + gap + len, v: op[3] + 7 * k };
          pos = e.end;
          return e;
        });
        m.overlay(entries);
        for (const e of entries) put(e.start, e.end, e.v);
      }
      for (let i = 0; i < 90; i++) {
        const e = m.find(i);
        expect(e === undefined ? null : e.v + (i - e.start)).toBe(want[i]);
      }
      const es = m.entries();
      for (const e of es) expect(e.end).toBeGreaterThan(e.start);
      for (let i = 1; i < es.length; i++) {
        expect(es[i - 1]!.end).toBeLessThanOrEqual(es[i]!.start);
        if (merging && es[i - 1]!.end === es[i]!.start) expect(es[i - 1]!.v + (es[i - 1]!.end - es[i - 1]!.start)).not.toBe(es[i]!.v);
      }
    }
  });
});

// What the folio check's records rest on: entries saved over a wide range (rawOverlapping), then asked of a
// narrower one after more changes, are "the same" exactly when the narrower range's entries are the same objects.
test.prop(
  [
    fc.array(fc.tuple(fc.nat(40), fc.integer({ min: 1, max: 8 }), fc.nat(3)), { maxLength: 8 }),
    fc.tuple(fc.nat(40), fc.nat(20)),
    fc.tuple(fc.nat(50), fc.nat(12)),
    fc.array(fc.tuple(fc.nat(40), fc.integer({ min: 1, max: 8 }), fc.nat(3), fc.boolean()), { maxLength: 3 }),
  ],
  { numRuns: 2000 },
)('sameRawWithin says whether the entries over a range are still those saved over a wider one', (ops, [ws, wn], [s, n], later) => {
  const m = new IntervalMap<number>((v) => v);
  for (const [a, len, v] of ops) m.set(a, a + len, v);
  const saved = m.rawOverlapping(ws, ws + wn);
  for (const [a, len, v, rm] of later) {
    if (rm) m.remove(a, a + len);
    else m.set(a, a + len, v);
  }
  // A range inside the saved one (what the checks ask about).
  const start = ws + (s % (wn + 1));
  const end = Math.min(ws + wn, start + n);
  const now = m.rawOverlapping(start, end);
  const then = saved.filter((e) => e.end > start && e.start < end);
  expect(m.sameRawWithin(start, end, saved)).toBe(now.length === then.length && now.every((e, i) => e === then[i]));
});

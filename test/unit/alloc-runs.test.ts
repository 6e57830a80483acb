/**
 * The allocation checks' runs of physical blocks: every block some owner
 * maps belongs to exactly one run, a run's owners are those over each of
 * its blocks (in block order), and runs are as long as that set stays the
 * same — what a block-by-block count says, for shared and overlapping
 * owners (reflink, a double allocation) as well as disjoint ones.
 */
import { expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ownedRuns, refcountFine, refcountProblem, sortPairs } from '../../properties/alloc.ts';
import { newRefcountMap } from '../../model/fs/refcount.ts';
import { IntervalMap } from '../../model/lib/interval-map.ts';

test.prop([fc.array(fc.record({ pblk: fc.nat(60), len: fc.nat(20) }), { maxLength: 14 })], { numRuns: 2000 })('runs are the maximal stretches of blocks with the same owners', (xs) => {
  const owners = xs.map((x, id) => ({ ...x, id }));
  // Block by block: the owners over it, in block order (stable: equal starts keep their order).
  const inOrder = owners.filter((o) => o.len > 0).sort((a, b) => a.pblk - b.pblk);
  const want: Array<{ start: number; end: number; owners: number[] }> = [];
  for (let b = 0; b < 90; b++) {
    const over = inOrder.filter((o) => o.pblk <= b && b < o.pblk + o.len).map((o) => o.id);
    if (over.length === 0) continue;
    const last = want[want.length - 1];
    if (last !== undefined && last.end === b && last.owners.join() === over.join()) last.end = b + 1;
    else want.push({ start: b, end: b + 1, owners: over });
  }
  expect(ownedRuns(owners).map((r) => ({ start: r.start, end: r.end, owners: r.owners.map((o) => o.id) }))).toEqual(want);
});

// The allocation checks' pair sort: what a stable sort of [start, end) pairs by start gives, for lists
// made of a few runs already in order (as the checks build them) and for any order at all.
test.prop([fc.array(fc.array(fc.tuple(fc.nat(40), fc.nat(5)), { maxLength: 12 }), { maxLength: 6 }), fc.boolean()], { numRuns: 2000 })('sorts flat pairs by start, stably', (lists, sortEach) => {
  const pairs = lists.flatMap((l) => (sortEach ? [...l].sort((a, b) => a[0] - b[0]) : l)).map(([s, n], i) => [s, s + n + i * 100] as const);
  const want = [...pairs].sort((a, b) => a[0] - b[0]).flat();
  expect(sortPairs(pairs.flat())).toEqual(want);
});

// alloc/refcount-consistent, block by block: the fast pass (no run built) and the full check both say what a
// count over each block says, for owners that overlap or not, staging among them, and records that start or
// end inside a run.
const arbOwners = fc.array(fc.record({ pblk: fc.nat(40), len: fc.nat(8), staging: fc.boolean() }), { maxLength: 8 });
const arbRanges = (maxLength: number) => fc.array(fc.tuple(fc.nat(45), fc.integer({ min: 1, max: 6 })), { maxLength });
test.prop([arbOwners, fc.array(fc.tuple(fc.nat(45), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 })), { maxLength: 4 }), arbRanges(3), arbRanges(3)], { numRuns: 3000 })(
  'the refcount checks agree with a count block by block',
  (xs, recs, frees, busy) => {
    const owners = xs.map((x, i) => ({ pblk: x.pblk, len: x.len, ino: i, lblk: 0, fork: x.staging ? 'cow' : null }));
    const map = newRefcountMap();
    for (const [p, n, v] of recs) map.set(p, p + n, v);
    const free = new IntervalMap<true>((v) => v, () => true);
    for (const [p, n] of frees) free.set(p, p + n, true);
    let bad = false;
    for (let b = 0; b < 60 && !bad; b++) {
      const over = owners.filter((o) => o.pblk <= b && b < o.pblk + o.len);
      const mapped = over.filter((o) => o.fork === null).length;
      const rec = map.find(b)?.v ?? 1;
      if (over.length === 0) bad = map.find(b) !== undefined;
      else bad = (mapped < over.length && (mapped > 0 || rec > 1)) || (mapped > 0 && rec !== mapped) || free.find(b) !== undefined || busy.some(([p, n]) => p <= b && b < p + n);
    }
    const byBlock = owners.filter((o) => o.len > 0).sort((a, b) => a.pblk - b.pblk);
    const disjoint = byBlock.every((o, i) => i === 0 || o.pblk >= byBlock[i - 1]!.pblk + byBlock[i - 1]!.len);
    expect(refcountProblem(ownedRuns(owners), map, free, busy, '') !== null).toBe(bad);
    expect(refcountFine(byBlock, disjoint, map, free, busy)).toBe(!bad);
  },
);

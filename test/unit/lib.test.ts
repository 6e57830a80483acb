import { describe, expect, it } from 'vitest';
import { Errseq } from '../../model/lib/errseq.ts';
import { BlockAllocator } from '../../model/fs/alloc.ts';
import { EIO } from '../../model/lib/errno.ts';

describe('errseq (lib/errseq.c)', () => {
  it('reports an error once per cursor; a cursor sampled before anyone saw it sees it too', () => {
    const e = new Errseq();
    const fdA = e.sample();
    e.set(-EIO);
    const fdB = e.sample(); // unseen error: a new opener samples 0 and will see it
    expect(fdB).toBe(0);
    const [ea, ca] = e.checkAndAdvance(fdA);
    expect(ea).toBe(-EIO);
    expect(e.checkAndAdvance(ca)[0]).toBe(0);
    expect(e.checkAndAdvance(fdB)[0]).toBe(-EIO);
    // Now seen: a file opened afterwards does not see it.
    const fdC = e.sample();
    expect(e.checkAndAdvance(fdC)[0]).toBe(0);
  });

  it('a new error after the old one was seen is reported again', () => {
    const e = new Errseq();
    const c0 = e.sample();
    e.set(-EIO);
    const [, c1] = e.checkAndAdvance(c0);
    e.set(-EIO);
    expect(e.checkAndAdvance(c1)[0]).toBe(-EIO);
  });
});

describe('block allocator', () => {
  it('allocates at the goal, then after it, then before it', () => {
    const a = new BlockAllocator(10, 100);
    expect(a.alloc({ goal: 50, len: 5 })).toEqual({ pblk: 50, len: 5 });
    expect(a.alloc({ goal: 50, len: 5 })).toEqual({ pblk: 55, len: 5 });
    a.alloc({ goal: 60, len: 40 });
    expect(a.alloc({ goal: 70, len: 5 })).toEqual({ pblk: 10, len: 5 });
  });

  it('returns a shorter extent when fragmented, null when full; reservations reduce what is available', () => {
    const a = new BlockAllocator(0, 10);
    a.alloc({ goal: 3, len: 1 });
    expect(a.alloc({ goal: 0, len: 10 })).toEqual({ pblk: 0, len: 3 });
    expect(a.reserve(6)).toBe(true);
    expect(a.available()).toBe(0);
    expect(a.reserve(1)).toBe(false);
  });

  it('honours physical alignment', () => {
    const a = new BlockAllocator(3, 100);
    expect(a.alloc({ goal: 3, len: 8, align: 8, minLen: 8 })).toEqual({ pblk: 8, len: 8 });
  });
});

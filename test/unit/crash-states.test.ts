/** The crash states `iospec crashes` tries (kernel/crashes.ts), without a kernel. */
import { describe, expect, it } from 'vitest';
import { crashPoint, crashStates } from '../../kernel/crashes.ts';

const writes = [
  { off: 4096, len: 4096 },
  { off: 65536, len: 1024 },
  { off: 1 << 20, len: 512 },
];

describe('crash states', () => {
  it('none, all, the in-order prefixes, all but one, then random subsets; distinct, bounded, repeatable', () => {
    const s = crashStates(writes, 40, 7);
    // "all but write 2" keeps what "the first 2 of 3" does: tried once.
    expect(s.slice(0, 6).map((x) => x.name)).toEqual(['none of the writes not flushed', 'all of them', 'the first 1 of 3', 'the first 2 of 3', 'all but write 0', 'all but write 1']);
    expect(s[2]!.keep).toEqual([[0, 8, 8]]);
    expect(new Set(s.map((x) => JSON.stringify(x.keep))).size).toBe(s.length);
    expect(s.length).toBe(40);
    expect(crashStates(writes, 40, 7)).toEqual(s);
    // Every kept sector lies inside its write.
    for (const x of s) {
      if (typeof x.keep === 'string') continue;
      for (const [i, first, n] of x.keep) {
        const w = writes[i]!;
        expect(first * 512).toBeGreaterThanOrEqual(w.off);
        expect((first + n) * 512).toBeLessThanOrEqual(w.off + w.len);
      }
    }
  });
  it('stops where the space of states ends', () => {
    expect(crashStates([{ off: 0, len: 512 }], 100, 1).map((x) => x.keep)).toEqual(['none', 'all']);
    expect(crashStates([], 100, 1).map((x) => x.keep)).toEqual(['none', 'all']);
  });
  it('needs a crash that a remount follows', () => {
    expect(crashPoint([{ op: 'sync' }])).toBe('the scenario has no crash step');
    expect(crashPoint([{ op: 'crash' }])).toMatch(/no remount follows/);
    expect(crashPoint([{ op: 'sync' }, { op: 'crash' }, { op: 'remount' }])).toBe(1);
  });
});

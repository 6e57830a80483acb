/**
 * bench/mutation.ts finds single-token mutants where they change behaviour
 * only: never in strings, types, thrown model-bug messages or coverage
 * counting; a seed draws the same sample anywhere.
 */
import { describe, expect, it } from 'vitest';
import { modelFiles, mutationSites, sample } from '../../bench/mutation.ts';

const SRC = `
type T = 'a' | 'b';
function f(a: number, b: number, s: string): boolean {
  if (a < b && !g(s)) return true;
  if (a === 0) cover('x: y');
  if (b > 1) throw new Error('model bug: ' + (a - b));
  return s + 'x' === 'y' || false;
}
`;

describe('mutation sites', () => {
  it('are the comparisons, connectives, arithmetic, negations and booleans of code', () => {
    const got = mutationSites('m.ts', SRC).map((m) => `${m.line}:${m.from}->${m.to}`).sort();
    // The condition of the throw is code; its message (the - inside it) is not; nor is the cover() call or the + of strings.
    expect(got).toEqual(['4:!->', '4:&&->||', '4:<-><=', '4:true->false', '6:>->>=', '7:===->!==', '7:false->true', '7:||->&&']);
  });

  it('leave out the coverage counters and the harnesses', () => {
    const files = modelFiles();
    expect(files).toContain('model/ext4/mballoc.ts');
    expect(files).not.toContain('model/lib/coverage.ts');
    expect(files.some((f) => f.endsWith('/harness.ts'))).toBe(false);
  });

  it('are sampled the same way from the same seed', () => {
    const all = mutationSites('m.ts', SRC);
    expect(sample(all, 3, 5)).toEqual(sample(all, 3, 5));
    expect(sample(all, 100, 5)).toHaveLength(all.length);
  });
});

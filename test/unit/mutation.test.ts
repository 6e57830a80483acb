/**
 * bench/mutation.ts finds single-token mutants where they change behaviour
 * only: never in strings, types, thrown model-bug messages or coverage
 * counting; a seed draws the same sample anywhere.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EQUIVALENT_FILE, loadEquivalents, modelFiles, mutationSites, sample } from '../../bench/mutation.ts';

const ROOT = join(import.meta.dirname, '..', '..');

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

  it('have keys that survive edits elsewhere, so a sample keeps its mutants when other code changes', () => {
    const all = mutationSites('m.ts', SRC);
    expect(new Set(all.map((m) => m.key)).size).toBe(all.length);
    // Two identical sites on one line are told apart by their order.
    expect(mutationSites('n.ts', 'f(a < b, a < b);').map((m) => m.key)).toEqual(['n.ts|f(a < b, a < b);|<-><=|0', 'n.ts|f(a < b, a < b);|<-><=|1']);
    const edited = mutationSites('m.ts', `const z = 1 + 2 > 3;\n${SRC}`);
    expect(edited.map((m) => m.key)).toEqual(expect.arrayContaining(all.map((m) => m.key)));
    // Drawn from the edited file, the sample holds the old one's mutants but for those the new sites displace.
    const before = new Set(sample(all, 4, 9).map((m) => m.key));
    const after = sample(edited, 4, 9).map((m) => m.key);
    const fresh = new Set(edited.filter((m) => !all.some((o) => o.key === m.key)).map((m) => m.key));
    expect(after.filter((k) => !fresh.has(k)).every((k) => before.has(k))).toBe(true);
  });

  it('judged equivalent are on record with a reason for each, and a malformed record is refused', () => {
    // Each names a site of the model as it is: a changed line is judged again, not excused by an old reason.
    const keys = new Set(modelFiles().flatMap((f) => mutationSites(f, readFileSync(join(ROOT, f), 'utf8')).map((m) => m.key)));
    expect([...loadEquivalents(EQUIVALENT_FILE).keys()].filter((k) => !keys.has(k))).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'iospec-eq-'));
    try {
      writeFileSync(join(dir, 'bad.json'), JSON.stringify([{ key: 'model/x.ts|a < b|<-><=|0', reason: '' }]));
      expect(() => loadEquivalents(join(dir, 'bad.json'))).toThrow(/entry 0 needs a "key" and a non-empty "reason"/);
      writeFileSync(join(dir, 'twice.json'), JSON.stringify([{ key: 'k', reason: 'r' }, { key: 'k', reason: 's' }]));
      expect(() => loadEquivalents(join(dir, 'twice.json'))).toThrow(/entry 1 repeats the key/);
      writeFileSync(join(dir, 'broken.json'), '[{');
      expect(() => loadEquivalents(join(dir, 'broken.json'))).toThrow(/broken\.json: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

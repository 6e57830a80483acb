/**
 * The folio checks pass over a file whose cache, size, block map, in-flight
 * I/O and disk contents did not change since it last passed them
 * (properties/folio.ts, AddressSpace.gen), and the clean-folio check over
 * the folios of a file that did not change themselves (Folio.gen).  A change the model made without
 * telling the mapping would let a check miss a violation; here every
 * variant that breaks a folio invariant, and upstream, is searched twice
 * with the same seed, incrementally and walking every folio of every file
 * at every step: the two searches must end alike (same sequences run, same
 * counterexample or none).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { check } from '../checker/check.ts';
import type { CheckReport } from '../checker/check.ts';
import { INVARIANTS } from '../properties/index.ts';
import { setIncrementalChecks } from '../properties/incremental.ts';
import { VARIANTS } from '../model/variants.ts';
import type { VariantInfo } from '../model/variants.ts';
import { noCleanWhileBlockDirty } from '../properties/folio.ts';
import { zeroData } from '../model/lib/content.ts';
import { open, pread, pwrite, runRecorded } from './helpers.ts';

const FOLIO = INVARIANTS.filter((i) => i.id.startsWith('folio/'));
const CASES: Array<VariantInfo | null> = [null, ...VARIANTS.filter((v) => v.breaks.some((id) => id.startsWith('folio/')))];

function search(v: VariantInfo | null, seed: number, mode: 'audit' | 'off'): CheckReport {
  setIncrementalChecks(mode);
  return check({ invariants: FOLIO, variant: v, seed, runs: 1500, maxSteps: 60, timeMs: 600_000 });
}

afterEach(() => setIncrementalChecks('on'));

describe('incremental folio checks decide as the full walk does', () => {
  it('covers the folio invariants and the variants that break them', () => {
    expect(FOLIO.map((i) => i.id).sort()).toEqual(['folio/dirty-iff-dirty-blocks', 'folio/no-clean-while-block-dirty', 'folio/stable-under-writeback', 'folio/writeback-iff-io-in-flight']);
    expect(CASES.length).toBeGreaterThanOrEqual(6);
  });
  for (const v of CASES) {
    it(v?.name ?? 'upstream', () => {
      const seed = 4242;
      // 'audit' throws where a file or a folio is passed over although it changed.
      const inc = search(v, seed, 'audit');
      const full = search(v, seed, 'off');
      expect(inc.runs).toBe(full.runs);
      expect(inc.steps).toBe(full.steps);
      expect(inc.counterexample?.violation ?? null).toEqual(full.counterexample?.violation ?? null);
      expect(inc.counterexample?.steps ?? null).toEqual(full.counterexample?.steps ?? null);
      // A variant's search finds its folio violation (the comparison is not between two empty runs).
      if (v !== null && v.breaks.some((id) => id.startsWith('folio/'))) expect(full.counterexample).not.toBeNull();
    });
  }
});

/**
 * An event check is called only after a step that recorded one of the
 * event types it declares (StateInvariant.events, checker/execute.ts).  A
 * check that reads a type it does not declare would miss what it should
 * catch; in 'audit' the runner calls the checks it would skip and throws
 * where one fails.  Here upstream is searched with every invariant; every
 * kept counterexample is replayed in 'audit' too (counterexamples.test.ts),
 * a witness of each variant that breaks an event invariant among them.
 */
describe('event checks skipped after steps without their events would have passed', () => {
  it('upstream, every invariant', () => {
    setIncrementalChecks('audit');
    const r = check({ invariants: INVARIANTS, variant: null, seed: 4242, runs: 300, maxSteps: 40, timeMs: 600_000 });
    expect(r.steps).toBeGreaterThan(3000);
  });
});

/**
 * folio/no-clean-while-block-dirty compares adjacent whole clean folios
 * (what a readahead brings in) with the disk in one walk over their range,
 * and, where they differ, each on its own: the violation names the folio
 * that differs, in whichever mode.
 */
describe('the clean-folio check over a readahead of many folios', () => {
  for (const mode of ['on', 'off', 'audit'] as const) {
    it(`finds the one clean folio that differs from the disk, and names it ('${mode}')`, () => {
      setIncrementalChecks(mode);
      const read = () => {
        const { sys } = runRecorded({ fs: 'xfs' }, [open('f', 'A', 'O_RDWR', 'O_CREAT'), pwrite('A', 0, 65536, 1), { op: 'fsync', fd: 'A' }, { op: 'reclaim' }, pread('A', 0, 65536)]);
        const inode = [...sys.sb.inodes.values()].find((i) => i.kind === 'reg')!;
        const ctx = { step: pread('A', 0, 1), n: 6, sys, out: { result: { step: 6, op: 'pread' }, read: null, writePos: -1, crashReport: null, ioErrors: [] } };
        return { inode, folios: inode.mapping.allFolios(), ctx };
      };
      const clean = read();
      expect(clean.folios.length).toBeGreaterThanOrEqual(8);
      expect(clean.folios.every((f) => f.uptodate && !f.dirty)).toBe(true);
      expect(noCleanWhileBlockDirty.check(clean.ctx)).toBeNull();
      // A model bug: a clean folio in the middle of the readahead does not hold what the disk does.
      const { inode, folios, ctx } = read();
      const bad = folios[5]!;
      bad.setData(zeroData(bad.size));
      expect(noCleanWhileBlockDirty.check(ctx)).toMatch(new RegExp(`the folio at ${bad.pos} of inode ${inode.ino} is clean, but its block at ${bad.pos} holds zeroes`));
    });
  }
});

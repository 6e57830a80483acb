/**
 * Block placement as scenarios compare it (scenario/placement.ts) and the
 * comparison of it (kernel/compare.ts).
 */
import { describe, expect, it } from 'vitest';
import { PlacementOrigin } from '../../scenario/placement.ts';
import { compareResults } from '../../kernel/compare.ts';
import type { StepResult } from '../../model/system.ts';

const ext = (logical: number, physical: number, length: number, flags: string[] = []) => ({ logical, physical, length, flags });

describe('placement', () => {
  it('measures from the first extent of the run and merges records that continue one another', () => {
    const o = new PlacementOrigin();
    expect(o.of([ext(0, 1000, 8), ext(8, 1008, 8, ['FIEMAP_EXTENT_UNWRITTEN']), ext(32, 2000, 8)])).toEqual([[0, 0, 16], [32, 1000, 8]]);
    // A later step (another file) is measured from the same origin.
    expect(o.of([ext(0, 900, 4)])).toEqual([[0, -100, 4]]);
  });

  it('is compared when the step asked for it, not the absolute addresses', () => {
    const fiemap = (physical: number, placement: Array<[number, number, number]>): StepResult => ({ step: 1, op: 'fiemap', ret: 0, extents: [ext(0, physical, 4096)], placement });
    expect(compareResults(fiemap(4096, [[0, 0, 4096]]), fiemap(8192, [[0, 0, 4096]]))).toBeNull();
    expect(compareResults(fiemap(4096, [[0, 4096, 4096]]), fiemap(4096, [[0, 0, 4096]]))?.field).toBe('placement');
    // A kernel answer without placement (the step did not ask): physical addresses are not compared.
    expect(compareResults(fiemap(4096, [[0, 4096, 4096]]), { step: 1, op: 'fiemap', ret: 0, extents: [ext(0, 1 << 20, 4096)] })).toBeNull();
  });
});

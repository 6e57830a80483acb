/**
 * The order test files start in: the longest first (longest-processing-time
 * scheduling, so that no long file starts last and runs alone), by their
 * measured durations on 2 cores; the rest as vitest orders them (by its own
 * timings when it has them, the largest files first when it has none, as on
 * a fresh clone — which left the 80 s differential fuzz, a small file, to
 * the end).
 */
import { BaseSequencer } from 'vitest/node';
import type { TestSpecification } from 'vitest/node';

const LONGEST = ['test/conformance.test.ts', 'test/kernel-diff.test.ts', 'test/variants-1.test.ts', 'test/variants-2.test.ts', 'test/fstests.test.ts', 'test/variants-3.test.ts'];

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = LONGEST.findIndex((p) => f.moduleId.endsWith(p));
      return i < 0 ? LONGEST.length : i;
    };
    return base.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map((x) => x.f);
  }
}

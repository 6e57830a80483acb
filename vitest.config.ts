import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import LongestFirst from './test/setup/sequencer.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/bundle.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One worker more than the cores: the kernel tests spend about a third of their time waiting for
    // the kernel (mkfs, mount, loop I/O done by kernel threads), which the extra worker fills
    // (on 2 cores: 142 s with 3 workers, 158 s with 2, 145 s with 4).
    maxWorkers: availableParallelism() + 1,
    sequence: { sequencer: LongestFirst },
    reporters: ['default'],
  },
});

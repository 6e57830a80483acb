import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import LongestFirst from './test/setup/sequencer.ts';
import { V8_FLAGS } from './scripts/v8-flags.mjs';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/bundle.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // A worker runs its files in one module registry: the model, the checker and fast-check are loaded
    // once per worker, not once per file (the tests keep no state between files: no environment
    // changes, no mocks).  On 2 cores, cold: 134 s against 173 s isolated.
    isolate: false,
    // One worker more than the cores: the kernel tests spend about a third of their time waiting for
    // the kernel (mkfs, mount, loop I/O done by kernel threads), which the extra worker fills
    // (on 2 cores: 142 s with 3 workers, 158 s with 2, 145 s with 4).
    maxWorkers: availableParallelism() + 1,
    // The test workers run the model and the checker for most of the suite's time (scripts/v8-flags.mjs).
    execArgv: [...V8_FLAGS],
    sequence: { sequencer: LongestFirst },
    reporters: ['default'],
  },
});

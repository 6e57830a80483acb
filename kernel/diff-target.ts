/**
 * What `iospec diff --fuzz --fs NAME` runs: a target is a kind of system a
 * file system type offers for differential fuzzing (its harness's
 * `diffTargets`, model/fs/registry.ts), with how its scenarios start.
 */
import fc from 'fast-check';
import type { Step, SystemDoc } from '../scenario/schema.ts';

export interface DiffTarget {
  /** The `--fs` name: ext4, ext4-encrypt, xfs, ... */
  readonly name: string;
  /** For reports: "ext4 (encrypted directory)". */
  readonly label: string;
  /** The systems generated for it (loop-device geometry). */
  readonly systems: fc.Arbitrary<SystemDoc>;
  /** Where the scenarios open their files (default f, g and d/h). */
  readonly paths?: readonly string[];
  /** Steps before the generated ones (encrypting the directory the files are in). */
  readonly prefix?: readonly Step[];
  /** The generated fiemap steps compare block placement too (a file system whose allocator the model follows: ext4). */
  readonly placement?: boolean;
}

/** The geometry a differential run draws for a loop device. */
export interface DiffDraw {
  readonly blockSize: number;
  readonly lbs4k: boolean;
  readonly writeCache: boolean;
  /** Blocks per cluster, for a target with clustered allocation. */
  readonly ratio: number;
}

/**
 * Loop-device systems of file system `fs`: block sizes 4096 (twice as
 * likely), 1024 and 2048 unless `blockSizes` says otherwise, a 4 KiB
 * logical block size now and then, the write cache mostly on; `extra` adds
 * the target's own fields (features, cluster size).
 */
export function diffSystems(fs: string, opts: { readonly blockSizes?: readonly number[]; readonly extra?: (g: DiffDraw) => Partial<SystemDoc> } = {}): fc.Arbitrary<SystemDoc> {
  return fc
    .record({
      blockSize: opts.blockSizes === undefined ? fc.constantFrom(4096, 4096, 1024, 2048) : opts.blockSizes.length === 1 ? fc.constant(opts.blockSizes[0]!) : fc.constantFrom(...opts.blockSizes),
      lbs4k: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      writeCache: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      ratio: fc.constantFrom(4, 16),
    })
    .map((g) => {
      const lbs = g.lbs4k && g.blockSize === 4096 ? 4096 : 512;
      const doc: SystemDoc = { fs, blockSize: g.blockSize, device: { sizeMiB: 512, logicalBlockSize: lbs, writeCache: g.writeCache } };
      return { ...doc, ...(opts.extra?.(g) ?? {}) };
    });
}

/**
 * atomic/no-torn-write and a store into the write's buffer while its I/O is
 * in flight: the device took the buffer as it was when it transferred it,
 * so the stored byte is the write's, not a torn "old" byte (a false report
 * found by check --variant ext4-atomic-aligned-alloc-rfc --seed 12; the
 * same on upstream).
 */
import { describe, expect, it } from 'vitest';
import { runChecked } from '../../checker/execute.ts';
import { INVARIANTS } from '../../properties/index.ts';
import { UPSTREAM } from '../../model/variants.ts';
import { resolveSystem } from '../../scenario/resolve.ts';
import type { Step, SystemDoc } from '../../scenario/schema.ts';
import '../../model/filesystems.ts';

const system: SystemDoc = {"fs": "ext4", "blockSize": 4096, "folioSize": 0, "device": {"sizeMiB": 512, "logicalBlockSize": 512, "writeCache": true, "atomicWriteUnitMin": 512, "atomicWriteUnitMax": 65536, "atomicWriteBoundary": 0, "virtBoundary": 0, "maxSectorsKb": 8}};
const steps: Step[] = [{"op": "open", "path": "f", "fd": "A", "flags": ["O_RDWR", "O_CREAT", "O_DIRECT"]}, {"op": "pwrite", "fd": "A", "offset": 0, "length": 4096, "fill": 1, "bufOffset": 0, "flags": ["RWF_ATOMIC", "RWF_DONTCACHE"], "storeDuringIo": {"offset": 0, "length": 1, "fill": 2}}, {"op": "fsync", "fd": "A"}, {"op": "crash"}, {"op": "remount"}, {"op": "open", "path": "f", "fd": "A", "flags": ["O_RDWR"]}, {"op": "pread", "fd": "A", "offset": 0, "length": 4096}];

describe('atomic/no-torn-write', () => {
  it('takes a byte stored into the buffer during the write as the write\'s', () => {
    const r = runChecked(resolveSystem(system), UPSTREAM, steps, INVARIANTS);
    expect(r.violation ?? null).toBeNull();
    // The read after the crash does show the stored byte: the write's data is not simply the fill.
    const last = r.results[r.results.length - 1]!;
    expect(last.data?.[0]).toEqual([2, 1]);
  });
});

/**
 * model/ext4/mke2fs.ts against this machine's mkfs.ext4: for each geometry,
 * the blocks dumpe2fs lists as not free on a fresh image are the ones the
 * model's layout puts in use, and the groups it flags BLOCK_UNINIT are the
 * model's.  Needs e2fsprogs (mkfs.ext4, dumpe2fs), not
 * root: the images are plain files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mke2fs_layout } from '../../model/ext4/mke2fs.ts';

const missing = ['mkfs.ext4', 'dumpe2fs'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
const dir = missing.length === 0 ? mkdtempSync(join(tmpdir(), 'iospec-mke2fs-')) : '';
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** [size MiB, block size, blocks per cluster]: 1 to 24 groups, 1, 2 and 4 KiB blocks, bigalloc. */
const GEOMETRIES: ReadonlyArray<readonly [number, number, number]> = [
  [512, 4096, 1], [256, 4096, 1], [64, 4096, 1], [16, 4096, 1], [128, 4096, 1], [700, 4096, 1], [1024, 4096, 1], [2048, 4096, 1], [3072, 4096, 1],
  [512, 1024, 1], [64, 1024, 1], [32, 1024, 1], [512, 2048, 1], [512, 4096, 4], [512, 4096, 16], [256, 4096, 16],
];

/**
 * The blocks dumpe2fs does not list as free, as runs (with bigalloc it lists
 * the first block of a free run's last cluster), and which groups it flags
 * BLOCK_UNINIT.
 */
function usedRuns(img: string, ratio: number): { total: number; used: Array<[number, number]>; blockUninit: boolean[] } {
  const out = execFileSync('dumpe2fs', [img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const blockUninit = [...out.matchAll(/^Group \d+: .*$/gm)].map((m) => m[0].includes('BLOCK_UNINIT'));
  const total = Number(/Block count:\s+(\d+)/.exec(out)![1]);
  let pos = Number(/First block:\s+(\d+)/.exec(out)![1]);
  const used: Array<[number, number]> = [];
  for (const m of out.matchAll(/^ {2}Free blocks: (.*)$/gm)) {
    for (const part of m[1]!.split(', ').filter((p) => p !== '')) {
      const [a, b] = part.split('-').map(Number);
      const end = Math.ceil(((b ?? a!) + 1) / ratio) * ratio;
      if (a! > pos) used.push([pos, a!]);
      pos = Math.max(pos, end);
    }
  }
  if (pos < total) used.push([pos, total]);
  return { total, used, blockUninit };
}

describe.skipIf(missing.length > 0)(`mke2fs layout matches mkfs.ext4 and dumpe2fs${missing.length > 0 ? ` (skipped: ${missing.join(', ')} not installed)` : ''}`, () => {
  for (const [mib, bs, ratio] of GEOMETRIES) {
    it(`${mib} MiB, ${bs}-byte blocks${ratio > 1 ? `, ${ratio}-block clusters` : ''}`, () => {
      const img = join(dir, `${mib}-${bs}-${ratio}.img`);
      execFileSync('truncate', ['-s', `${mib}M`, img]);
      execFileSync('mkfs.ext4', ['-F', '-q', '-b', String(bs), ...(ratio > 1 ? ['-O', 'bigalloc', '-C', String(bs * ratio)] : []), '-E', 'lazy_itable_init=0', img], { stdio: 'ignore' });
      const k = usedRuns(img, ratio);
      rmSync(img);
      const l = mke2fs_layout(k.total, bs, ratio);
      expect(l.used).toEqual(k.used);
      expect(l.blockUninit).toEqual(k.blockUninit);
    });
  }
});

/**
 * Block layer: expected outcomes worked out from block/blk-merge.c
 * (bio_split_rw_at, get_max_io_size, bio_may_need_split), block/blk-core.c
 * and block/blk-settings.c.
 */
import { describe, expect, it } from 'vitest';
import { Bio, REQ_ATOMIC, REQ_FUA, REQ_NOWAIT } from '../../model/block/bio.ts';
import { bio_may_need_split, bio_split_rw } from '../../model/block/blk-merge.ts';
import { LOOP_DEVICE_DEFAULTS, queueLimitsFromConfig } from '../../model/block/blk-settings.ts';
import { Disk } from '../../model/block/disk.ts';
import { submit_bio_noacct, blk_complete } from '../../model/block/blk-core.ts';
import { span } from '../../model/lib/content.ts';
import { EAGAIN, EINVAL } from '../../model/lib/errno.ts';

const loop = queueLimitsFromConfig(LOOP_DEVICE_DEFAULTS);
const origin = { kind: 'dio' as const, ino: 1, pos: 0, step: 1 };

function bio(vecs: Array<[number, number]>, opf = 0, sector = 0): Bio {
  const b = new Bio('write', opf, sector, origin);
  for (const [addr, len] of vecs) b.addVec(addr, len, [span(len, 1, 0, 1)]);
  return b;
}

function pages(n: number, start = 0): Array<[number, number]> {
  return Array.from({ length: n }, (_, i) => [start + i * 4096, 4096] as [number, number]);
}

describe('bio splitting (block/blk-merge.c, 6.18)', () => {
  it('a single bvec inside one page skips the splitter, whatever its alignment (bio_may_need_split)', () => {
    expect(bio_may_need_split(bio([[1, 512]]), loop)).toBe(false);
    expect(bio_may_need_split(bio([[3584, 1024]]), loop)).toBe(true);
  });

  it('rejects a bvec whose page offset or length is not a multiple of dma_alignment+1', () => {
    expect(bio_split_rw(bio([[4096, 4096], [8193, 4095]]), loop).bytes).toBe(-EINVAL);
    expect(bio_split_rw(bio([[0, 100], [4096, 412]]), loop).bytes).toBe(-EINVAL);
    expect(bio_split_rw(bio([[512, 512], [4096 + 1024, 512]]), loop).bytes).toBe(0);
  });

  it('splits at max_segments (128 page bvecs = 512 KiB)', () => {
    const r = bio_split_rw(bio(pages(200)), loop);
    expect(r.bytes).toBe(128 * 4096);
  });

  it('splits at max_sectors_kb (1280 KiB) for large folio bvecs, rounded to the physical block size', () => {
    const big = bio(Array.from({ length: 4 }, (_, i) => [i * 1048576, 1048576] as [number, number]));
    const lim = queueLimitsFromConfig({ ...LOOP_DEVICE_DEFAULTS, maxSegmentSize: 1 << 20, maxSegments: 1000 });
    expect(bio_split_rw(big, lim).bytes).toBe(1280 * 1024);
  });

  it('never splits a REQ_ATOMIC bio and fails a REQ_NOWAIT one that needs splitting', () => {
    expect(bio_split_rw(bio(pages(200), REQ_ATOMIC), loop).bytes).toBe(-EINVAL);
    expect(bio_split_rw(bio(pages(200), REQ_NOWAIT), loop).bytes).toBe(-EAGAIN);
  });

  it('submit_bio_noacct hands the split parts to the disk in order and completes the parent last', () => {
    const disk = new Disk(loop, 1 << 30);
    const b = bio(pages(300));
    let done = 0;
    b.endio = () => done++;
    submit_bio_noacct(disk, b);
    expect(disk.inflight.map((x) => x.size)).toEqual([128 * 4096, 128 * 4096, 44 * 4096]);
    for (const x of disk.inflight.slice()) blk_complete(disk, x);
    expect(done).toBe(1);
  });
});

describe('queue limits (block/blk-settings.c)', () => {
  it('derives atomic write limits and disables invalid ones', () => {
    const ok = queueLimitsFromConfig({ ...LOOP_DEVICE_DEFAULTS, atomicWriteUnitMin: 4096, atomicWriteUnitMax: 65536 });
    expect([ok.atomic_write_unit_min, ok.atomic_write_unit_max]).toEqual([4096, 65536]);
    const bad = queueLimitsFromConfig({ ...LOOP_DEVICE_DEFAULTS, atomicWriteUnitMin: 4096, atomicWriteUnitMax: 12288 });
    expect([bad.atomic_write_unit_min, bad.atomic_write_unit_max]).toEqual([0, 0]);
    // Clamped to what one bio is guaranteed to carry (blk_queue_max_guaranteed_bio: 2*512 + 126*4096).
    const big = queueLimitsFromConfig({ ...LOOP_DEVICE_DEFAULTS, atomicWriteUnitMin: 4096, atomicWriteUnitMax: 1 << 20 });
    expect(big.atomic_write_unit_max).toBe(262144);
  });
});

describe('the disk: volatile cache, FUA, flush and crashes', () => {
  function write(disk: Disk, sector: number, sectors: number, src: number, opf = 0): Bio {
    const b = new Bio('write', opf, sector, origin);
    b.addVec(0, sectors * 512, [span(sectors * 512, src, 0, src)]);
    submit_bio_noacct(disk, b);
    return b;
  }

  it('loses what was not flushed at a crash with keep "none", keeps it with "all"', () => {
    for (const [choice, want] of [['none', 0], ['all', 5]] as const) {
      const disk = new Disk(loop, 1 << 30);
      const b = write(disk, 8, 8, 5);
      blk_complete(disk, b);
      expect(disk.read(8 * 512, 1)[0]!.src).toBe(5);
      disk.crash(choice);
      expect(disk.read(8 * 512, 1)[0]!.src === 5 ? 5 : 0).toBe(want);
    }
  });

  it('a flush makes completed writes durable; in-flight writes can land in part', () => {
    const disk = new Disk(loop, 1 << 30);
    const a = write(disk, 0, 8, 1);
    blk_complete(disk, a);
    disk.flush();
    write(disk, 0, 8, 2);
    const rep = disk.crash({ keep: [[0, 2, 3]] });
    expect(rep.kept).toEqual([[0, 2, 3]]);
    const got = disk.readDurable(0, 8 * 512).map((s) => [s.src, s.len / 512]);
    expect(got).toEqual([
      [1, 2],
      [2, 3],
      [1, 3],
    ]);
  });

  it('a REQ_ATOMIC write reaches the medium whole or not at all', () => {
    const disk = new Disk(queueLimitsFromConfig({ ...LOOP_DEVICE_DEFAULTS, atomicWriteUnitMin: 4096, atomicWriteUnitMax: 65536 }), 1 << 30);
    write(disk, 0, 16, 3, REQ_ATOMIC);
    disk.crash({ keep: [[0, 0, 1]] });
    expect(disk.readDurable(0, 16 * 512).map((s) => [s.src, s.len])).toEqual([[3, 8192]]);
  });

  it('a FUA write supersedes older cached data for the same sectors', () => {
    const disk = new Disk(loop, 1 << 30);
    const a = write(disk, 0, 8, 1);
    blk_complete(disk, a);
    const b = write(disk, 0, 8, 2, REQ_FUA);
    blk_complete(disk, b);
    disk.crash('all');
    expect(disk.readDurable(0, 512)[0]!.src).toBe(2);
  });
});

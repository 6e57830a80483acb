/**
 * Queue limits (include/linux/blkdev.h struct queue_limits), named as in
 * /sys/block/<dev>/queue/*, and their validation (block/blk-settings.c).
 */
import { isPowerOf2, roundDownPowOf2 } from '../lib/math.ts';

export const SECTOR_SIZE = 512;
export const SECTOR_SHIFT = 9;
export const PAGE_SIZE = 4096;
/** include/linux/bvec.h: BIO_MAX_VECS */
export const BIO_MAX_VECS = 256;

export interface InlineCryptoCaps {
  /** Data unit sizes the engine supports for AES-256-XTS. */
  readonly dataUnitSizes: readonly number[];
  /** Maximum DUN bytes the engine supports. */
  readonly maxDunBytes: number;
}

export interface QueueLimits {
  readonly logical_block_size: number;
  readonly physical_block_size: number;
  /** A mask, as in the kernel (queue/dma_alignment shows the mask: 511). */
  readonly dma_alignment: number;
  /** In 512-byte sectors (queue/max_sectors_kb * 2). */
  readonly max_sectors: number;
  readonly max_hw_sectors: number;
  readonly max_segments: number;
  readonly max_segment_size: number;
  /** 0 means no virtual boundary. */
  readonly virt_boundary_mask: number;
  readonly seg_boundary_mask: number;
  readonly chunk_sectors: number;
  /** Hardware atomic write limits in bytes (0 = no atomic writes). */
  readonly atomic_write_hw_unit_min: number;
  readonly atomic_write_hw_unit_max: number;
  readonly atomic_write_hw_boundary: number;
  /** Effective limits after blk_atomic_writes_update_limits. */
  readonly atomic_write_unit_min: number;
  readonly atomic_write_unit_max: number;
  readonly atomic_write_boundary_sectors: number;
  readonly atomic_write_max_sectors: number;
  /** BLK_FEAT_WRITE_CACHE: the device has a volatile write cache. */
  readonly write_cache: boolean;
  /** BLK_FEAT_FUA: the device supports FUA natively. */
  readonly fua: boolean;
  /** BLK_FEAT_STABLE_WRITES: data must not change while under I/O. */
  readonly stable_writes: boolean;
  readonly inline_crypto: InlineCryptoCaps | null;
}

export interface DeviceConfig {
  sizeMiB: number;
  logicalBlockSize: number;
  physicalBlockSize: number;
  dmaAlignment: number;
  /** queue/max_sectors_kb: the soft limit, at most max_hw_sectors_kb. */
  maxSectorsKb: number;
  /** queue/max_hw_sectors_kb: the hardware limit (atomic write limits derive from it). */
  maxHwSectorsKb: number;
  /** queue/read_ahead_kb: the disk's bdi->ra_pages, in KiB (the readahead window of files on it). */
  readAheadKb: number;
  maxSegments: number;
  maxSegmentSize: number;
  virtBoundary: number;
  writeCache: boolean;
  fua: boolean;
  stableWrites: boolean;
  atomicWriteUnitMin: number;
  atomicWriteUnitMax: number;
  atomicWriteBoundary: number;
  inlineCrypto: false | { dataUnitSizes: number[]; maxDunBytes?: number | undefined };
  /**
   * When bios complete (a model knob; the kernel runner ignores it).
   * `explicit`: only when the kernel waits for one or a `complete` step
   * completes it, so a crash can find writes in flight.  `step-end`: every
   * bio still in flight completes at the end of each step, in submission
   * order, as on a fast device such as a loop device (what the kernel runner
   * sees of writeback the kernel starts without waiting for it).
   */
  completion: 'explicit' | 'step-end';
  /**
   * The byte every sector holds before mkfs (a used disk's old contents;
   * 0 is a fresh loop file).  The kernel runner writes it into the image
   * and runs mkfs without discard, so that what was never written since
   * reads back as this byte.
   */
  fill: number;
}

/** A loop device on this kernel: what /sys/block/loop0/queue shows. */
export const LOOP_DEVICE_DEFAULTS: DeviceConfig = {
  sizeMiB: 512,
  logicalBlockSize: 512,
  physicalBlockSize: 512,
  dmaAlignment: 511,
  maxSectorsKb: 1280,
  maxHwSectorsKb: 1280,
  // What a new loop device shows on this kernel (2 × max_hw_sectors_kb), not VM_READAHEAD_PAGES.
  readAheadKb: 2560,
  maxSegments: 128,
  maxSegmentSize: 65536,
  virtBoundary: 0,
  writeCache: true,
  fua: false,
  stableWrites: false,
  atomicWriteUnitMin: 0,
  atomicWriteUnitMax: 0,
  atomicWriteBoundary: 0,
  inlineCrypto: false,
  completion: 'explicit',
  fill: 0,
};

/**
 * The guaranteed size of a bio that needs no splitting for segment reasons
 * (block/blk-settings.c: blk_queue_max_guaranteed_bio).
 */
export function blk_queue_max_guaranteed_bio(lim: { max_segments: number; logical_block_size: number }): number {
  const segs = Math.min(lim.max_segments, BIO_MAX_VECS);
  if (segs < 2) return lim.logical_block_size;
  return 2 * lim.logical_block_size + (segs - 2) * PAGE_SIZE;
}

/**
 * Build queue limits from a device configuration; atomic limits are checked
 * and derived as in blk_validate_atomic_write_limits and
 * blk_atomic_writes_update_limits (block/blk-settings.c).  Invalid atomic
 * limits make atomic writes unsupported (all zero), as the kernel does.
 */
export function queueLimitsFromConfig(c: DeviceConfig): QueueLimits {
  const max_sectors = (c.maxSectorsKb * 1024) / SECTOR_SIZE;
  const max_hw_sectors = (Math.max(c.maxHwSectorsKb, c.maxSectorsKb) * 1024) / SECTOR_SIZE;
  let hwMin = c.atomicWriteUnitMin;
  let hwMax = c.atomicWriteUnitMax;
  let boundary = c.atomicWriteBoundary;
  const valid =
    hwMax > 0 &&
    isPowerOf2(hwMin) &&
    isPowerOf2(hwMax) &&
    hwMin <= hwMax &&
    hwMin >= c.logicalBlockSize &&
    (boundary === 0 || (isPowerOf2(boundary) && hwMax <= boundary));
  if (!valid) {
    hwMin = 0;
    hwMax = 0;
    boundary = 0;
  }
  const maxBytes = Math.min(max_hw_sectors * SECTOR_SIZE, blk_queue_max_guaranteed_bio({ max_segments: c.maxSegments, logical_block_size: c.logicalBlockSize }));
  const cap = roundDownPowOf2(maxBytes);
  let unitMax = Math.min(hwMax, cap);
  let unitMin = Math.min(hwMin, unitMax);
  if (!valid || unitMin === 0) {
    unitMin = 0;
    unitMax = 0;
  }
  // One literal, not a spread of the plain limits with the atomic ones added: on Node 20's V8, an
  // object made by `{ ...o, more }` keeps what the young generation allocated around it alive
  // through the next scavenges (scripts/v8-flags.mjs says how that was found).
  return {
    logical_block_size: c.logicalBlockSize,
    physical_block_size: c.physicalBlockSize,
    dma_alignment: c.dmaAlignment,
    max_sectors,
    max_hw_sectors,
    max_segments: c.maxSegments,
    max_segment_size: c.maxSegmentSize,
    virt_boundary_mask: c.virtBoundary > 0 ? c.virtBoundary - 1 : 0,
    seg_boundary_mask: 0xffffffff,
    chunk_sectors: 0,
    write_cache: c.writeCache,
    fua: c.fua,
    stable_writes: c.stableWrites,
    inline_crypto:
      c.inlineCrypto === false
        ? null
        : { dataUnitSizes: c.inlineCrypto.dataUnitSizes.slice(), maxDunBytes: c.inlineCrypto.maxDunBytes ?? 8 },
    atomic_write_hw_unit_min: hwMin,
    atomic_write_hw_unit_max: hwMax,
    atomic_write_hw_boundary: boundary,
    atomic_write_unit_min: unitMin,
    atomic_write_unit_max: unitMax,
    atomic_write_boundary_sectors: boundary / SECTOR_SIZE,
    atomic_write_max_sectors: Math.min(hwMax / SECTOR_SIZE, max_hw_sectors),
  };
}

/** include/linux/blkdev.h: bdev_can_atomic_write */
export function bdev_can_atomic_write(lim: QueueLimits): boolean {
  return lim.atomic_write_unit_min > 0;
}

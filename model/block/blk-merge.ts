/**
 * Splitting bios to the queue limits (block/blk-merge.c).
 */
import type { Knobs } from '../variants.ts';
import { UPSTREAM } from '../variants.ts';
import type { Bio } from './bio.ts';
import { REQ_ATOMIC, REQ_NOWAIT } from './bio.ts';
import type { QueueLimits } from './blk-settings.ts';
import { PAGE_SIZE, SECTOR_SHIFT } from './blk-settings.ts';
import { EAGAIN, EINVAL } from '../lib/errno.ts';
import { cover } from '../lib/coverage.ts';

/** block/blk-merge.c: blk_boundary_sectors */
function blk_boundary_sectors(lim: QueueLimits, isAtomic: boolean): number {
  if (isAtomic && lim.atomic_write_boundary_sectors > 0) return lim.atomic_write_boundary_sectors;
  return lim.chunk_sectors;
}

/**
 * block/blk-merge.c: get_max_io_size, in sectors.  `atomicAsAny` is the
 * variant atomic-split-max-sectors: a REQ_ATOMIC bio is sized like any other.
 */
export function get_max_io_size(bio: Bio, lim: QueueLimits, atomicAsAny = false): number {
  const pbs = lim.physical_block_size >> SECTOR_SHIFT;
  const lbs = lim.logical_block_size >> SECTOR_SHIFT;
  const isAtomic = (bio.opf & REQ_ATOMIC) !== 0 && !atomicAsAny;
  const boundary = blk_boundary_sectors(lim, isAtomic);
  let maxSectors = isAtomic ? lim.atomic_write_max_sectors : lim.max_sectors;
  if (boundary > 0) maxSectors = Math.min(maxSectors, boundary - (bio.sector % boundary));
  const start = bio.sector & (pbs - 1);
  const end = (start + maxSectors) & ~(pbs - 1);
  if (end > start) return end - start;
  return maxSectors & ~(lbs - 1);
}

/**
 * block/blk-merge.c: bio_split_alignment — a bio with a crypt context is
 * split only between data units (variant crypto-split-ignores-du: at any
 * logical block).
 */
export function bio_split_alignment(bio: Bio, lim: QueueLimits, ignoreDataUnits = false): number {
  if (bio.crypt !== null && !ignoreDataUnits) return Math.max(lim.logical_block_size, bio.crypt.dataUnitSize);
  return lim.logical_block_size;
}

/** The segment size limit of the fast path (lim->max_fast_segment_size). */
function maxFastSegmentSize(lim: QueueLimits): number {
  return Math.min(lim.max_segment_size, PAGE_SIZE);
}

/** block/blk-merge.c: bvec_gap_to_prev */
function bvecGapToPrev(lim: QueueLimits, prevEnd: number, offset: number): boolean {
  if (lim.virt_boundary_mask === 0) return false;
  return ((offset & lim.virt_boundary_mask) !== 0) || ((prevEnd & lim.virt_boundary_mask) !== 0);
}

/**
 * block/blk-merge.c: bio_may_need_split — the fast path that skips the
 * splitter for a bio of one bvec that fits the fast segment size.
 */
export function bio_may_need_split(bio: Bio, lim: QueueLimits): boolean {
  if (lim.chunk_sectors > 0) return true;
  const bv = bio.bvecs[0];
  if (bv === undefined) return true;
  if (bio.size > bv.len) return true;
  return bv.len + (bv.addr % PAGE_SIZE) > maxFastSegmentSize(lim);
}

export interface SplitResult {
  /** 0: no split needed; >0: split after this many bytes; <0: -errno, the bio must fail. */
  readonly bytes: number;
  readonly segs: number;
}

/**
 * block/blk-merge.c: bio_split_io_at / bio_split_rw_at.  Walks the bvecs,
 * rejects a bvec whose page offset or length is not aligned to the DMA
 * alignment, counts segments (a bvec longer than max_segment_size is several
 * segments), and finds the split point where max_segments or the maximum I/O
 * size would be exceeded, rounded down to the logical block size.
 */
export function bio_split_rw_at(bio: Bio, lim: QueueLimits, maxBytes: number, ignoreDataUnits = false, atomicAsAny = false): SplitResult {
  let nsegs = 0;
  let bytes = 0;
  let prevEnd = -1;
  let split = false;
  for (const bv of bio.bvecs) {
    const offset = bv.addr % PAGE_SIZE;
    if ((offset & lim.dma_alignment) !== 0 || (bv.len & lim.dma_alignment) !== 0) {
      return { bytes: -EINVAL, segs: nsegs };
    }
    if (prevEnd >= 0 && bvecGapToPrev(lim, prevEnd, offset)) {
      split = true;
      break;
    }
    if (nsegs < lim.max_segments && bytes + bv.len <= maxBytes && offset + bv.len <= maxFastSegmentSize(lim)) {
      nsegs++;
      bytes += bv.len;
    } else {
      // bvec_split_segs: a bvec may span several segments of max_segment_size.
      let left = Math.min(bv.len, maxBytes - bytes);
      let stop = left < bv.len;
      while (left > 0 && nsegs < lim.max_segments) {
        const seg = Math.min(left, lim.max_segment_size);
        nsegs++;
        bytes += seg;
        left -= seg;
      }
      if (left > 0) stop = true;
      if (stop) {
        split = true;
        break;
      }
    }
    prevEnd = offset + bv.len;
  }
  if (!split) return { bytes: 0, segs: nsegs };
  if ((bio.opf & REQ_ATOMIC) !== 0 && !atomicAsAny) return { bytes: -EINVAL, segs: nsegs };
  if ((bio.opf & REQ_NOWAIT) !== 0) return { bytes: -EAGAIN, segs: nsegs };
  const align = bio_split_alignment(bio, lim, ignoreDataUnits);
  const aligned = bytes - (bytes % align);
  if (aligned === 0) return { bytes: -EINVAL, segs: nsegs };
  return { bytes: aligned, segs: nsegs };
}

/** block/blk-merge.c: bio_split_rw — the split point of a read/write bio, or 0. */
export function bio_split_rw(bio: Bio, lim: QueueLimits, v: Knobs = UPSTREAM): SplitResult {
  // Variants crypto-split-ignores-du and atomic-split-max-sectors.
  const atomicAsAny = v.on('atomic-split-max-sectors');
  const r = bio_split_rw_at(bio, lim, get_max_io_size(bio, lim, atomicAsAny) << SECTOR_SHIFT, v.on('crypto-split-ignores-du'), atomicAsAny);
  if (r.bytes > 0) cover('bio: split');
  return r;
}

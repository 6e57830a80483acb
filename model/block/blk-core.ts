/**
 * Bio submission and completion (block/blk-core.c, block/bio.c,
 * block/blk-mq.c: the parts a bio's fate depends on).
 */
import type { Bio } from './bio.ts';
import { REQ_ATOMIC, bio_split } from './bio.ts';
import type { Disk } from './disk.ts';
import { bio_may_need_split, bio_split_rw } from './blk-merge.ts';
import type { QueueLimits } from './blk-settings.ts';
import { PAGE_SIZE } from './blk-settings.ts';
import { EINVAL } from '../lib/errno.ts';

/**
 * block/bio.c: bio_endio — complete one bio; a chained (split) bio completes
 * its parent when the parent's last part has completed, passing the first
 * error up (__bio_chain_endio).
 */
export function bio_endio(bio: Bio): void {
  let b: Bio | null = bio;
  while (b !== null) {
    b.remaining -= 1;
    if (b.remaining > 0) return;
    const parent: Bio | null = b.parent;
    if (parent !== null) {
      if (parent.status === 0 && b.status !== 0) parent.status = b.status;
      b.parent = null;
      b = parent;
      continue;
    }
    b.endio?.(b);
    return;
  }
}

/** block/blk-core.c: blk_validate_atomic_write_op_size */
export function blk_validate_atomic_write_op_size(lim: QueueLimits, bio: Bio): boolean {
  if (bio.size > lim.atomic_write_unit_max) return false;
  if (lim.atomic_write_unit_min === 0 || bio.size % lim.atomic_write_unit_min !== 0) return false;
  return true;
}

export interface SplitObserver {
  onSplit(front: Bio, rest: Bio): void;
}

/**
 * block/blk-core.c: submit_bio_noacct, then blk-mq's bio_split_to_limits:
 * validate, split to the queue limits (each front part is sent on; the
 * remainder is resubmitted), and hand each part to the disk.  A bio that
 * fails validation or splitting completes at once with the error.
 */
export function submit_bio_noacct(disk: Disk, bio: Bio, obs: SplitObserver | null = null): void {
  const lim = disk.limits;
  if ((bio.opf & REQ_ATOMIC) !== 0 && bio.op === 'write' && !blk_validate_atomic_write_op_size(lim, bio)) {
    bio.status = -EINVAL;
    bio_endio(bio);
    return;
  }
  if (bio.op === 'flush') {
    disk.queue(bio);
    return;
  }
  // blk_crypto_bio_prep -> __blk_crypto_bio_prep: every segment of a bio with a crypt
  // context must be data-unit aligned in length and offset (bio_crypt_check_alignment).
  if (bio.crypt !== null && !bio_crypt_check_alignment(bio)) {
    bio.status = -EINVAL;
    bio_endio(bio);
    return;
  }
  for (;;) {
    if (!bio_may_need_split(bio, lim)) {
      disk.queue(bio);
      return;
    }
    const r = bio_split_rw(bio, lim, disk.v);
    if (r.bytes < 0) {
      bio.status = r.bytes;
      bio_endio(bio);
      return;
    }
    if (r.bytes === 0) {
      disk.queue(bio);
      return;
    }
    // Variant crypto-dun-not-advanced: the remainder keeps the DUN of the original.
    const front = bio_split(bio, r.bytes, !disk.v.on('crypto-dun-not-advanced'));
    obs?.onSplit(front, bio);
    disk.queue(front);
  }
}

/** block/blk-crypto.c: bio_crypt_check_alignment — every bvec's length and page offset a multiple of the data unit size. */
function bio_crypt_check_alignment(bio: Bio): boolean {
  const du = bio.crypt!.dataUnitSize;
  for (const v of bio.bvecs) if ((v.len | (v.addr % PAGE_SIZE)) % du !== 0) return false;
  return true;
}

/**
 * Complete a queued bio on the disk and run its completion chain.  A failed
 * write counts as seen (Disk.failedWrites) once the bio it was split from
 * has completed: its end_io, which records the error, runs only then.
 */
export function blk_complete(disk: Disk, bio: Bio): void {
  let root = bio;
  while (root.parent !== null) root = root.parent;
  disk.complete(bio);
  bio_endio(bio);
  if (root.remaining === 0 && root.failedParts.length > 0) {
    disk.failedWrites.push(...root.failedParts);
    root.failedParts.length = 0;
  }
}

/** Complete every in-flight bio of request `req`, in submission order (a caller waiting on its I/O). */
export function blk_wait_req(disk: Disk, req: number): void {
  for (;;) {
    const b = disk.inflight.find((x) => x.req === req);
    if (b === undefined) return;
    blk_complete(disk, b);
  }
}


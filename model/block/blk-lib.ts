/**
 * block/blk-lib.c: helpers that issue I/O on behalf of a file system.
 */
import type { Kernel } from '../kernel.ts';
import { zeroData } from '../lib/content.ts';
import { Bio, REQ_SYNC } from './bio.ts';
import { PAGE_SIZE, SECTOR_SIZE } from './blk-settings.ts';

/**
 * blkdev_issue_zeroout (BLKDEV_ZERO_NOFALLBACK off, no REQ_OP_WRITE_ZEROES
 * on the model's devices): write zero pages over `len` bytes at device byte
 * `addr` and wait for them (__blkdev_issue_zero_pages).  No flush: the zeroes
 * are as volatile as any completed write.  `ino`/`pos` name the file range
 * for traces.
 */
export function blkdev_issue_zeroout(k: Kernel, addr: number, len: number, ino: number, pos: number): void {
  const bio = zeroout_bio(k, addr, len, ino, pos);
  k.submit_bio(bio);
  k.wait_req(bio.req);
}

/** A write bio of zero pages over `len` bytes at device byte `addr` (__blkdev_issue_zero_pages), not yet submitted. */
export function zeroout_bio(k: Kernel, addr: number, len: number, ino: number, pos: number): Bio {
  const bio = new Bio('write', REQ_SYNC, addr / SECTOR_SIZE, { kind: 'zeroout', ino, pos, step: k.step });
  bio.req = k.newReq();
  for (let off = 0; off < len; off += PAGE_SIZE) {
    const n = Math.min(PAGE_SIZE, len - off);
    bio.addVec(0, n, zeroData(n));
  }
  return bio;
}

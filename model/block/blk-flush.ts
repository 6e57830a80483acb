/**
 * block/blk-flush.c: cache flushes.
 */
import { Bio } from './bio.ts';
import type { Kernel } from '../kernel.ts';

/** blkdev_issue_flush: send an empty REQ_PREFLUSH write and wait for it. */
export function blkdev_issue_flush(k: Kernel, ino = 0): number {
  const req = k.newReq();
  const bio = new Bio('flush', 0, 0, { kind: 'flush', ino, pos: 0, step: k.step });
  bio.req = req;
  k.submit_bio(bio);
  k.wait_req(req);
  return bio.status;
}

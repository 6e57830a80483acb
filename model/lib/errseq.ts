/**
 * lib/errseq.c: an error value with a sequence counter and a "seen" flag,
 * used for mapping->wb_err and file->f_wb_err.  Encoded exactly like the
 * kernel's 32-bit errseq_t: errno in the low 12 bits, then the SEEN flag,
 * then the counter.
 */
const MAX_ERRNO = 4095;
const ERRSEQ_SEEN = 1 << 12;
const ERRSEQ_CTR_INC = 1 << 13;

export class Errseq {
  value = 0;

  /** errseq_set: record `err` (negative errno). */
  set(err: number): void {
    if (err >= 0 || -err > MAX_ERRNO) return;
    const old = this.value;
    let next = (old & ~(MAX_ERRNO | ERRSEQ_SEEN)) | -err;
    if ((old & ERRSEQ_SEEN) !== 0) next += ERRSEQ_CTR_INC;
    this.value = next >>> 0;
  }

  /** errseq_sample: what a new file description starts from (0 if the current error is unseen). */
  sample(): number {
    return (this.value & ERRSEQ_SEEN) !== 0 ? this.value : 0;
  }

  /** errseq_check: the error since `since`, or 0. */
  check(since: number): number {
    const cur = this.value;
    if ((cur | ERRSEQ_SEEN) === (since | ERRSEQ_SEEN)) return 0;
    return -(cur & MAX_ERRNO);
  }

  /**
   * errseq_check_and_advance: report the error once per cursor; marks it
   * seen and moves the cursor.  Returns [err, newCursor].
   */
  checkAndAdvance(since: number): [number, number] {
    let cur = this.value;
    if (cur === since) return [0, since];
    if (cur !== 0 && (cur & ERRSEQ_SEEN) === 0) {
      cur = (cur | ERRSEQ_SEEN) >>> 0;
      this.value = cur;
    }
    const err = -(cur & MAX_ERRNO);
    return [err, cur];
  }
}

/**
 * fs/iomap/iter.c: the iomap iterator.  The file system maps a range
 * (->iomap_begin), the caller processes part of it, the file system is told
 * how much was done (->iomap_end), and the loop continues at the next
 * position.  Every mapping is checked the way iomap_iter_done checks it; a
 * bad mapping is reported to the mapping observer (the `iomap/valid-mapping`
 * invariant) and, as in the kernel, the WARN does not stop the I/O.
 */
import { EIO } from '../lib/errno.ts';
import type { IomapOps, IomapPair } from './iomap.ts';
import { IOMAP_ATOMIC, IOMAP_DIRECT, IOMAP_F_SHARED, IOMAP_F_STALE, IOMAP_FAULT, IOMAP_UNSHARE, IOMAP_WRITE, IOMAP_WRITETHROUGH, IOMAP_ZERO } from './iomap.ts';
import type { IomapOpName } from '../lib/coverage.ts';
import { coverIomap } from '../lib/coverage.ts';

/** The operation an iteration's IOMAP_* flags say it is (a coverage point's first half). */
function iomapOpName(flags: number): IomapOpName {
  if ((flags & IOMAP_ZERO) !== 0) return 'zeroing';
  if ((flags & IOMAP_UNSHARE) !== 0) return 'unshare';
  if ((flags & IOMAP_FAULT) !== 0) return 'page fault';
  if ((flags & IOMAP_WRITETHROUGH) !== 0) return 'writethrough';
  if ((flags & IOMAP_DIRECT) !== 0) return (flags & IOMAP_WRITE) === 0 ? 'direct read' : (flags & IOMAP_ATOMIC) !== 0 ? 'atomic direct write' : 'direct write';
  return 'buffered write';
}

export interface IomapIter {
  readonly ino: number;
  pos: number;
  len: number;
  flags: number;
  pair: IomapPair | null;
}

/** Receives every mapping ->iomap_begin returns, with the position it was asked for. */
export type MappingObserver = (ops: string, pos: number, len: number, flags: number, pair: IomapPair) => void;

/** iomap_length: bytes of the current mapping left to process from iter->pos. */
export function iomap_length(it: IomapIter): number {
  const p = it.pair;
  if (p === null) return 0;
  let end = p.iomap.offset + p.iomap.length;
  if (p.srcmap.type !== 'hole') end = Math.min(end, p.srcmap.offset + p.srcmap.length);
  return Math.max(0, Math.min(it.len, end - it.pos));
}

/**
 * Run the iomap iteration over [pos, pos+len): `body` processes the current
 * mapping and returns bytes processed (> 0), 0 (stale mapping: map again) or
 * -errno.  Returns the total bytes processed, or the error if nothing was.
 * This is the `while ((ret = iomap_iter(&iter, ops)) > 0) iter.status = body()`
 * loop of iomap's callers.
 */
export function iomap_iterate(
  ino: number,
  pos: number,
  len: number,
  flags: number,
  ops: IomapOps,
  body: (it: IomapIter) => number,
  observe: MappingObserver | null,
): { done: number; err: number } {
  const it: IomapIter = { ino, pos, len, flags, pair: null };
  const start = pos;
  let err = 0;
  let staleRetries = 0;
  while (it.len > 0) {
    const r = ops.begin(it.pos, it.len, it.flags);
    if (typeof r === 'number') {
      err = r;
      break;
    }
    it.pair = r;
    observe?.(ops.name, it.pos, it.len, it.flags, r);
    const m = r.iomap;
    coverIomap(iomapOpName(it.flags), m.type, (m.flags & IOMAP_F_SHARED) !== 0 || r.srcmap.type !== 'hole');
    // iomap_iter_done: WARN_ON_ONCE on a mapping that does not cover pos.
    if (m.offset > it.pos || m.length === 0 || m.offset + m.length <= it.pos) {
      err = -EIO;
      break;
    }
    const avail = iomap_length(it);
    const ret = body(it);
    let written = ret > 0 ? ret : 0;
    if (written > avail) {
      // iomap_iter_advance past the mapping: WARN + -EIO.
      written = avail;
      err = -EIO;
    }
    if (ops.end !== undefined) {
      const e = ops.end(it.pos, avail, written, it.flags, m);
      if (e < 0 && err === 0 && ret >= 0) err = e;
    }
    it.pos += written;
    it.len -= written;
    if (ret < 0) {
      err = ret;
      break;
    }
    if (err !== 0) break;
    if (written === 0) {
      // iomap_iter_continue: a stale mapping is re-queried; no progress otherwise ends the loop.
      if ((m.flags & IOMAP_F_STALE) !== 0 && staleRetries++ < 16) continue;
      break;
    }
  }
  return { done: it.pos - start, err };
}

/**
 * User memory for read and write system calls (include/linux/uio.h,
 * lib/iov_iter.c): an iov_iter over user buffers at given addresses.  Write
 * buffers carry their symbolic content; read buffers collect what the kernel
 * copies into them, wherever in the buffer it lands.
 */
import type { Span } from '../lib/content.ts';
import { SRC_GARBAGE, dataLen, overlayData, pushSpan, sliceData, span } from '../lib/content.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';

export interface UserSeg {
  /** User virtual address of the first byte. */
  readonly addr: number;
  readonly len: number;
  /** Write buffers: the content. */
  readonly data: readonly Span[] | null;
}

/** Base address of the i-th user buffer: 4096-aligned, far apart (bufOffset is added to it). */
export function userBufferBase(i: number): number {
  return (i + 1) * 0x1000000;
}

export class IovIter {
  segs: readonly UserSeg[];
  readonly dir: 'read' | 'write';
  /** Bytes consumed so far. */
  consumed = 0;
  readonly total: number;
  /** iov_iter_truncate: the iterator ends here (<= total). */
  private end: number;
  /** Read buffers: [offset in the iterator, data] pieces the kernel copied in. */
  private readonly pieces: Array<[number, Span[]]> = [];

  constructor(dir: 'read' | 'write', segs: readonly UserSeg[]) {
    this.dir = dir;
    this.segs = segs;
    let t = 0;
    for (const s of segs) t += s.len;
    this.total = t;
    this.end = t;
  }

  get count(): number {
    return Math.max(0, this.end - this.consumed);
  }

  /** iov_iter_truncate: limit the iterator to its next `n` bytes. */
  truncate(n: number): void {
    this.end = Math.min(this.total, this.consumed + n);
  }

  /** iov_iter_reexpand: undo iov_iter_truncate. */
  reexpand(): void {
    this.end = this.total;
  }

  /** iter_is_ubuf: a single user buffer. */
  get isUbuf(): boolean {
    return this.segs.length === 1;
  }

  /** iov_iter_alignment: OR of every segment's address and length (from the current position). */
  alignment(): number {
    let res = 0;
    let skip = this.consumed;
    for (const s of this.segs) {
      if (skip >= s.len) {
        skip -= s.len;
        continue;
      }
      res |= (s.addr + skip) | (s.len - skip);
      skip = 0;
    }
    return res;
  }

  /** True if every remaining segment's address and length are multiples of `a`. */
  isAligned(addrAlign: number, lenAlign: number): boolean {
    let skip = this.consumed;
    for (const s of this.segs) {
      if (skip >= s.len) {
        skip -= s.len;
        continue;
      }
      if ((s.addr + skip) % addrAlign !== 0 || (s.len - skip) % lenAlign !== 0) return false;
      skip = 0;
    }
    return true;
  }

  /** Address of byte `off` of the iterator. */
  addrAt(off: number): number {
    let o = off;
    for (const s of this.segs) {
      if (o < s.len) return s.addr + o;
      o -= s.len;
    }
    return 0;
  }

  /**
   * Pieces of user memory for bytes [off, off+len) of the iterator, split at
   * segment and page boundaries (what bio_iov_iter_get_pages pins).
   */
  pages(off: number, len: number): Array<{ addr: number; len: number; iterOff: number }> {
    const out: Array<{ addr: number; len: number; iterOff: number }> = [];
    let o = off;
    let left = len;
    let base = 0;
    for (const s of this.segs) {
      if (left <= 0) break;
      if (o >= base + s.len) {
        base += s.len;
        continue;
      }
      let a = s.addr + (o - base);
      let n = Math.min(left, base + s.len - o);
      while (n > 0) {
        const k = Math.min(n, PAGE_SIZE - (a % PAGE_SIZE));
        out.push({ addr: a, len: k, iterOff: o });
        a += k;
        o += k;
        n -= k;
        left -= k;
      }
      base += s.len;
    }
    return out;
  }

  /** The content of bytes [off, off+len) of a write iterator. */
  contentAt(off: number, len: number): Span[] {
    const out: Span[] = [];
    let base = 0;
    for (const s of this.segs) {
      const a = Math.max(off, base);
      const b = Math.min(off + len, base + s.len);
      if (a < b && s.data !== null) for (const x of sliceData(s.data, a - base, b - a)) pushSpan(out, x);
      base += s.len;
      if (base >= off + len) break;
    }
    return out;
  }

  /** copy_from_iter: take the next `n` bytes of a write iterator. */
  copyFrom(n: number): Span[] {
    const d = this.contentAt(this.consumed, n);
    this.consumed += n;
    return d;
  }

  /** copy_to_iter: put `data` at the current position of a read iterator. */
  copyTo(data: readonly Span[]): void {
    let n = 0;
    for (const s of data) n += s.len;
    this.pieces.push([this.consumed, data.slice()]);
    this.consumed += n;
  }

  /** Put `data` at iterator offset `off` (a direct I/O read bio completing). */
  deliver(off: number, data: readonly Span[]): void {
    this.pieces.push([off, data.slice()]);
  }

  advance(n: number): void {
    this.consumed += n;
  }

  revert(n: number): void {
    this.consumed -= n;
  }

  /**
   * Where the bytes of a write iterator are read from when the device
   * transfers them (DMA), if not from `segs`: a folio that a write-through
   * sends (kernel memory that may change while the I/O is in flight).
   */
  liveReader: ((off: number, len: number) => Span[]) | null = null;

  /** A store another thread makes into this buffer while its I/O is in flight (pwrite `storeDuringIo`). */
  duringIo: { readonly off: number; readonly data: readonly Span[] } | null = null;

  /** The content the device would transfer now for bytes [off, off+len) of a write iterator. */
  live(off: number, len: number): Span[] {
    return this.liveReader !== null ? this.liveReader(off, len) : this.contentAt(off, len);
  }

  /** The racing store happens (after the kernel submitted the I/O, before it completes). */
  applyStoreDuringIo(): void {
    const st = this.duringIo;
    if (st === null) return;
    this.duringIo = null;
    let base = 0;
    let stored = 0;
    const len = dataLen(st.data);
    this.segs = this.segs.map((s) => {
      const a = Math.max(st.off, base);
      const b = Math.min(st.off + len, base + s.len);
      const seg = a < b && s.data !== null ? { ...s, data: overlayData(s.data, a - base, sliceData(st.data, stored, b - a)) } : s;
      if (a < b) stored += b - a;
      base += s.len;
      return seg;
    });
  }

  /** The first `n` bytes of a read buffer as the caller sees them; bytes nobody put there are `gap` (kernel garbage, or the caller's untouched buffer). */
  result(n: number, gap = SRC_GARBAGE): Span[] {
    const out: Span[] = [];
    if (n <= 0) return out;
    const sorted = this.pieces.slice().sort((a, b) => a[0] - b[0]);
    let pos = 0;
    for (const [off, d] of sorted) {
      let dl = 0;
      for (const s of d) dl += s.len;
      const end = Math.min(off + dl, n);
      if (end <= pos) continue;
      if (off > pos) {
        pushSpan(out, span(Math.min(off, n) - pos, gap, 0, 0));
        pos = Math.min(off, n);
        if (pos >= n) break;
      }
      for (const s of sliceData(d, pos - off, end - pos)) pushSpan(out, s);
      pos = end;
      if (pos >= n) break;
    }
    if (pos < n) pushSpan(out, span(n - pos, gap, 0, 0));
    return out;
  }
}

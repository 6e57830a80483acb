/**
 * Symbolic byte content.
 *
 * Every byte the model stores or returns carries its provenance: which user
 * buffer (source) it was copied from and at which offset of that buffer, or
 * that the kernel produced it as zeroes, or that it is device content nobody
 * wrote.  Content is kept as runs (`Span`s), never as per-byte arrays, so a
 * 1 MiB write is one object.  A torn or misplaced write is therefore a visible
 * fact (bytes of source 7 at the wrong offset, or half of source 7 and half of
 * source 4) rather than a checksum mismatch.
 *
 * Encrypted content (fscrypt/blk-crypto) keeps the plaintext provenance plus
 * the key and data unit number (DUN) it was encrypted with, so decrypting with
 * the wrong key or DUN yields bytes visibly marked as garbage.
 */

/** Zeroes produced by the kernel: a hole, an unwritten extent, sub-block zeroing. */
export const SRC_ZERO = 0;
/** Device content that no write put there since mkfs (stale/uninitialised). */
export const SRC_UNINIT = -1;
/** Bytes that are not meaningful plaintext: decrypted with the wrong key or DUN. */
export const SRC_GARBAGE = -2;
/** The caller's buffer as it was before a read that did not fill it. */
export const SRC_USERBUF = -3;

/** Ciphertext tag: the plaintext byte was encrypted with `key` under data unit `dun`, at byte `duOff` of that data unit. */
export interface Enc {
  readonly key: number;
  readonly dun: number;
  readonly duOff: number;
}

/** A run of `len` bytes from one source, starting at byte `off` of that source. */
export interface Span {
  readonly len: number;
  readonly src: number;
  readonly off: number;
  /** The byte value (a source is filled with one value). */
  readonly val: number;
  readonly enc: Enc | null;
}

export type Data = readonly Span[];

export function span(len: number, src: number, off: number, val: number, enc: Enc | null = null): Span {
  return { len, src, off, val, enc };
}

export function zeroData(len: number): Span[] {
  return len > 0 ? [span(len, SRC_ZERO, 0, 0)] : [];
}

/** Never-written device bytes at device byte address `addr`: the device's old contents, `fill`. */
export function uninitData(addr: number, len: number, fill = 0): Span[] {
  return len > 0 ? [span(len, SRC_UNINIT, addr, fill)] : [];
}

/** The part of `s` starting `delta` bytes in, `len` long. */
export function cutSpan(s: Span, delta: number, len: number): Span {
  if (delta === 0 && len === s.len) return s;
  const enc = s.enc === null ? null : { key: s.enc.key, dun: s.enc.dun, duOff: s.enc.duOff + delta };
  return { len, src: s.src, off: s.src === SRC_ZERO ? 0 : s.off + delta, val: s.val, enc };
}

export function dataLen(d: Data): number {
  let n = 0;
  for (const s of d) n += s.len;
  return n;
}

function encContinues(a: Enc | null, b: Enc | null, alen: number): boolean {
  if (a === null || b === null) return a === b;
  return a.key === b.key && a.dun === b.dun && a.duOff + alen === b.duOff;
}

/** Can `b` be merged onto the end of `a` as one span? */
function continues(a: Span, b: Span): boolean {
  if (a.src !== b.src || a.val !== b.val) return false;
  if (a.src !== SRC_ZERO && a.off + a.len !== b.off) return false;
  return encContinues(a.enc, b.enc, a.len);
}

/** Append `s` to `out`, merging with the last span when it continues it. */
export function pushSpan(out: Span[], s: Span): void {
  if (s.len <= 0) return;
  const last = out[out.length - 1];
  if (last !== undefined && continues(last, s)) {
    out[out.length - 1] = { len: last.len + s.len, src: last.src, off: last.off, val: last.val, enc: last.enc };
  } else {
    out.push(s);
  }
}

/** pushSpan(out, cutSpan(s, delta, len)), without making the cut span where it continues the last one. */
function pushCut(out: Span[], s: Span, delta: number, len: number): void {
  if (len <= 0) return;
  const last = out[out.length - 1];
  if (last !== undefined && last.src === s.src && last.val === s.val && (s.src === SRC_ZERO || last.off + last.len === s.off + delta)) {
    const a = last.enc;
    const b = s.enc;
    if (a === null || b === null ? a === b : a.key === b.key && a.dun === b.dun && a.duOff + last.len === b.duOff + delta) {
      out[out.length - 1] = { len: last.len + len, src: last.src, off: last.off, val: last.val, enc: last.enc };
      return;
    }
  }
  out.push(cutSpan(s, delta, len));
}

export function concatData(...parts: Data[]): Span[] {
  const out: Span[] = [];
  for (const p of parts) for (const s of p) pushSpan(out, s);
  return out;
}

/** Bytes [from, from+len) of `d`; `d` must cover them. */
export function sliceData(d: Data, from: number, len: number): Span[] {
  return appendSlice([], d, from, len);
}

/** Append bytes [from, from+len) of `d` to `out` (merging runs), without an array of the slice itself; returns `out`. */
export function appendSlice(out: Span[], d: Data, from: number, len: number): Span[] {
  if (len <= 0) return out;
  let pos = 0;
  const end = from + len;
  for (const s of d) {
    const sEnd = pos + s.len;
    if (sEnd > from && pos < end) {
      const a = Math.max(pos, from);
      const b = Math.min(sEnd, end);
      pushCut(out, s, a - pos, b - a);
    }
    if (sEnd >= end) break;
    pos = sEnd;
  }
  return out;
}

/** `d` cut into consecutive pieces of the given lengths, from its start, in one pass; `d` must cover them. */
export function splitData(d: Data, lens: readonly number[]): Span[][] {
  const out: Span[][] = [];
  let i = 0;
  let used = 0; // bytes of d[i] already given out
  for (const want of lens) {
    const piece: Span[] = [];
    let need = want;
    while (need > 0) {
      const s = d[i]!;
      const n = Math.min(s.len - used, need);
      pushCut(piece, s, used, n);
      need -= n;
      used += n;
      if (used === s.len) {
        i++;
        used = 0;
      }
    }
    out.push(piece);
  }
  return out;
}

/** `d` with bytes [at, at+dataLen(patch)) replaced by `patch`. */
export function overlayData(d: Data, at: number, patch: Data): Span[] {
  const total = dataLen(d);
  const plen = dataLen(patch);
  const out = appendSlice([], d, 0, at);
  for (const s of patch) pushSpan(out, s);
  return appendSlice(out, d, at + plen, total - at - plen);
}

/** No empty span, and no two neighbours that continue each other: `d` is what concatData would make of it. */
export function isNormal(d: Data): boolean {
  for (let i = 0; i < d.length; i++) if (d[i]!.len <= 0 || (i > 0 && continues(d[i - 1]!, d[i]!))) return false;
  return true;
}

/** Provenance-exact equality (same sources at the same offsets). */
export function dataEqual(a: Data, b: Data): boolean {
  const x = isNormal(a) ? a : concatData(a);
  const y = isNormal(b) ? b : concatData(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    const s = x[i]!;
    const t = y[i]!;
    if (s.len !== t.len || s.src !== t.src || s.off !== t.off || s.val !== t.val) return false;
    if (!encContinuesEq(s.enc, t.enc)) return false;
  }
  return true;
}

function encContinuesEq(a: Enc | null, b: Enc | null): boolean {
  if (a === null || b === null) return a === b;
  return a.key === b.key && a.dun === b.dun && a.duOff === b.duOff;
}

/** Are byte `da` of `a` on and byte `db` of `b` on the same bytes (same source, value, offset, encryption)? */
function sameFrom(a: Span, da: number, b: Span, db: number): boolean {
  if (a.src !== b.src || a.val !== b.val) return false;
  if (a.src !== SRC_ZERO && a.off + da !== b.off + db) return false;
  const x = a.enc;
  const y = b.enc;
  if (x === null || y === null) return x === y;
  return x.key === y.key && x.dun === y.dun && x.duOff + da === y.duOff + db;
}

/** Takes data piece by piece: bytes [delta, delta+n) of span `s`; false stops the walk (Disk.walk). */
export interface SpanVisitor {
  visit(s: Span, delta: number, n: number): boolean;
}

/**
 * Reads `data` from byte `pos` on and compares what follows with pieces of
 * other spans, without building them (dataEqual of the data against the
 * concatenation of the pieces, in one pass and no allocation but itself:
 * what the clean-folio check compares a folio with the disk by).  As a
 * SpanVisitor it stops a walk at the first piece that differs.  `more`
 * from index `next` on: holders of data that follows `data` (the next
 * folios of a run), read after it as if the arrays were one.
 */
export class DataCursor implements SpanVisitor {
  private i = 0;
  private d = 0;
  private data: Data;

  constructor(
    data: Data,
    pos: number,
    private readonly more: ReadonlyArray<{ readonly data: Data }> = NO_MORE,
    /** The index in `more` of the data read after this one. */
    private next = 0,
  ) {
    this.data = data;
    this.d = pos;
    this.skipEnded();
  }

  /** Past the spans wholly before the position, into the next array where this one ends. */
  private skipEnded(): void {
    for (;;) {
      while (this.i < this.data.length && this.d >= this.data[this.i]!.len) this.d -= this.data[this.i++]!.len;
      if (this.i < this.data.length || this.next >= this.more.length) return;
      this.data = this.more[this.next++]!.data;
      this.i = 0;
    }
  }

  /** Are the next `n` bytes bytes [delta, delta+n) of `s` (whose `len` is not read)?  Advances past them. */
  visit(s: Span, delta: number, n: number): boolean {
    while (n > 0) {
      const t = this.data[this.i];
      if (t === undefined || !sameFrom(s, delta, t, this.d)) return false;
      const k = Math.min(n, t.len - this.d);
      n -= k;
      delta += k;
      this.d += k;
      if (this.d === t.len) {
        this.i++;
        this.d = 0;
        if (this.i === this.data.length) this.skipEnded();
      }
    }
    return true;
  }
}

const NO_MORE: ReadonlyArray<{ readonly data: Data }> = [];

/** Zeroes of any length (for DataCursor.visit). */
export const ZEROES: Span = { len: Number.MAX_SAFE_INTEGER, src: SRC_ZERO, off: 0, val: 0, enc: null };

/** Byte values as run-length pairs `[value, count]` (the result format's `data`). */
/** A byte value as traces, exports and printed results write it: 0x11. */
export const hexByte = (v: number): string => `0x${v.toString(16).padStart(2, '0')}`;

export function dataRuns(d: Data): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const s of d) {
    const last = out[out.length - 1];
    if (last !== undefined && last[0] === s.val) last[1] += s.len;
    else out.push([s.val, s.len]);
  }
  return out;
}

/** True when every byte of `d` is a kernel-produced zero. */
export function isAllZero(d: Data): boolean {
  return d.every((s) => s.src === SRC_ZERO);
}

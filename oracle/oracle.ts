/**
 * The oracle: a deliberately simple expectation model of what a POSIX file
 * system on Linux may return, in the spirit of fsx's in-memory copy of the
 * file.  It knows nothing of blocks, folios, extents or journals.  For each
 * file it keeps
 *
 * - `cur`: for every byte, the contents a read may return now (one, unless a
 *   failed write may or may not have landed);
 * - `base`: what is durable — the contents and size as of the last
 *   successful fsync/fdatasync/sync (or O_DSYNC write for its range);
 * - `since`: every content written (or zeroed) at each byte since then.
 *
 * After a crash a byte may read as its durable content, as anything written
 * there since, or — beyond the durable size — as zero; the size may be any
 * size the file had since the last sync.  Reads after a crash are checked
 * against those sets and then pin what was observed.
 *
 * The oracle follows the model's results (it applies a write only as far as
 * the model says it succeeded); whether the errors themselves are right is
 * checked against the real kernel (`iospec diff`).
 */
import type { Span } from '../model/lib/content.ts';
import { SRC_GARBAGE, SRC_UNINIT, SRC_USERBUF, SRC_ZERO, cutSpan, dataLen, hexByte, sliceData, span } from '../model/lib/content.ts';
import { IntervalMap } from '../model/lib/interval-map.ts';
import type { Entry } from '../model/lib/interval-map.ts';
import type { Source } from '../model/lib/sources.ts';
import type { Step } from '../scenario/schema.ts';
import type { StepOutcome } from '../model/system.ts';
import { flagsFrom, FALLOC_FLAGS, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, OPEN_FLAGS, O_APPEND, O_CREAT, O_DIRECT, O_DSYNC, O_TRUNC, RWF_APPEND, RWF_ATOMIC, RWF_DSYNC, RWF_FLAGS, RWF_NOAPPEND, RWF_SYNC } from '../model/vfs/fcntl.ts';
import { CandMap, SRC_ANY } from './candmap.ts';
import type { OracleFact } from './facts.ts';
import type { Cands } from './candmap.ts';

export type Existence = 'yes' | 'no' | 'maybe';

/** A writeback error not yet reported to a file descriptor (errseq_t), and whether a failed sync may have reported it. */
interface WriteError {
  readonly step: number;
  readonly pos: number;
  readonly len: number;
  readonly maybeReported?: boolean;
}

/** The error, marked as maybe reported (a fresh object with every field, not a spread that adds one: see scripts/v8-flags.mjs). */
function maybeReported(e: WriteError): WriteError {
  return { step: e.step, pos: e.pos, len: e.len, maybeReported: true };
}

interface SizeRange {
  min: number;
  max: number;
}

export class OFile {
  cur = new CandMap();
  size: SizeRange = { min: 0, max: 0 };
  exists: Existence = 'yes';
  /** Durable state. */
  base = new CandMap();
  baseSize: SizeRange = { min: 0, max: 0 };
  baseExists: Existence = 'no';
  /** Contents written since the durable point, per byte. */
  since = new CandMap();
  sinceSizes: SizeRange = { min: 0, max: 0 };
  /** After a crash: bytes whose durable content must read back exactly (fsynced, untouched since). */
  mustMatch: CandMap | null = null;
  mustSize: SizeRange | null = null;
  /** Step of the last fsync/sync that made this file durable (for messages). */
  syncedAt = 0;
  /**
   * Bytes made durable by an O_DSYNC/RWF_DSYNC write (or an O_DSYNC clone)
   * since the file was last made durable as a whole, with the step: a
   * durability failure there breaks sync/dsync-durable.
   */
  dsyncAt = new IntervalMap<number>((v) => v);
  /** The file's existence was made durable only by O_DSYNC writes. */
  existsByDsync = false;
  /** At the last crash, the file was durably created. */
  existedDurably = false;
  /**
   * Bytes a failed direct write beyond EOF may have put in blocks the file
   * maps there: not part of the file, but visible instead of zeroes if the
   * file is extended over them without zeroing (observed: XFS, Linux 6.18).
   * Bytes stored through mmap beyond EOF are not among them: every
   * extension must read them as zeroes (pagecache_isize_extended,
   * xfs_file_write_zero_eof); ext4's extending direct write does not zero
   * them (the known finding ext4-dio-extend-stale-tail).
   */
  latent = new CandMap();
  /**
   * The latent bytes that may be on disk: those of the last durable point
   * and every one found since.  A crash brings them back, whatever the lost
   * page-cache writes and extensions since had done over them.
   */
  latentOnDisk = new CandMap();
  /**
   * Bytes where latent mmap data became part of the file: the page cache may
   * hold the stored byte while the disk holds zero, so buffered and direct
   * reads may disagree until writeback; reads there are checked but not
   * pinned.
   */
  unstable = new CandMap();

  /** `clock.n`: the step being observed (the oracle's, set before it applies a step). */
  constructor(
    readonly path: string,
    private readonly clock: { readonly n: number },
  ) {}

  /** Step of the last write or store to each byte (data/no-lost-write). */
  wroteAt = new IntervalMap<number>((v) => v);
  /** The step being observed. */
  get step(): number {
    return this.clock.n;
  }
  /** Step of the last crash. */
  crashedAt = 0;
  /**
   * The size range is still the one the mount recovered after the last crash
   * (nothing changed the size since): observing the size then tells the
   * durable size too.  After a size change the in-memory size says nothing of
   * the on-disk one (btrfs moves the on-disk size only when an ordered extent
   * completes, and a failed one never does).
   */
  sizeIsRecovered = false;
  /**
   * A writeback or direct write past the on-disk size failed since the last
   * crash: the on-disk size may have stayed this low whatever i_size does
   * (btrfs_finish_one_ordered skips btrfs_inode_safe_disk_i_size_write for a
   * failed ordered extent), so every later sync makes durable a size from
   * here up, until a truncate sets the on-disk size (btrfs_setsize).
   */
  sizeLagFloor: number | null = null;
  /** The smallest size a truncate set since the last durable point: the on-disk size it left (btrfs_setsize). */
  truncatedTo: number | null = null;
  /** Step of the last time the page cache was emptied of clean folios (reclaim, clean unmount). */
  evictedAt = 0;
  /** A writeback error on this file that no fsync has reported yet (errseq_t without ERRSEQ_SEEN). */
  errUnseen: WriteError | null = null;

  /**
   * Writeback of [pos, pos+len) failed: the page cache keeps the new bytes
   * (clean), the disk the old ones; once the folio is dropped a read returns
   * whatever the disk had, which is any content those bytes had since they
   * were last durable, or zeroes (unwritten blocks never converted).
   */
  writebackFailed(pos: number, len: number): void {
    const end = Math.min(pos + len, this.size.max);
    if (end <= pos) return;
    // Past the durable size, the size update may be lost with the data (btrfs moves the on-disk
    // size only when the write completed): the size may fall back as far as the durable one.
    const disk = this.diskSizeMin();
    if (end > disk && disk < this.size.min) this.noteSizeRange(Math.max(disk, 0), this.size.max);
    if (end > disk) this.sizeMayLag();
    this.cur.union(this.base, pos, end);
    this.cur.union(this.since, pos, end);
    // Blocks mapped past an earlier EOF keep what they held there (a failed truncate's, a failed
    // direct write's), and the disk still has it where this writeback did not land.
    this.cur.union(this.latentOnDisk, pos, end);
    this.cur.addZeroCandidate(pos, end);
    this.unstable.setZero(pos, end);
  }

  /** The on-disk size may stay where it is now (see sizeLagFloor). */
  private sizeMayLag(): void {
    this.sizeLagFloor = Math.min(this.sizeLagFloor ?? Number.MAX_SAFE_INTEGER, this.diskSizeMin());
  }

  /** The lowest on-disk size now: the durable one, or what a truncate since set. */
  private diskSizeMin(): number {
    return Math.min(this.baseSize.min, this.truncatedTo ?? this.baseSize.min);
  }

  /** Collapses and inserts since the file was last durable (newest last). */
  shifts: Array<{ readonly kind: 'collapse' | 'insert'; readonly off: number; readonly len: number }> = [];

  /**
   * Until a collapse or insert is durable, the blocks it moved keep their
   * old offsets on disk: an in-place overwrite after it lands in a block the
   * durable mapping places elsewhere, so after a crash the new bytes may
   * appear at the pre-shift offset (observed on XFS, Linux 6.18).  Returns
   * where each piece of a write at `pos` would appear in the pre-shift layout.
   */
  preShift(pos: number, data: readonly Span[]): Array<[number, Span[]]> {
    let pieces: Array<[number, Span[]]> = [[pos, data.slice()]];
    for (let i = this.shifts.length - 1; i >= 0; i--) {
      const sh = this.shifts[i]!;
      const next: Array<[number, Span[]]> = [];
      for (const [p, d] of pieces) {
        const len = dataLen(d);
        const cut = sh.kind === 'collapse' ? sh.off : sh.off + sh.len;
        if (p < cut) {
          const n = Math.min(len, cut - p);
          if (sh.kind === 'collapse') next.push([p, sliceData(d, 0, n)]);
          else if (p < sh.off) next.push([p, sliceData(d, 0, Math.min(n, sh.off - p))]);
          if (n < len) next.push([sh.kind === 'collapse' ? cut + sh.len : cut - sh.len, sliceData(d, n, len - n)]);
        } else {
          next.push([sh.kind === 'collapse' ? p + sh.len : p - sh.len, d]);
        }
      }
      pieces = next;
    }
    return pieces;
  }

  /**
   * Bytes [a, b) changed after the crash: the durability check no longer
   * applies to them.  A change that may not have happened (`maybe`: a write
   * that failed) leaves them as unstable as they were.
   */
  private touched(a: number, b: number, maybe = false): void {
    this.wroteAt.set(a, b, this.step);
    this.mustMatch?.remove(a, b);
    if (!maybe) this.unstable.remove(a, b);
  }

  private noteSize(s: number): void {
    this.noteSizeRange(s, s);
  }

  private noteSizeRange(min: number, max: number): void {
    this.mustSize = null;
    this.sizeIsRecovered = false;
    this.size = { min, max };
    this.sinceSizes = { min: Math.min(this.sinceSizes.min, min), max: Math.max(this.sinceSizes.max, max) };
  }

  /** The size grows to `to`: the new bytes read as zero, or as latent mmap bytes. */
  private extendGap(from: number, to: number): void {
    if (to <= from) return;
    this.zero(from, to);
    for (const e of this.latent.m.overlapping(from, to)) {
      this.cur.union(new CandMap(this.latent.m), e.start, e.end);
      this.since.union(new CandMap(this.latent.m), e.start, e.end);
      this.unstable.setZero(e.start, e.end);
    }
    this.latent.remove(0, to);
  }

  write(pos: number, data: readonly Span[]): void {
    const len = dataLen(data);
    this.touched(pos, pos + len);
    // The size is uncertain (after a crash): if it was the smaller one, the bytes up to the write are a gap of zeroes.
    if (pos > this.size.min && this.size.min < this.size.max) {
      const b = Math.min(pos, this.size.max);
      this.cur.addZeroCandidate(this.size.min, b);
      this.since.addZeroCandidate(this.size.min, b);
    }
    if (pos > this.size.max) this.extendGap(this.size.max, pos);
    this.cur.setCertain(pos, data);
    this.since.addCandidate(pos, data);
    if (this.shifts.length > 0) for (const [p, d] of this.preShift(pos, data)) this.since.addCandidate(p, d);
    const end = pos + len;
    if (end > this.size.min) this.noteSizeRange(Math.max(this.size.min, end), Math.max(this.size.max, end));
  }

  /**
   * A store through a shared mapping: it changes the bytes inside the file
   * and never its size; bytes past EOF stay in the EOF page, outside the
   * file, and an extension must not expose them.
   */
  mmapStore(pos: number, data: readonly Span[], certain: boolean): void {
    const end = pos + dataLen(data);
    const inside = Math.min(end, this.size.min);
    if (inside > pos) {
      const d = sliceData(data, 0, inside - pos);
      this.touched(pos, inside);
      if (certain) this.cur.setCertain(pos, d);
      else this.cur.addCandidate(pos, d);
      this.since.addCandidate(pos, d);
      // Written back in place, the store lands where the durable mapping may still place those blocks (preShift).
      if (this.shifts.length > 0) for (const [p, s] of this.preShift(pos, d)) this.since.addCandidate(p, s);
    }
    const maybeEnd = Math.min(end, this.size.max);
    if (maybeEnd > Math.max(pos, inside)) {
      const a = Math.max(pos, inside);
      const d = sliceData(data, a - pos, maybeEnd - a);
      this.touched(a, maybeEnd);
      this.cur.addCandidate(a, d);
      this.since.addCandidate(a, d);
    }
  }

  /**
   * A write that failed may have landed in part (any byte old or new).  A
   * failed direct write beyond EOF may have reached blocks the file already
   * maps there: those bytes are latent, visible if the file is extended
   * over them without zeroing (observed: XFS, Linux 6.18).
   */
  maybeWrite(pos: number, data: readonly Span[]): void {
    const wend = pos + dataLen(data);
    const b0 = Math.max(pos, this.size.max);
    if (wend > b0) {
      this.latent.addCandidate(b0, sliceData(data, b0 - pos, wend - b0));
      this.latentOnDisk.addCandidate(b0, sliceData(data, b0 - pos, wend - b0));
    }
    const end = Math.min(wend, this.size.max);
    if (end <= pos) return;
    const d = sliceData(data, 0, end - pos);
    this.touched(pos, end, true);
    this.cur.addCandidate(pos, d);
    this.since.addCandidate(pos, d);
  }

  /**
   * A write that failed with EIO after it copied its bytes into the page
   * cache (an O_SYNC buffered write whose sync failed): the bytes and the
   * size it set may stay, or not.
   */
  maybeWriteExtending(pos: number, data: readonly Span[]): void {
    const end = pos + dataLen(data);
    // A failed direct write moved i_size before its I/O (btrfs_dio_iomap_begin), never the on-disk size.
    if (end > this.diskSizeMin()) this.sizeMayLag();
    if (end <= this.size.max) {
      this.maybeWrite(pos, data);
      return;
    }
    const old = this.cur.clone();
    const oldSize = { ...this.size };
    this.write(pos, data);
    this.cur.union(old, pos, Math.min(end, oldSize.max));
    this.cur.addZeroCandidate(Math.max(pos, oldSize.min), end);
    this.noteSizeRange(oldSize.min, Math.max(oldSize.max, end));
  }

  zero(start: number, end: number): void {
    if (end <= start) return;
    this.touched(start, end);
    this.cur.setZero(start, end);
    this.since.addZeroCandidate(start, end);
  }

  /**
   * A preallocation or zeroing that failed part way (ENOSPC): [start, end)
   * may read as before or as zeroes (XFS frees the range of a ZERO_RANGE
   * before it allocates, xfs_falloc_zero_range), and without KEEP_SIZE the
   * size may have grown as far as `grow` (ext4_alloc_file_blocks moves
   * i_size after each allocated chunk).
   */
  failedPrealloc(start: number, end: number, zeroes: boolean, grow: number): void {
    const old = this.size.max;
    if (zeroes) this.maybeZeroes(start, Math.min(end, old));
    if (grow > old) {
      this.maybeZeroes(old, grow);
      this.noteSizeRange(this.size.min, grow);
    }
  }

  /** [a, b) may now read as zeroes, or as before (a change that may not have happened). */
  private maybeZeroes(a: number, b: number): void {
    if (b <= a) return;
    this.touched(a, b, true);
    this.cur.addZeroCandidate(a, b);
    this.since.addZeroCandidate(a, b);
    this.unstable.setZero(a, b);
  }

  truncate(len: number): void {
    const old = this.size.max;
    this.touched(len, Number.MAX_SAFE_INTEGER);
    // The size is uncertain (after a crash): if it was below len, this truncate extended the file,
    // and the bytes from that size up to len read as zeroes.
    if (this.size.min < len && len < old) {
      this.cur.addZeroCandidate(this.size.min, len);
      this.since.addZeroCandidate(this.size.min, len);
    }
    if (len < old) {
      this.cur.remove(len, Number.MAX_SAFE_INTEGER);
      this.since.addZeroCandidate(len, old);
      // Where the size may be below len (a failed truncate, maybeTruncate), this one may
      // have extended the file: it removed nothing, and what lies past len stays latent.
      if (this.size.min < len) this.latent.remove(0, len);
      else this.latent = new CandMap();
    } else if (len > old) {
      this.extendGap(old, len);
    }
    this.noteSize(len);
    this.sizeLagFloor = null;
    this.truncatedTo = Math.min(this.truncatedTo ?? len, len);
  }

  /**
   * A shrinking truncate that failed with EIO part way (btrfs_setsize: the
   * page cache past the new size was dropped, then a writeback error made
   * the size fall back to the on-disk one): the size is anything up to the
   * old one, and the bytes from `len` on read as before, as the disk has
   * them, or as zeroes.  Past the size it falls back to, they may come back
   * when the file is extended over them: the blocks the truncate never
   * removed are still mapped (btrfs_truncate fails before it removes any;
   * with NO_HOLES, btrfs_cont_expand inserts no hole over them).
   */
  maybeTruncate(len: number): void {
    const old = this.size.max;
    if (len >= old) return;
    this.touched(len, Number.MAX_SAFE_INTEGER, true);
    this.writebackFailed(len, old - len);
    this.latent.union(this.cur, len, old);
    this.latentOnDisk.union(this.cur, len, old);
    this.noteSizeRange(0, old);
  }

  collapse(off: number, len: number): void {
    this.shifts.push({ kind: 'collapse', off, len });
    this.touched(off, Number.MAX_SAFE_INTEGER);
    this.cur.remove(off, off + len);
    this.cur.shift(off + len, -len);
    // Where the page cache and the disk may differ moves with the bytes.
    this.unstable.remove(off, off + len);
    this.unstable.shift(off + len, -len);
    this.cur.setZero(Math.max(off, this.size.max - len), this.size.max - len);
    // Until the collapse is durable a crash may leave either layout.
    this.since.union(this.cur, off, this.size.max);
    this.noteSizeRange(this.size.min - len, this.size.max - len);
  }

  insert(off: number, len: number): void {
    this.shifts.push({ kind: 'insert', off, len });
    this.touched(off, Number.MAX_SAFE_INTEGER);
    this.cur.shift(off, len);
    this.unstable.shift(off, len);
    this.cur.setZero(off, off + len);
    this.since.union(this.cur, off, this.size.max + len);
    this.noteSizeRange(this.size.min + len, this.size.max + len);
  }

  /**
   * The page cache was dropped (remount).  The latent bytes are on disk, in
   * blocks mapped past EOF, and stay candidates: btrfs keeps the blocks a
   * failed truncate did not remove over an unmount (and with NO_HOLES
   * btrfs_cont_expand inserts no hole over them).
   */
  dropCache(): void {
    this.unstable = new CandMap();
  }

  /** Pin what a read returned, except where the page cache and the disk may differ. */
  pinObserved(pos: number, data: readonly Span[]): void {
    if (this.unstable.m.isEmpty()) {
      this.pin(pos, data);
      return;
    }
    const end = pos + dataLen(data);
    for (const [a, b] of this.unstable.m.gaps(pos, end)) {
      if (b > a) this.cur.setCertain(a, sliceData(data, a - pos, b - a));
    }
  }

  /** Everything as of now is durable (fsync, sync, clean unmount). */
  makeDurable(step: number): void {
    this.dsyncAt = new IntervalMap<number>((v) => v);
    this.existsByDsync = false;
    this.base = this.cur.clone();
    this.latentOnDisk = this.latent.clone();
    this.baseSize = { min: Math.min(this.size.min, this.sizeLagFloor ?? this.size.min), max: this.size.max };
    this.baseExists = this.exists;
    this.since = new CandMap();
    this.sinceSizes = { ...this.size };
    this.syncedAt = step;
    this.shifts = [];
    this.truncatedTo = null;
  }

  /** An O_DSYNC/RWF_DSYNC write made [pos, end) and the size it needs durable. */
  makeRangeDurable(pos: number, end: number, step: number): void {
    if (end > pos) this.dsyncAt.set(pos, end, step);
    this.sizeIsRecovered = false;
    if (this.baseExists !== 'yes') this.existsByDsync = true;
    for (const e of this.cur.m.overlapping(pos, end)) this.base.m.set(e.start, e.end, e.v);
    this.since.remove(pos, end);
    // The sync commits the journal: every size change so far (a truncate
    // included) is durable, and the on-disk size covers at least the bytes
    // written, but may lag behind the in-memory size (delalloc beyond them).
    const floor = Math.max(Math.min(end, this.size.min), this.sinceSizes.min);
    this.baseSize = { min: Math.min(this.size.min, floor), max: this.size.max };
    this.base.remove(this.size.max, Number.MAX_SAFE_INTEGER);
    this.sinceSizes = { min: this.baseSize.min, max: Math.max(this.baseSize.max, this.size.max) };
    if (this.baseExists !== 'yes') this.baseExists = this.exists;
    this.syncedAt = step;
  }

  /**
   * After a crash, an open said the file is not there: the state the mount
   * recovered, which later crashes start from, has no such file — nothing
   * of its old bytes or size can come back.
   */
  observedMissing(): void {
    this.exists = 'no';
    this.baseExists = 'no';
    this.existedDurably = false;
    this.latent = new CandMap();
    this.latentOnDisk = new CandMap();
    this.base = new CandMap();
    this.cur = new CandMap();
    this.since = new CandMap();
    this.baseSize = { min: 0, max: 0 };
    this.size = { min: 0, max: 0 };
    this.sinceSizes = { min: 0, max: 0 };
    this.mustMatch = null;
    this.mustSize = null;
  }

  /** Power cut: what may be there afterwards. */
  crash(): void {
    this.crashedAt = this.step;
    this.errUnseen = null;
    // The latent bytes on disk stay candidates (zeroes stay possible): blocks a failed truncate left mapped past
    // EOF survive a crash once committed (replay_one_buffer drops extents past i_size, then replays the logged
    // ones, and a full-sync log copies every extent item of the inode, those past EOF too).
    this.latent.union(this.latentOnDisk, 0, Number.MAX_SAFE_INTEGER);
    this.latentOnDisk = this.latent.clone();
    this.unstable = new CandMap();
    const maxSize = Math.max(this.baseSize.max, this.sinceSizes.max);
    const minSize = Math.min(this.baseSize.min, this.sinceSizes.min);
    // What must read back exactly: the durable bytes below both sizes that nothing touched since
    // (taken before the durable map becomes the new one below: entries are never changed in place).
    const must: Array<Entry<Cands>> = [];
    for (const [a, b] of this.since.m.gaps(0, Math.min(this.baseSize.min, this.sinceSizes.min))) {
      for (const e of this.base.m.overlapping(a, b)) must.push(e);
    }
    this.mustMatch = CandMap.of(must);
    // The durable map becomes what may survive (it is replaced below: no copy of it is needed).
    const cur = this.base;
    // Bytes below the durable size that were never made durable may read as zero.
    for (const [a, b] of cur.m.gaps(0, maxSize)) cur.setZero(a, b);
    cur.union(this.since, 0, maxSize);
    cur.addZeroCandidate(this.baseSize.min, maxSize);
    // Past the smallest size the mount may recover, those blocks may be mapped inside or past the new EOF.
    cur.union(this.latent, minSize, maxSize);
    // Fill any gap with zero (never-written bytes inside the size read as zero).
    for (const [a, b] of cur.m.gaps(0, maxSize)) cur.setZero(a, b);
    this.mustSize = this.sinceSizes.min === this.baseSize.min && this.sinceSizes.max === this.baseSize.max ? { ...this.baseSize } : null;
    this.cur = cur;
    this.size = { min: minSize, max: maxSize };
    this.existedDurably = this.baseExists === 'yes';
    this.exists = this.baseExists === 'yes' ? 'yes' : 'maybe';
    // Whatever survives is the new durable state (remount recovery), still uncertain until observed.
    this.base = cur.clone();
    this.baseSize = { ...this.size };
    this.since = new CandMap();
    this.sinceSizes = { ...this.size };
    this.shifts = [];
    this.sizeIsRecovered = true;
    this.sizeLagFloor = null;
    this.truncatedTo = null;
  }

  /**
   * FICLONERANGE made [dstOff, dstOff+len) of this file share the content
   * `src` has at [srcOff, srcOff+len): the same candidates, written here.
   * Returns those candidates at their new offsets (what the clone put
   * there, before any merge with this file's own).
   */
  cloneFrom(src: CandMap, srcOff: number, dstOff: number, len: number, certain: boolean): CandMap {
    const end = dstOff + len;
    // A clone that may not have been done leaves the bytes as unstable as they were.
    this.touched(dstOff, end, !certain);
    if (dstOff > this.size.max) this.extendGap(this.size.max, dstOff);
    const piece = new CandMap();
    for (const e of src.m.overlapping(srcOff, srcOff + len)) {
      const a = Math.max(e.start, srcOff);
      const b = Math.min(e.end, srcOff + len);
      piece.m.set(a - srcOff + dstOff, b - srcOff + dstOff, e.v.map((c) => cutSpan(c, a - e.start, b - a)));
    }
    for (const [a, b] of piece.m.gaps(dstOff, end)) piece.setZero(a, b);
    this.since.union(piece, dstOff, end);
    if (!certain) {
      // How much was cloned depends on a size the oracle does not know, or the clone failed part
      // way: old or new contents.  Past the old EOF a clone not done leaves no bytes: zeroes once
      // something extends the file over them.
      const oldMax = this.size.max;
      this.cur.union(piece, dstOff, end);
      if (end > oldMax) this.cur.addZeroCandidate(Math.max(dstOff, oldMax), end);
      if (end > this.size.max) this.noteSizeRange(this.size.min, end);
      return piece;
    }
    for (const e of piece.m.entries()) this.cur.m.set(e.start, e.end, e.v);
    if (end > this.size.min) this.noteSizeRange(Math.max(this.size.min, end), Math.max(this.size.max, end));
    return piece;
  }

  /** A read or statx revealed the size. */
  pinSize(s: number): void {
    this.size = { min: s, max: s };
    this.cur.remove(s, Number.MAX_SAFE_INTEGER);
    if (this.sizeIsRecovered && this.baseSize.min !== this.baseSize.max) this.baseSize = { min: s, max: s };
    this.sinceSizes = { min: Math.min(this.sinceSizes.min, s), max: Math.max(this.sinceSizes.max, s) };
  }

  /** A read at `pos` returned nothing: the size is at most `pos`. */
  boundSize(pos: number): void {
    this.size = { min: Math.min(this.size.min, pos), max: pos };
    this.cur.remove(pos, Number.MAX_SAFE_INTEGER);
  }

  /** A read returned `data` at `pos`: those bytes are now known. */
  pin(pos: number, data: readonly Span[]): void {
    this.cur.setCertain(pos, data);
  }
}

/** What the oracle observed that a file system may not do (oracle/facts.ts). */
export type Finding = OracleFact;

interface OFd {
  readonly path: string;
  readonly flags: number;
  /** A writeback error this open file description has not been told about (file->f_wb_err behind mapping->wb_err). */
  wbErr: WriteError | null;
}

/** Does a write through `d` with these RWF_* flags append (O_APPEND or RWF_APPEND, not RWF_NOAPPEND)? */
function appends(d: OFd, rwf: number): boolean {
  return ((d.flags & O_APPEND) !== 0 || (rwf & RWF_APPEND) !== 0) && (rwf & RWF_NOAPPEND) === 0;
}

function describeSpan(s: Span, sources: (id: number) => Source | undefined): string {
  if (s.src === SRC_ZERO) return 'zeroes';
  if (s.src === -1) return s.val === 0 ? 'never-written device bytes' : `never-written device bytes (the device's old contents, ${hexByte(s.val)})`;
  if (s.src === SRC_GARBAGE) return 'garbage (bytes no write made: kernel memory nothing was read into, or a decryption with the wrong key or DUN)';
  if (s.src === SRC_USERBUF) return "the caller's untouched buffer";
  const src = sources(s.src);
  const where = src === undefined ? '' : ` (${src.kind} at step ${src.step})`;
  return `bytes ${s.off}.. of source #${s.src}${where}, value ${hexByte(s.val)}`;
}

function describeCands(c: Cands, sources: (id: number) => Source | undefined): string {
  if (c.length === 0) return 'nothing (past EOF)';
  return c.map((s) => describeSpan(s, sources)).join(' or ');
}

/** Where sources' bytes went: per file, per source, the file positions of its byte 0. */
class Placements {
  private readonly byPath = new Map<string, Map<number, Set<number>>>();

  add(path: string, src: number, at: number): void {
    let byId = this.byPath.get(path);
    if (byId === undefined) {
      byId = new Map();
      this.byPath.set(path, byId);
    }
    let ats = byId.get(src);
    if (ats === undefined) {
      ats = new Set();
      byId.set(src, ats);
    }
    ats.add(at);
  }

  has(path: string, src: number, at: number): boolean {
    return this.byPath.get(path)?.get(src)?.has(at) === true;
  }

  /** Every source placed in `path`, with its positions. */
  in(path: string): ReadonlyMap<number, ReadonlySet<number>> | undefined {
    return this.byPath.get(path);
  }
}

export class Oracle {
  readonly files = new Map<string, OFile>();
  private readonly fds = new Map<string, OFd>();
  /** Where each source's bytes were ever placed. */
  private readonly placed = new Placements();
  /** A crash happened and no remount followed yet. */
  private down = false;
  /** The placements a clone made (the bytes are there because blocks are shared). */
  private readonly clonePlaced = new Placements();
  /** Clone pairs: [a, aOff) and [b, bOff) shared `len` bytes (FICLONERANGE). */
  private readonly clones: Array<{ a: string; aOff: number; b: string; bOff: number; len: number; step: number }> = [];
  crashes = 0;
  /** The device has bad sectors (a device_error step): a read may stop short at one, or fail. */
  private badSectors = false;
  /**
   * RWF_ATOMIC writes that succeeded and were not overwritten since: after a
   * crash each reads all old or all new (atomic/no-torn-write); `seen` pins
   * which one the first read after a crash showed.
   */
  private atomics: Array<{ path: string; pos: number; len: number; src: number; racing: number | null; step: number; crashed: boolean; seen: 'old' | 'new' | null; undurable: ReadonlyArray<readonly [number, number]> }> = [];

  /**
   * The parts of [pos, end) of `f` an earlier write stored data in since the
   * durable point where the durable state reads zeroes (or a truncate since
   * cut it): a crash may undo that write's block allocation, which is not
   * part of a later atomic write (an in-place RWF_ATOMIC overwrite logs
   * nothing: xfs_direct_write_iomap_begin maps it without a transaction and
   * xfs_dio_write_end_io has nothing to convert).
   */
  private undurableUnder(f: OFile, pos: number, end: number): Array<readonly [number, number]> {
    const out: Array<readonly [number, number]> = [];
    for (const e of f.since.m.overlapping(pos, end)) {
      // Zeroes a size change filled in allocate nothing.
      if (e.v.every((c) => c.src === SRC_ZERO)) continue;
      const a = Math.max(e.start, pos);
      const b = Math.min(e.end, Math.max(a, Math.min(end, f.truncatedTo ?? end)));
      if (b < Math.min(e.end, end)) out.push([b, Math.min(e.end, end)]);
      let q = a;
      for (const g of f.base.m.overlapping(a, b)) {
        if (g.start > q) out.push([q, g.start]);
        const x = Math.max(g.start, a);
        const y = Math.min(g.end, b);
        if (f.base.allows(x, span(y - x, SRC_ZERO, 0, 0))) out.push([x, y]);
        q = y;
      }
      if (q < b) out.push([q, b]);
    }
    return out;
  }

  /** Bytes [a, b) of `path` changed: atomic writes there no longer define its contents. */
  private touchAtomics(path: string, a: number, b: number): void {
    if (this.atomics.length > 0) this.atomics = this.atomics.filter((w) => w.path !== path || w.pos + w.len <= a || b <= w.pos);
  }

  /** A read of [pos, pos+len) returned `data` (ret bytes): no atomic write it covers may be torn. */
  private checkAtomics(f: OFile, pos: number, len: number, data: readonly Span[], n: number): Finding[] {
    const out: Finding[] = [];
    for (const w of this.atomics) {
      if (!w.crashed || w.path !== f.path) continue;
      const a = Math.max(w.pos, pos);
      const b = Math.min(w.pos + w.len, pos + len);
      if (a >= b) continue;
      let nNew = 0;
      let nOld = 0;
      let q = pos;
      for (const sp of data) {
        const x = Math.max(q, a);
        const y = Math.min(q + sp.len, b);
        if (x < y) {
          // A byte the application stored into the buffer while the write was in flight is the
          // write's too: the device took the buffer as it was when it transferred it.
          if ((sp.src === w.src && q - sp.off === w.pos) || (w.racing !== null && sp.src === w.racing)) nNew += y - x;
          else if (sp.src === SRC_ZERO) {
            // Zeroes where an earlier write's allocation was lost with the crash are neither.
            let lost = 0;
            for (const [u, v] of w.undurable) lost += Math.max(0, Math.min(v, y) - Math.max(u, x));
            nOld += y - x - lost;
          } else nOld += y - x;
        }
        q += sp.len;
      }
      // Short at EOF: the size is not part of the guarantee.  An extending write's
      // size update commits after its data (ext4_handle_inode_extension,
      // xfs_dio_write_end_io), so a crash may keep the data and the old size:
      // the part inside the size reads new, the rest is not there to read.
      const what = `the RWF_ATOMIC write of step ${w.step} (${w.len} bytes at ${w.pos})`;
      if (nNew > 0 && nOld > 0) {
        out.push({ kind: 'torn-atomic-write', detail: `step ${n}: ${what} is torn after the crash: ${nNew} bytes of it read new, ${nOld} old` });
        continue;
      }
      // Nothing of the write inside the file: nothing to tell old from new.
      if (nNew === 0 && nOld === 0) continue;
      const cls = nNew > 0 ? 'new' : 'old';
      if (w.seen !== null && w.seen !== cls) out.push({ kind: 'torn-atomic-write', detail: `step ${n}: ${what} read ${w.seen} before and ${cls} now, in another part of its range` });
      else w.seen = cls;
    }
    return out;
  }

  constructor(private readonly sources: (id: number) => Source | undefined) {}

  /** The step being observed, shared with every OFile. */
  private readonly clock = { n: 0 };

  /**
   * Is `step` an appending write to a file whose size is uncertain (after a
   * crash)?  Then where it lands is the size the file really has, which
   * only the caller can say: the model does (StepOutcome.writePos), a
   * kernel run does not (the helper reports the bytes written, not where).
   */
  appendPositionUnknown(step: Step): boolean {
    if (step.op !== 'pwrite') return false;
    const f = this.fileOf(step.fd);
    const d = this.fds.get(step.fd);
    if (f === undefined || d === undefined || f.size.min === f.size.max) return false;
    return appends(d, flagsFrom(step.flags ?? [], RWF_FLAGS).value);
  }

  private fileOf(fd: string): OFile | undefined {
    const d = this.fds.get(fd);
    return d === undefined ? undefined : this.files.get(d.path);
  }

  private place(path: string, pos: number, data: readonly Span[]): void {
    let p = pos;
    for (const s of data) {
      if (s.src > 0) this.placed.add(path, s.src, p - s.off);
      p += s.len;
    }
  }

  /**
   * A clone shared [from, from+len) of `src`, where the oracle holds only the
   * wildcard (too many candidates to tell apart), at offset +`shift` of
   * `dst`: every source ever placed over that range of `src` is placed in
   * `dst` too, shifted — no more than data/no-stale-exposure already allows
   * in `src` there.
   */
  private placeCloned(src: string, ranges: ReadonlyArray<readonly [number, number]>, dst: string, shift: number): void {
    const byId = this.placed.in(src);
    if (byId === undefined || ranges.length === 0) return;
    const add: Array<[number, number]> = [];
    for (const [id, ats] of byId) {
      const n = this.sources(id)?.len ?? 0;
      for (const at of ats) if (ranges.some(([from, end]) => at < end && from < at + n)) add.push([id, at + shift]);
    }
    // Placed after the search: the destination may be the source itself (a clone inside one file).
    for (const [id, at] of add) this.place(dst, at, [span(this.sources(id)?.len ?? 0, id, 0, 0)]);
  }

  /** Collapse and insert move bytes: their new offsets are legitimate places for them. */
  private placeAll(f: OFile): void {
    for (const e of f.cur.m.entries()) for (const c of e.v) this.place(f.path, e.start, [c]);
  }

  /** data/no-stale-exposure: every byte is zero or was written to this file at this position. */
  private checkStale(path: string, pos: number, data: readonly Span[], n: number): Finding | null {
    let p = pos;
    for (const s of data) {
      if (s.src === SRC_ZERO) {
        p += s.len;
        continue;
      }
      const ok = s.src > 0 && this.placed.has(path, s.src, p - s.off);
      if (!ok && s.src > 0) {
        const peer = this.cloneLeak(path, p, s);
        if (peer !== null) {
          return {
            kind: 'clone-leak',
            detail: `step ${n}: read of ${path} returned ${describeSpan(s, this.sources)} at file offset ${p} (${s.len} bytes); those bytes were written at ${peer}: a write to one side of a clone must not change the other`,
          };
        }
      }
      if (!ok) {
        return {
          kind: 'stale-bytes',
          detail: `step ${n}: read of ${path} returned ${describeSpan(s, this.sources)} at file offset ${p} (${s.len} bytes), which no write ever put at that offset of this file`,
        };
      }
      p += s.len;
    }
    return null;
  }

  /**
   * Was span `s`, read at `p` of `path`, written to a file that shares
   * blocks with `path` at the corresponding offset?  Returns that file.
   */
  private cloneLeak(path: string, p: number, s: Span): string | null {
    for (const c of this.clones) {
      for (const [me, meOff, other, otherOff] of [[c.a, c.aOff, c.b, c.bOff], [c.b, c.bOff, c.a, c.aOff]] as const) {
        if (me !== path || p < meOff || p >= meOff + c.len) continue;
        const q = p - meOff + otherOff;
        if (this.placed.has(other, s.src, q - s.off)) return `offset ${q} of ${other}, which shares blocks with this range since the clone at step ${c.step}`;
      }
    }
    return null;
  }

  /** Did any candidate for the bytes at `pos` of `path` come there through a clone? */
  private clonedCands(path: string, pos: number, allowed: Cands): boolean {
    return allowed.some((c) => c.src > 0 && this.clonePlaced.has(path, c.src, pos - c.off));
  }

  /** A store into a write's buffer while its I/O was in flight (pwrite storeDuringIo): the device may have taken either byte. */
  private racingStore(f: OFile, pos: number, written: number, step: Step & { op: 'pwrite' }, stepSources: readonly Source[]): void {
    const racing = stepSources.find((s) => s.kind === 'store');
    if (racing === undefined || step.storeDuringIo === undefined || step.storeDuringIo.offset >= written) return;
    const a = step.storeDuringIo.offset;
    const d = [span(Math.min(racing.len, written - a), racing.id, 0, racing.fill)];
    f.maybeWrite(pos + a, d);
    this.place(f.path, pos + a, d);
  }

  /**
   * A read on the real kernel returned these byte values (runs of
   * [value, count]) at `pos` of the file `fd` names: the same bytes as the
   * oracle's spans, each taken to be a candidate there with that value (a
   * kernel answers bytes, not where they came from), or — when no candidate
   * has it — bytes no write put there (never-written device bytes with that
   * value; zero is a zero).  `iospec crashes` judges kernel runs so.
   */
  resolveRead(fd: string, pos: number, runs: ReadonlyArray<readonly [number, number]>): Span[] {
    const f = this.fileOf(fd);
    const out: Span[] = [];
    let p = pos;
    const unknown = (len: number, v: number): Span => (v === 0 ? span(len, SRC_ZERO, 0, 0) : span(len, SRC_UNINIT, 0, v));
    for (const [v, n] of runs) {
      const end = p + n;
      let q = p;
      for (const e of f?.cur.m.overlapping(p, end) ?? []) {
        const a = Math.max(q, e.start);
        const b = Math.min(end, e.end);
        if (a > q) out.push(unknown(a - q, v));
        const c = e.v.find((x) => x.src === SRC_ANY || x.val === v || (x.src === SRC_ZERO && v === 0));
        out.push(c === undefined ? unknown(b - a, v) : cutSpan(c, a - e.start, b - a));
        q = b;
      }
      if (q < end) out.push(unknown(end - q, v));
      p = end;
    }
    return out;
  }

  /** Apply a step and its outcome; return what it breaks. */
  observe(step: Step, n: number, out: StepOutcome, stepSources: readonly Source[]): Finding[] {
    const r = out.result;
    const ok = r.errno === undefined && r.unsupported === undefined && r.signal === undefined;
    const findings: Finding[] = [];
    this.clock.n = n;
    // The data of a failed writeback may read old or new.  Applied before a step that makes
    // things durable (fsync, sync, unmount), and after a write, so that it covers what the write added.
    const relaxAfter = step.op === 'pwrite';
    if (!relaxAfter) for (const e of out.ioErrors) this.files.get(e.path)?.writebackFailed(e.pos, e.len);
    for (const e of out.ioErrors) {
      const f = this.files.get(e.path);
      if (f === undefined) continue;
      // mapping_set_error: every open file description will see it once, and so will the next open (not seen yet).
      const err = { step: n, pos: e.pos, len: e.len };
      f.errUnseen = err;
      for (const d of this.fds.values()) if (d.path === e.path && d.wbErr === null) d.wbErr = err;
    }
    if (this.atomics.length > 0) {
      // Anything else that may change a file's bytes ends the atomic writes' claim on them.
      const changed = step.op === 'mmap_write' || step.op === 'ftruncate' || step.op === 'fallocate' || step.op === 'clone' ? this.fileOf(step.fd)?.path
        : step.op === 'open' && step.flags.includes('O_TRUNC') ? step.path : undefined;
      if (changed !== undefined) this.touchAtomics(changed, 0, Number.MAX_SAFE_INTEGER);
    }
    switch (step.op) {
      case 'open': {
        const flags = flagsFrom(step.flags, OPEN_FLAGS).value;
        let f = this.files.get(step.path);
        if (ok) {
          if (f === undefined) {
            f = new OFile(step.path, this.clock);
            this.files.set(step.path, f);
          } else if (f.exists === 'no') {
            // Created afresh: empty.
            const fresh = new OFile(step.path, this.clock);
            this.files.set(step.path, fresh);
            f = fresh;
          } else if (f.exists === 'maybe') {
            // It either survived the crash or O_CREAT made it anew (empty).
            if ((flags & O_CREAT) !== 0) f.size = { min: 0, max: f.size.max };
            f.exists = 'yes';
          }
          // do_dentry_open: f_wb_err = filemap_sample_wb_err — an error nobody has seen yet is reported to the new file too.
          this.fds.set(step.fd, { path: step.path, flags, wbErr: f.errUnseen });
          if ((flags & O_TRUNC) !== 0) f.truncate(0);
        } else {
          this.fds.delete(step.fd);
          // O_TRUNC that failed part way (a writeback error surfaced while truncating): see OFile.maybeTruncate.
          if (r.errno === 'EIO' && f !== undefined && f.exists === 'yes' && (flags & O_TRUNC) !== 0 && !this.down) f.maybeTruncate(0);
          if (r.errno === 'ENOENT' && f !== undefined && (flags & O_CREAT) === 0 && !this.down) {
            if (f.exists === 'yes') {
              findings.push({
                kind: 'file-missing',
                promise: f.existedDurably ? (f.existsByDsync ? 'dsync' : 'fsync') : 'none',
                detail: `step ${n}: open of ${step.path} failed with ENOENT, but the file ${f.existedDurably ? `was made durable at step ${f.syncedAt}` : 'exists'}`,
              });
            } else if (f.exists === 'maybe') f.observedMissing();
          }
        }
        break;
      }
      case 'close':
        if (ok) this.fds.delete(step.fd);
        break;
      case 'pwrite': {
        const f = this.fileOf(step.fd);
        const d = this.fds.get(step.fd);
        if (f === undefined || d === undefined) break;
        const rwf = flagsFrom(step.flags ?? [], RWF_FLAGS).value;
        const content: Span[] = [];
        for (const s of stepSources) if (s.kind === 'pwrite') content.push(span(s.len, s.id, 0, s.fill));
        const append = appends(d, rwf);
        let pos = append ? f.size.max : (stepSources[0]?.pos ?? step.offset);
        if (append && f.size.min !== f.size.max && out.writePos >= 0) {
          // The size is uncertain (after a crash): the append landed at the size the file really has.
          if (out.writePos < f.size.min || out.writePos > f.size.max) {
            findings.push({ kind: 'append-offset', detail: `step ${n}: an appending write to ${f.path} went to offset ${out.writePos}, but the file size is ${f.size.min}..${f.size.max}` });
            break;
          }
          f.pinSize(out.writePos);
          pos = out.writePos;
        }
        // A write past EOF also zero-fills the gap from the old size (which after a crash may cut an atomic write).
        if ((ok && r.ret !== undefined && r.ret > 0) || !ok) this.touchAtomics(f.path, Math.min(pos, f.size.min), pos + (ok ? r.ret ?? 0 : dataLen(content)));
        if (ok && r.ret !== undefined && r.ret > 0 && (rwf & RWF_ATOMIC) !== 0 && stepSources[0] !== undefined) {
          const racing = step.storeDuringIo !== undefined ? (stepSources.find((s) => s.kind === 'store')?.id ?? null) : null;
          this.atomics.push({ path: f.path, pos, len: r.ret, src: stepSources[0].id, racing, step: n, crashed: false, seen: null, undurable: this.undurableUnder(f, pos, pos + r.ret) });
        }
        if (ok && r.ret !== undefined && r.ret > 0) {
          const d0 = sliceData(content, 0, r.ret);
          for (const [p, d] of f.preShift(pos, d0)) this.place(f.path, p, d);
          f.write(pos, d0);
          this.place(f.path, pos, d0);
          this.racingStore(f, pos, r.ret, step, stepSources);
          const dsync = (d.flags & O_DSYNC) !== 0 || (rwf & (RWF_DSYNC | RWF_SYNC)) !== 0;
          if (dsync) f.makeRangeDurable(pos, pos + r.ret, n);
          // A direct O_DSYNC write that went out with FUA and needs no metadata sync never calls
          // generic_write_sync (iomap_dio_rw clears IOMAP_DIO_NEED_SYNC for IOMAP_DIO_WRITE_THROUGH), and one
          // that did would have failed with the error: after a direct one the error is still pending, for the next fsync.
          if (dsync && d.wbErr !== null && d.wbErr.maybeReported === true) d.wbErr = null;
          else if (dsync && d.wbErr !== null && (d.flags & O_DIRECT) === 0) {
            findings.push({
              kind: 'unreported-writeback-error',
              detail: `step ${n}: an O_DSYNC write to ${d.path} through fd ${step.fd} succeeded, but writeback of bytes ${d.wbErr.pos}..${d.wbErr.pos + d.wbErr.len} failed at step ${d.wbErr.step} and this open file was never told (generic_write_sync syncs like fsync)`,
            });
          }
        } else if (!ok && (r.errno === 'EINVAL' || r.errno === 'EIO' || r.errno === 'EILSEQ' || (r.errno === 'ENOSPC' && (d.flags & O_DIRECT) !== 0))) {
          // Direct I/O may have written some bios before one failed (an allocation's ENOSPC too:
          // __iomap_dio_rw returns the error, not the bytes done; observed on ext4, Linux 6.18);
          // a buffered O_SYNC write fails in its sync after it changed the page cache and size.
          if (r.errno === 'EIO') f.maybeWriteExtending(pos, content);
          else f.maybeWrite(pos, content);
          this.racingStore(f, pos, dataLen(content), step, stepSources);
          // generic_write_sync reports a pending writeback error like fsync does, unless the
          // write failed before its sync (then the error is still pending): either may be true.
          const dsync = (d.flags & O_DSYNC) !== 0 || (rwf & (RWF_DSYNC | RWF_SYNC)) !== 0;
          if (r.errno === 'EIO' && dsync && d.wbErr !== null) {
            d.wbErr = maybeReported(d.wbErr);
            // If it was reported, it is marked seen: a file opened later may not be told either.
            if (f.errUnseen !== null) f.errUnseen = maybeReported(f.errUnseen);
          }
          this.place(f.path, pos, content);
        }
        break;
      }
      case 'mmap_write': {
        const f = this.fileOf(step.fd);
        if (f === undefined) break;
        const src = stepSources[0];
        if (src === undefined) break;
        if (ok || r.signal === 'SIGBUS') {
          const d0 = [span(step.length, src.id, 0, src.fill)];
          for (const [p, d] of f.preShift(step.offset, d0)) this.place(f.path, p, d);
          f.mmapStore(step.offset, d0, ok);
          this.place(f.path, step.offset, d0);
        }
        break;
      }
      case 'pread': {
        const f = this.fileOf(step.fd);
        if (f !== undefined && r.errno === 'EIO' && !this.down && !this.badSectors) {
          findings.push({ kind: 'read-error', detail: `step ${n}: a read of ${f.path} (${step.length} bytes at ${step.offset}) failed with EIO, but no sector of the device failed and the file system is up` });
        }
        if (f !== undefined && !ok && out.read !== null) {
          // A failed read may leave part of the buffer filled from the file, never with kernel memory.
          let at = 0;
          for (const s of out.read) {
            if (s.src === SRC_GARBAGE || s.src === SRC_UNINIT) {
              findings.push({ kind: 'stale-bytes', detail: `step ${n}: the read of ${f.path} failed (${r.errno ?? '?'}), but left ${describeSpan(s, this.sources)} in bytes ${at}..${at + s.len} of the caller's buffer` });
              break;
            }
            at += s.len;
          }
          break;
        }
        if (f === undefined || !ok || r.ret === undefined || out.read === null) break;
        const pos = step.offset === -1 ? 0 : step.offset;
        findings.push(...this.checkRead(f, pos, step.length, r.ret, out.read, n, (step.flags ?? []).includes('RWF_NOWAIT')));
        if (this.atomics.length > 0) findings.push(...this.checkAtomics(f, pos, step.length, out.read, n));
        break;
      }
      case 'statx': {
        const f = this.fileOf(step.fd);
        if (f === undefined || !ok || r.statx === undefined || this.down) break;
        const size = r.statx['size'] ?? 0;
        if (size < f.size.min || size > f.size.max) {
          findings.push({
            kind: 'size',
            promise: f.mustSize !== null ? 'fsync' : 'none',
            detail: `step ${n}: statx of ${f.path} reports size ${size}, expected ${f.size.min === f.size.max ? f.size.min : `${f.size.min}..${f.size.max}`}`,
          });
        } else f.pinSize(size);
        break;
      }
      case 'ftruncate': {
        const f = this.fileOf(step.fd);
        if (f !== undefined && ok) f.truncate(step.length);
        else if (f !== undefined && r.errno === 'EIO' && !this.down) f.maybeTruncate(step.length);
        break;
      }
      case 'fallocate': {
        const f = this.fileOf(step.fd);
        const mode = step.mode === 0 ? 0 : flagsFrom(step.mode, FALLOC_FLAGS).value;
        const end = step.offset + step.length;
        const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
        // Out of space part way, or a block of a partial edge that could not be read for its zeroing
        // (EIO: the whole blocks were punched before, xfs_free_file_space, ext4's zero range): what was
        // allocated (or freed first) may stay.
        const partWay = r.errno === 'ENOSPC' || (r.errno === 'EIO' && !this.down);
        if (f !== undefined && !ok && partWay && (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) === 0) {
          f.failedPrealloc(step.offset, end, (mode & (FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE)) !== 0, keep || (mode & FALLOC_FL_PUNCH_HOLE) !== 0 ? 0 : end);
        }
        if (f === undefined || !ok) break;
        if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0) f.zero(step.offset, Math.min(end, f.size.max));
        else if ((mode & FALLOC_FL_COLLAPSE_RANGE) !== 0) {
          f.collapse(step.offset, step.length);
          this.placeAll(f);
        } else if ((mode & FALLOC_FL_INSERT_RANGE) !== 0) {
          f.insert(step.offset, step.length);
          this.placeAll(f);
        }
        else if ((mode & FALLOC_FL_ZERO_RANGE) !== 0) {
          f.zero(step.offset, Math.min(end, f.size.max));
          if (!keep && end > f.size.max) f.truncate(end);
        } else if (!keep && end > f.size.max) f.truncate(end);
        // ext4 and XFS commit the journal for a preallocation on an O_DSYNC/O_SYNC file (btrfs does
        // not): fallocate is no write, and O_DSYNC promises nothing for it.
        break;
      }
      case 'clone': {
        const dst = this.fileOf(step.fd);
        const src = this.fileOf(step.src);
        const dd = this.fds.get(step.fd);
        const sd = this.fds.get(step.src);
        // EIO after the sharing: the O_(D)SYNC sync that follows it (btrfs_remap_file_range) reported a
        // writeback error.  The clone may be done, and the error may have been reported (marked seen).
        const failedLate = !ok && r.errno === 'EIO' && !this.down;
        if (dst === undefined || src === undefined || dd === undefined || sd === undefined || (!ok && !failedLate)) break;
        if (failedLate) {
          for (const d of [dd, sd]) if (d.wbErr !== null) d.wbErr = maybeReported(d.wbErr);
          for (const f of [src, dst]) if (f.errUnseen !== null) f.errUnseen = maybeReported(f.errUnseen);
        }
        // Length 0 clones to the source's EOF, which may be uncertain (after a crash).
        const len = step.length !== 0 ? step.length : Math.max(0, src.size.max - step.srcOffset);
        if (len === 0) break;
        const certain = ok && (step.length !== 0 || src.size.min === src.size.max);
        const srcCur = src.cur.clone();
        const piece = dst.cloneFrom(srcCur, step.srcOffset, step.offset, len, certain);
        // The clone shares the source's blocks (xfs_reflink_remap_blocks, btrfs_clone): the destination
        // reads what the source held, so every candidate of the source is now placed in the
        // destination.  Taken from what the clone brought, not from the destination's candidates
        // after it: an uncertain clone merges the two sets, and past MAX_CANDIDATES the merge is the
        // wildcard, which names no source (two soak counterexamples: a cloned byte then read as a
        // write that leaked from the other side of the clone).
        const wild: Array<readonly [number, number]> = [];
        for (const e of piece.m.entries()) {
          for (const c of e.v) {
            if (c.src === SRC_ANY) wild.push([e.start - step.offset + step.srcOffset, e.end - step.offset + step.srcOffset]);
            this.place(dst.path, e.start, [c]);
            if (c.src > 0) this.clonePlaced.add(dst.path, c.src, e.start - c.off);
          }
        }
        this.placeCloned(src.path, wild, dst.path, step.offset - step.srcOffset);
        this.clones.push({ a: src.path, aOff: step.srcOffset, b: dst.path, bOff: step.offset, len, step: n });
        // An O_(D)SYNC file on either side forces the log: the clone is durable.  A clone that
        // may have had nothing to do (to an EOF that may be 0) returns before the log force.
        const surelyDone = step.length !== 0 || src.size.min > step.srcOffset;
        if (ok && ((dd.flags | sd.flags) & O_DSYNC) !== 0 && surelyDone) dst.makeRangeDurable(step.offset, step.offset + len, n);
        break;
      }
      case 'fsync':
      case 'fdatasync': {
        const f = this.fileOf(step.fd);
        const d = this.fds.get(step.fd);
        if (f !== undefined && ok) f.makeDurable(n);
        if (f === undefined || d === undefined || this.down) break;
        const e = d.wbErr;
        if (ok && e !== null && e.maybeReported !== true) {
          findings.push({
            kind: 'unreported-writeback-error',
            detail: `step ${n}: ${step.op} of ${d.path} through fd ${step.fd} returned 0, but writeback of bytes ${e.pos}..${e.pos + e.len} failed at step ${e.step} while this file was open and it was never told`,
          });
        } else if (!ok && r.errno === 'EIO' && e === null) {
          findings.push({
            kind: 'spurious-writeback-error',
            detail: `step ${n}: ${step.op} of ${d.path} through fd ${step.fd} returned EIO, but no writeback of the file failed since this open file description last reported an error`,
          });
        }
        if (e !== null && (!ok || e.maybeReported === true)) {
          // errseq_check_and_advance: reported to this file, and marked seen.
          d.wbErr = null;
          f.errUnseen = null;
        }
        break;
      }
      case 'sync':
        if (!this.down) for (const f of this.files.values()) f.makeDurable(n);
        break;
      case 'crash':
        if (!this.down) {
          for (const w of this.atomics) w.crashed = true;
          for (const f of this.files.values()) f.crash();
          this.crashes++;
        }
        this.down = true;
        this.fds.clear();
        break;
      case 'reclaim':
        for (const f of this.files.values()) f.evictedAt = n;
        break;
      case 'device_error':
        if (ok && (r.ret ?? 0) > 0) this.badSectors = true;
        break;
      case 'remount':
        for (const f of this.files.values()) {
          if (!this.down) f.evictedAt = n;
          f.errUnseen = null;
        }
        if (!this.down) for (const f of this.files.values()) f.makeDurable(n);
        for (const f of this.files.values()) f.dropCache();
        this.down = false;
        this.fds.clear();
        break;
      case 'mkdir':
      case 'encrypt_dir':
      case 'setflags':
      case 'fiemap':
      case 'writeback':
      case 'complete':
      case 'journal_commit':
        // Nothing a read can tell: the namespace, extent maps and I/O scheduling are not the oracle's.
        break;
      default: {
        const unhandled: never = step;
        throw new Error(`oracle: no rule for step ${JSON.stringify(unhandled)}`);
      }
    }
    if (relaxAfter) for (const e of out.ioErrors) this.files.get(e.path)?.writebackFailed(e.pos, e.len);
    return findings;
  }

  /**
   * A read's byte count and bytes.  A short read means EOF, except under
   * RWF_NOWAIT, which stops at the first folio it would have to wait for
   * (filemap_read returns what it copied so far).
   */
  private checkRead(f: OFile, pos: number, len: number, ret: number, data: readonly Span[], n: number, nowait: boolean): Finding[] {
    const out: Finding[] = [];
    const stale = this.checkStale(f.path, pos, data, n);
    if (stale !== null) out.push(stale);
    const hi = Math.max(0, Math.min(len, f.size.max - pos));
    // filemap_read / iomap_dio_rw: a read that fails part way returns what it read before the failure.
    const lo = (nowait && ret > 0) || this.badSectors ? Math.min(ret, hi) : Math.max(0, Math.min(len, f.size.min - pos));
    if (ret < lo || ret > hi) {
      const durable = f.mustSize !== null;
      const dsync = durable && f.dsyncAt.intersects(pos + ret, pos + len);
      out.push({
        kind: 'read-length',
        promise: dsync ? 'dsync' : durable ? 'fsync' : 'none',
        detail: `step ${n}: read of ${len} bytes at ${pos} of ${f.path} returned ${ret} bytes; with the file size ${f.size.min === f.size.max ? f.size.min : `${f.size.min}..${f.size.max}`} it must return ${lo === hi ? lo : `${lo}..${hi}`}`,
      });
      return out;
    }
    if (ret < len && ret > 0 && !nowait && !this.badSectors) f.pinSize(pos + ret);
    else if (ret === 0 && len > 0 && f.size.max > pos) f.boundSize(pos);
    if (f.mustMatch !== null) {
      const bad = f.mustMatch.checkCovered(pos, data);
      if (bad !== null) {
        const ds = f.dsyncAt.find(bad.at);
        out.push({
          kind: 'durable-bytes-lost',
          promise: ds !== undefined ? 'dsync' : 'fsync',
          detail: `step ${n}: after the crash, bytes ${bad.at}..${bad.at + bad.len} of ${f.path} read as ${describeSpan(bad.got, this.sources)}, but they were made durable at step ${ds?.v ?? f.syncedAt}${ds !== undefined ? ' (an O_DSYNC write)' : ''} as ${describeCands(bad.allowed, this.sources)}`,
        });
        return out;
      }
    }
    const bad = f.cur.check(pos, data);
    if (bad !== null) {
      // Zeroes where the file holds bytes it shares with a clone: the shared block's contents were not preserved.
      const lostShared = bad.got.src === SRC_ZERO && this.clonedCands(f.path, bad.at, bad.allowed);
      // An older content of the byte, read after the page cache was emptied since it was written (and no crash since).
      const wrote = f.wroteAt.find(bad.at)?.v ?? 0;
      const older = f.base.allows(bad.at, bad.got) || f.since.allows(bad.at, bad.got) || (bad.got.src === SRC_ZERO && f.base.m.find(bad.at) === undefined);
      const lost = !lostShared && wrote > f.crashedAt && wrote < f.evictedAt && older;
      out.push({
        kind: 'read-bytes',
        cause: lostShared ? 'shared-zeroed' : lost ? 'lost-write' : 'none',
        detail: `step ${n}: bytes ${bad.at}..${bad.at + bad.len} of ${f.path} read as ${describeSpan(bad.got, this.sources)}, expected ${describeCands(bad.allowed, this.sources)}${lost ? ` (written at step ${wrote}, then the page cache was emptied at step ${f.evictedAt}; no I/O error was reported)` : ''}`,
      });
      return out;
    }
    f.pinObserved(pos, data);
    return out;
  }
}


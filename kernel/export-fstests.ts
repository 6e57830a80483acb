/**
 * Reproducers: a scenario or counterexample as an fstests test (the kernel's
 * file-system regression suite, kdave/xfstests): the test script and its
 * golden `.out`, in the suite's conventions — `. ./common/preamble`,
 * `_begin_fstest` with its groups, the `_require_*` lines it needs,
 * `_scratch_mkfs`/`_scratch_mount`, a crash as a shutdown plus
 * `_scratch_cycle_mount`, `_exit 0`.
 *
 * The steps run as xfs_io one-shot (-C) commands, one xfs_io session between
 * mounts, as `export --xfs-io` does (its `command()` maps the steps).  The
 * output of a session goes through a filter that keeps only what the golden
 * output can promise: for each read its length and the bytes a correct kernel
 * must return (as runs, "0x02*512 0x03*4096"), for an RWF_ATOMIC write read
 * back after a crash whether it is torn, and for any step the error it fails
 * with.  Everything else (statx, fiemap, timings) goes to $seqres.full.
 *
 * What a correct kernel prints: the upstream model's answers, except where
 * the upstream model itself breaks an invariant (an upstream finding: its
 * answers show the bug) and after a crash (where the model's answer is one of
 * several a correct kernel may give).  There the golden comes from a plain
 * expectation kept alongside: the bytes written, what fsync, sync and
 * O_SYNC made durable, what a crash may have lost (not compared), and
 * RWF_ATOMIC writes that must read all old or all new.
 */
import { match } from 'ts-pattern';
import type { ScenarioDoc, Step } from '../scenario/schema.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import type { StepResult } from '../model/system.ts';
import { describeResult, describeStep } from '../checker/replay.ts';
import { runChecked } from '../checker/execute.ts';
import type { Violation } from '../checker/execute.ts';
import { INVARIANTS } from '../properties/index.ts';
import { UPSTREAM } from '../model/variants.ts';
import { runOnModel } from '../scenario/run.ts';
import { hexByte } from '../model/lib/content.ts';
import { XfsIoSession, command } from './export.ts';
import { kernelFs, mkfsCommand } from './runner.ts';

/** strerror(3) texts of the errnos the model answers with: xfs_io prints "cmd: TEXT". */
const STRERROR: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', EINTR: 'Interrupted system call', EIO: 'Input/output error',
  EBADF: 'Bad file descriptor', EAGAIN: 'Resource temporarily unavailable', ENOMEM: 'Cannot allocate memory', EACCES: 'Permission denied',
  EFAULT: 'Bad address', EBUSY: 'Device or resource busy', EEXIST: 'File exists', EXDEV: 'Invalid cross-device link',
  ENODEV: 'No such device', ENOTDIR: 'Not a directory', EISDIR: 'Is a directory', EINVAL: 'Invalid argument', ETXTBSY: 'Text file busy',
  EFBIG: 'File too large', ENOSPC: 'No space left on device', ESPIPE: 'Illegal seek', EROFS: 'Read-only file system',
  ENOTTY: 'Inappropriate ioctl for device', ENOSYS: 'Function not implemented', ENODATA: 'No data available',
  EOVERFLOW: 'Value too large for defined data type', EILSEQ: 'Invalid or incomplete multibyte or wide character',
  EOPNOTSUPP: 'Operation not supported', ENOKEY: 'Required key not available', EKEYREJECTED: 'Key was rejected by service',
  ESHUTDOWN: 'Cannot send after transport endpoint shutdown', EUCLEAN: 'Structure needs cleaning', EBADMSG: 'Bad message',
  ENOTEMPTY: 'Directory not empty', ELOOP: 'Too many levels of symbolic links', ENAMETOOLONG: 'File name too long',
};
const errText = (e: string): string => STRERROR[e] ?? e;

// ---------------------------------------------------------------------------
// The plain expectation: bytes as runs of a value, or null where a crash may
// have kept either the old or the new bytes.

interface Run { readonly v: number | null; readonly n: number }

function norm(runs: readonly Run[]): Run[] {
  const out: Run[] = [];
  for (const r of runs) {
    if (r.n <= 0) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last.v === r.v) out[out.length - 1] = { v: r.v, n: last.n + r.n };
    else out.push(r);
  }
  return out;
}

const runsLen = (runs: readonly Run[]): number => runs.reduce((n, r) => n + r.n, 0);

/** Bytes [a, b) of `runs` (past their end: `pad`). */
function slice(runs: readonly Run[], a: number, b: number, pad: number | null = 0): Run[] {
  const out: Run[] = [];
  let at = 0;
  for (const r of runs) {
    const x = Math.max(at, a);
    const y = Math.min(at + r.n, b);
    if (x < y) out.push({ v: r.v, n: y - x });
    at += r.n;
    if (at >= b) break;
  }
  if (at < b) out.push({ v: pad, n: b - Math.max(at, a) });
  return norm(out);
}

/** `runs` with [a, a+len(data)) replaced; a gap past the end is `pad`. */
function put(runs: readonly Run[], a: number, data: readonly Run[], pad: number | null = 0): Run[] {
  const len = runsLen(runs);
  const end = a + runsLen(data);
  return norm([...slice(runs, 0, Math.min(a, len)), ...(a > len ? [{ v: pad, n: a - len }] : []), ...data, ...(end < len ? slice(runs, end, len) : [])]);
}

const fillRange = (runs: readonly Run[], a: number, b: number, v: number | null): Run[] => (b > a ? put(runs, a, [{ v, n: b - a }]) : [...runs]);

interface Size { min: number; max: number }

interface XFile {
  /** The bytes now (up to size.max; [size.min, size.max) may or may not be in the file). */
  cur: Run[];
  size: Size;
  /** What a crash now must leave: durable bytes, null where either may be read. */
  disk: Run[];
  diskSize: Size;
  /** The file's name is durable (fsync, sync, O_SYNC write, clean unmount). */
  durable: boolean;
  /** Nothing can be said of its contents (a crash before it was durable, a write at an unknown position, a device error). */
  lost: boolean;
}

interface Atomic { path: string; pos: number; data: Run[]; step: number; crashed: boolean }

/** What a read must return: a length range, the bytes known, RWF_ATOMIC ranges that must not be torn. */
interface ReadExpect {
  readonly min: number;
  readonly max: number;
  /**
   * [a, b) within the buffer with the bytes there; `partial`: past the
   * length the read must reach, judged as far as it went (a truncate a
   * crash may have undone: the old bytes or none).
   */
  readonly known: Array<{ a: number; b: number; data: Run[]; partial?: true }>;
  readonly atomic: Array<{ a: number; b: number; data: Run[]; step: number }>;
}

const syncFlags = (flags: readonly string[]): boolean => flags.includes('O_SYNC') || flags.includes('O_DSYNC');
const newFile = (): XFile => ({ cur: [], size: { min: 0, max: 0 }, disk: [], diskSize: { min: 0, max: 0 }, durable: false, lost: false });

class Expectation {
  readonly files = new Map<string, XFile>();
  private readonly fds = new Map<string, { path: string; flags: readonly string[] }>();
  private atomics: Atomic[] = [];
  crashed = false;

  /**
   * The open file a step that changes data acts on, when the step succeeded;
   * one that failed with EIO may have changed it in part, so its contents
   * are no longer known (lost).
   */
  private changing(fd: string, ok: boolean, r: StepResult | undefined): { d: { path: string; flags: readonly string[] }; f: XFile; r: StepResult } | null {
    const d = this.fds.get(fd);
    const f = this.file(fd);
    if (d === undefined || f === undefined) return null;
    if (!ok || r === undefined) {
      if (r?.errno === 'EIO') f.lost = true;
      return null;
    }
    return { d, f, r };
  }

  private file(fd: string): XFile | undefined {
    const d = this.fds.get(fd);
    return d === undefined ? undefined : this.files.get(d.path);
  }

  private touch(path: string, a: number, b: number): void {
    this.atomics = this.atomics.filter((w) => w.path !== path || w.pos + runsLen(w.data) <= a || b <= w.pos);
  }

  /** Does a crash now have a choice for the file (something not durable)? */
  private dirty(f: XFile): boolean {
    return JSON.stringify(f.disk) !== JSON.stringify(f.cur) || f.diskSize.min !== f.size.min || f.diskSize.max !== f.size.max;
  }

  /** `data` at `pos` was made durable with what is needed to read it back (the size up to its end). */
  private syncedRange(f: XFile, pos: number, data: Run[], wasDirty: boolean): void {
    if (!wasDirty) return this.durableNow(f);
    f.disk = put(f.disk, pos, data, null);
    f.diskSize = { min: Math.max(f.diskSize.min, pos + runsLen(data)), max: Math.max(f.diskSize.max, f.size.max) };
    f.durable = true;
  }

  private durableNow(f: XFile): void {
    f.disk = [...f.cur];
    f.diskSize = { ...f.size };
    f.durable = true;
  }

  /** Bytes [a, b) now hold `data` (already in cur): on disk they are old or new until made durable. */
  private changed(f: XFile, a: number, b: number): void {
    f.disk = fillRange(f.disk, a, b, null);
  }

  /** Bytes [a, b) may hold their old contents or zeroes (a file extended over a size a crash left uncertain). */
  private gap(f: XFile, a: number): void {
    if (a > f.size.min) f.cur = fillRange(f.cur, f.size.min, Math.min(a, f.size.max), null);
    if (a > f.size.max) f.cur = put(f.cur, f.size.max, [{ v: 0, n: a - f.size.max }]);
  }

  /** The size is now exactly n (ftruncate, O_TRUNC). */
  private setSize(f: XFile, n: number): void {
    if (n < f.size.max) f.cur = slice(f.cur, 0, n);
    this.gap(f, n);
    f.size = { min: n, max: n };
    if (n <= f.diskSize.min) {
      // Cut short: a crash leaves the old size with the durable bytes, or the new one.
      f.diskSize = { min: n, max: f.diskSize.max };
      return;
    }
    const a = Math.min(n, f.diskSize.min);
    const b = Math.max(n, f.diskSize.max);
    f.disk = fillRange(f.disk, a, b, null);
    f.diskSize = { min: a, max: b };
  }

  /** Write `data` at `pos` (a write past EOF zero-fills the gap). */
  private write(f: XFile, path: string, pos: number, data: Run[]): void {
    const end = pos + runsLen(data);
    if (end === pos) return;
    this.gap(f, pos);
    f.cur = put(f.cur, pos, data);
    if (end >= f.size.max) f.size = { min: end, max: end };
    else if (end > f.size.min) f.size = { min: end, max: f.size.max };
    // Until made durable, a crash may keep the old bytes, the new ones, or the old size.
    const a = pos > f.diskSize.min ? f.diskSize.min : pos;
    f.disk = fillRange(f.disk, a, end, null);
    f.diskSize = { min: f.diskSize.min, max: Math.max(f.diskSize.max, end) };
    this.touch(path, pos, end);
  }

  apply(s: Step, r: StepResult | undefined): void {
    const ok = r !== undefined && r.errno === undefined && r.unsupported === undefined && r.internal === undefined && r.signal === undefined;
    match(s)
      .with({ op: 'open' }, (o) => {
        if (!ok) {
          this.fds.delete(o.fd);
          return;
        }
        let f = this.files.get(o.path);
        if (f === undefined) {
          f = newFile();
          this.files.set(o.path, f);
        }
        if (o.flags.includes('O_TRUNC')) {
          this.setSize(f, 0);
          f.lost = false;
          this.touch(o.path, 0, Number.MAX_SAFE_INTEGER);
        }
        this.fds.set(o.fd, { path: o.path, flags: o.flags });
      })
      .with({ op: 'close' }, (c) => {
        if (ok) this.fds.delete(c.fd);
      })
      .with({ op: 'pwrite' }, (w) => {
        const c = this.changing(w.fd, ok, r);
        if (c === null) return;
        const { d, f, r: res } = c;
        const flags = w.flags ?? [];
        const all: Run[] = w.iov !== undefined ? norm(w.iov.map((v) => ({ v: v.fill, n: v.length }))) : [{ v: w.fill ?? 0, n: w.length ?? 0 }];
        const data = slice(all, 0, res.ret ?? 0);
        const append = (d.flags.includes('O_APPEND') || flags.includes('RWF_APPEND')) && !flags.includes('RWF_NOAPPEND');
        if (w.offset === -1 || (append && f.size.min !== f.size.max)) {
          f.lost = true;
          return;
        }
        const pos = append ? f.size.max : w.offset;
        const wasDirty = this.dirty(f);
        this.write(f, d.path, pos, data);
        if (flags.includes('RWF_ATOMIC') && data.length > 0) this.atomics.push({ path: d.path, pos, data, step: res.step, crashed: false });
        // generic_write_sync: the written range and what is needed to read it back (the size up to its end).
        if (syncFlags(d.flags) || flags.includes('RWF_DSYNC') || flags.includes('RWF_SYNC')) this.syncedRange(f, pos, data, wasDirty);
      })
      .with({ op: 'mmap_write' }, (m) => {
        const d = this.fds.get(m.fd);
        const f = this.file(m.fd);
        if (d === undefined || f === undefined || !ok) return;
        // Stores past EOF are not part of the file: a later extension must read zeroes there.
        const end = Math.min(m.offset + m.length, f.size.min);
        if (end > m.offset) {
          f.cur = fillRange(f.cur, m.offset, end, m.fill);
          this.changed(f, m.offset, end);
        }
        if (f.size.max > f.size.min && m.offset + m.length > f.size.min) f.cur = fillRange(f.cur, Math.max(m.offset, f.size.min), Math.min(m.offset + m.length, f.size.max), null);
        this.touch(d.path, m.offset, m.offset + m.length);
      })
      .with({ op: 'ftruncate' }, (t) => {
        const c = this.changing(t.fd, ok, r);
        if (c === null) return;
        const { d, f } = c;
        this.setSize(f, t.length);
        this.touch(d.path, 0, Number.MAX_SAFE_INTEGER);
      })
      .with({ op: 'fallocate' }, (a) => {
        const d = this.fds.get(a.fd);
        const f = this.file(a.fd);
        if (d === undefined || f === undefined || !ok) return;
        const mode = a.mode === 0 ? [] : a.mode;
        const keep = mode.includes('FALLOC_FL_KEEP_SIZE');
        const end = a.offset + a.length;
        this.touch(d.path, 0, Number.MAX_SAFE_INTEGER);
        if (mode.includes('FALLOC_FL_COLLAPSE_RANGE') || mode.includes('FALLOC_FL_INSERT_RANGE')) {
          const collapse = mode.includes('FALLOC_FL_COLLAPSE_RANGE');
          const tail = slice(f.cur, collapse ? end : a.offset, f.size.max);
          const head = slice(f.cur, 0, a.offset);
          f.cur = norm(collapse ? [...head, ...tail] : [...head, { v: 0, n: a.length }, ...tail]);
          const delta = collapse ? -a.length : a.length;
          f.size = { min: f.size.min + delta, max: f.size.max + delta };
          f.disk = fillRange(f.disk, Math.min(a.offset, f.diskSize.max), Math.max(f.diskSize.max, f.size.max), null);
          f.diskSize = { min: Math.min(f.diskSize.min, f.size.min), max: Math.max(f.diskSize.max, f.size.max) };
          return;
        }
        if (mode.includes('FALLOC_FL_PUNCH_HOLE') || mode.includes('FALLOC_FL_ZERO_RANGE')) {
          const z = Math.min(end, f.size.max);
          if (z > a.offset) {
            f.cur = fillRange(f.cur, a.offset, z, 0);
            this.changed(f, a.offset, z);
          }
        }
        if (!keep && !mode.includes('FALLOC_FL_PUNCH_HOLE') && !mode.includes('FALLOC_FL_UNSHARE_RANGE') && end > f.size.min) this.write(f, d.path, a.offset, slice(f.cur, a.offset, end));
      })
      .with({ op: 'clone' }, (c) => {
        const d = this.fds.get(c.fd);
        const f = this.file(c.fd);
        const src = this.file(c.src);
        if (d === undefined || f === undefined || src === undefined || !ok) return;
        if (src.lost || src.size.min !== src.size.max) {
          f.lost = true;
          return;
        }
        const len = c.length === 0 ? Math.max(0, src.size.max - c.srcOffset) : c.length;
        // A clone to EOF of a file whose end is not block aligned takes the tail up to EOF only.
        const data = slice(src.cur, c.srcOffset, Math.min(c.srcOffset + len, src.size.max));
        const wasDirty = this.dirty(f);
        this.write(f, d.path, c.offset, data);
        // xfs_file_remap_range and btrfs_remap_file_range make a clone through an O_(D)SYNC file on either side durable.
        if (syncFlags(d.flags) || syncFlags(this.fds.get(c.src)?.flags ?? [])) this.syncedRange(f, c.offset, data, wasDirty);
      })
      .with({ op: 'fsync' }, { op: 'fdatasync' }, (x) => {
        const f = this.file(x.fd);
        if (f === undefined) return;
        if (ok) this.durableNow(f);
        else if (r?.errno === 'EIO') f.lost = true;
      })
      .with({ op: 'sync' }, () => {
        if (ok) for (const f of this.files.values()) this.durableNow(f);
      })
      .with({ op: 'crash' }, () => {
        this.crashed = true;
        for (const f of this.files.values()) {
          if (!f.durable) f.lost = true;
          f.cur = [...f.disk];
          f.size = { ...f.diskSize };
        }
        for (const w of this.atomics) w.crashed = true;
        this.fds.clear();
      })
      .with({ op: 'remount' }, () => {
        // A clean unmount writes everything back.
        for (const f of this.files.values()) this.durableNow(f);
        this.fds.clear();
      })
      .with({ op: 'device_error' }, () => {
        for (const f of this.files.values()) f.lost = true;
      })
      .with({ op: 'pread' }, { op: 'statx' }, { op: 'fiemap' }, { op: 'setflags' }, { op: 'mkdir' }, { op: 'encrypt_dir' }, { op: 'writeback' }, { op: 'complete' }, { op: 'journal_commit' }, { op: 'reclaim' }, () => undefined)
      .exhaustive();
  }

  /**
   * The model's answer to a read, one a correct kernel may give: the later
   * reads are judged given it (the size it found, the bytes it read), as the
   * oracle pins what it observes.
   */
  pin(s: Extract<Step, { op: 'pread' }>, model: ReadExpect): void {
    const f = this.file(s.fd);
    if (f === undefined || f.lost || s.offset === -1) return;
    const ret = model.min;
    const data = model.known[0]?.data ?? [];
    if (ret > 0) f.cur = put(f.cur, s.offset, slice(data, 0, ret));
    if (ret < s.length) f.size = { min: s.offset + ret, max: s.offset + ret };
    else f.size = { min: Math.max(f.size.min, s.offset + ret), max: Math.max(f.size.max, s.offset + ret) };
    f.cur = slice(f.cur, 0, f.size.max);
  }

  /** What a read of the file behind `fd` must return, or null when this expectation cannot say. */
  read(s: Extract<Step, { op: 'pread' }>): ReadExpect | null {
    const d = this.fds.get(s.fd);
    const f = this.file(s.fd);
    if (d === undefined || f === undefined || s.offset === -1) return null;
    const clamp = (size: number): number => Math.max(0, Math.min(s.length, size - s.offset));
    // A file whose contents nothing made durable: only its RWF_ATOMIC writes can be judged.
    const min = f.lost ? 0 : clamp(f.size.min);
    const max = f.lost ? s.length : clamp(f.size.max);
    const known: ReadExpect['known'] = [];
    let at = 0;
    // The bytes up to the length the read must reach, then those it may reach (judged as far as it went).
    for (const [from, to, partial] of [[0, min, false], [min, max, true]] as const) {
      at = from;
      for (const r of f.lost ? [] : slice(f.cur, s.offset + from, s.offset + to, null)) {
        if (r.v !== null) {
          const last = known[known.length - 1];
          if (last !== undefined && last.b === at && (last.partial ?? false) === partial) {
            last.data = norm([...last.data, r]);
            last.b = at + r.n;
          } else known.push({ a: at, b: at + r.n, data: [r], ...(partial ? { partial: true as const } : {}) });
        }
        at += r.n;
      }
    }
    const atomic: ReadExpect['atomic'] = [];
    for (const w of this.atomics) {
      if (!w.crashed || w.path !== d.path) continue;
      const a = Math.max(w.pos, s.offset);
      const b = Math.min(w.pos + runsLen(w.data), s.offset + s.length);
      if (a < b) atomic.push({ a: a - s.offset, b: b - s.offset, data: slice(w.data, a - w.pos, b - w.pos), step: w.step });
    }
    return { min, max, known, atomic };
  }
}

// ---------------------------------------------------------------------------
// The filter: a session's output, one "help quit" line after each step.

const runsText = (data: readonly Run[]): string => (data.length === 0 ? '(none)' : data.map((r) => `${r.v === null ? '??' : hexByte(r.v)}*${r.n}`).join(' '));

/**
 * The awk program behind `_iospec_filter SPEC`: SPEC lists the steps of the
 * session in order, "N|x" (not judged), "N|-" (report an error only), "N|E" (a read expected to
 * fail: report its error) or "N|R|MIN|MAX|A-B:V*N,V*N...|A-B:V*N...@STEP" (a
 * read: its length against MIN..MAX, the bytes of each known range, each
 * RWF_ATOMIC range — after the @ — torn or not).  Lines it does not judge go
 * to $seqres.full.
 */
const FILTER_AWK = String.raw`
BEGIN {
  n = split(spec, S, ";"); k = 0; nb = 0; err = ""; readn = 0
  ne = split(errs, ET, "|"); for (i = 1; i <= ne; i++) isErr[ET[i]] = 1
}
function runs(a, b,   i, out, v, c) {
  out = ""; c = 0
  for (i = a; i < b; i++) {
    if (c > 0 && got[i] == v) { c++; continue }
    if (c > 0) out = out (out == "" ? "" : " ") "0x" v "*" c
    v = got[i]; c = 1
  }
  if (c > 0) out = out (out == "" ? "" : " ") "0x" v "*" c
  return out == "" ? "(none)" : out
}
function judge(s,   f, nf, i, r, ab, nr, wv, j, q, vn, nnew, nold, lim, x, y, part, bad, xp) {
  nf = split(s, f, "|")
  if (f[2] == "x") return
  if (f[2] == "-" ) { if (err != "") print "step " f[1] ": fails: " err; return }
  if (err != "") { print "step " f[1] ": pread fails: " err; return }
  if (f[2] == "E") { print "step " f[1] ": pread returns " readn " bytes"; return }
  if (f[3] == f[4]) print "step " f[1] ": pread returns " readn " bytes"
  else if (readn >= f[3] + 0 && readn <= f[4] + 0) print "step " f[1] ": pread returns " f[3] ".." f[4] " bytes"
  else print "step " f[1] ": pread returns " readn " bytes (not " f[3] ".." f[4] ")"
  for (i = 5; i <= nf; i++) {
    if (f[i] == "") continue
    part = substr(f[i], 1, 1) == "~"; if (part) f[i] = substr(f[i], 2)
    split(f[i], r, ":"); split(r[1], ab, "-")
    lim = ab[2] + 0; if (lim > readn) lim = readn
    if (part) {
      # Bytes the read may not reach: the expected ones, as far as it went.
      nr = split(r[2], q, ","); j = ab[1] + 0; bad = 0; xp = ""
      for (x = 1; x <= nr; x++) { split(q[x], vn, "*"); xp = xp (x > 1 ? " " : "") "0x" vn[1] "*" vn[2]; for (y = 0; y < vn[2] + 0; y++) { if (j < lim && got[j] != vn[1]) bad = 1; j++ } }
      if (bad) print "step " f[1] ": bytes " ab[1] ".." ab[2] ": " runs(ab[1] + 0, lim)
      else print "step " f[1] ": bytes " ab[1] ".." ab[2] ": " xp ", as far as read"
      continue
    }
    if (index(r[2], "@") == 0) { print "step " f[1] ": bytes " ab[1] ".." ab[2] ": " runs(ab[1] + 0, lim); continue }
    split(r[2], wv, "@"); nr = split(wv[1], q, ","); nnew = 0; nold = 0; j = ab[1] + 0
    for (x = 1; x <= nr; x++) { split(q[x], vn, "*"); for (y = 0; y < vn[2] + 0; y++) { if (j < lim) { if (got[j] == vn[1]) nnew++; else nold++ } j++ } }
    if (nnew > 0 && nold > 0) print "step " f[1] ": bytes " ab[1] ".." ab[2] " (the RWF_ATOMIC write of step " wv[2] "): torn, " nnew " bytes new and " nold " old: " runs(ab[1] + 0, lim)
    else print "step " f[1] ": bytes " ab[1] ".." ab[2] " (the RWF_ATOMIC write of step " wv[2] "): all old or all new"
  }
}
/^[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]:  / {
  for (p = 12; p < length($0) && substr($0, p, 1) != " "; p += 3) got[nb++] = substr($0, p, 2)
  next
}
/^read [0-9]+\/[0-9]+ bytes at offset / { split($2, rn, "/"); readn = rn[1] + 0; next }
/^quit -- exit the program$/ { k++; judge(S[k]); nb = 0; err = ""; readn = 0; split("", got); next }
{
  m = $0; sub(/^.*: /, "", m)
  if (index($0, ": ") > 0 && (m in isErr) && err == "") err = m
  print >> full
}
`;

/** A shell variable name for an fscrypt key name. */
function keyVar(name: string): string {
  return `key_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The FSCRYPT_POLICY_FLAG_* bits of an encrypt_dir step (include/uapi/linux/fscrypt.h). */
function policyFlags(flags: readonly string[] | undefined): number {
  const bit: Record<string, number> = { DIRECT_KEY: 0x04, IV_INO_LBLK_64: 0x08, IV_INO_LBLK_32: 0x10 };
  return (flags ?? []).reduce((a, f) => a | (bit[f] ?? 0), 0);
}

/** One step of the golden output, as the filter prints it for `spec`. */
function goldenFor(n: number, r: StepResult | undefined, want: ReadExpect | null, isRead: boolean): { spec: string; lines: string[] } {
  if (!isRead) return { spec: `${n}|-`, lines: r?.errno !== undefined ? [`step ${n}: fails: ${errText(r.errno)}`] : [] };
  if (r?.errno !== undefined) return { spec: `${n}|E`, lines: [`step ${n}: pread fails: ${errText(r.errno)}`] };
  const w = want ?? modelRead(r);
  const fields = [
    ...w.known.map((k) => `${k.partial === true ? '~' : ''}${k.a}-${k.b}:${k.data.map((x) => `${hexByte(x.v ?? 0).slice(2)}*${x.n}`).join(',')}`),
    ...w.atomic.map((k) => `${k.a}-${k.b}:${k.data.map((x) => `${hexByte(x.v ?? 0).slice(2)}*${x.n}`).join(',')}@${k.step}`),
  ];
  const lines = [
    w.min === w.max ? `step ${n}: pread returns ${w.min} bytes` : `step ${n}: pread returns ${w.min}..${w.max} bytes`,
    ...w.known.map((k) => `step ${n}: bytes ${k.a}..${k.b}: ${runsText(k.data)}${k.partial === true ? ', as far as read' : ''}`),
    ...w.atomic.map((k) => `step ${n}: bytes ${k.a}..${k.b} (the RWF_ATOMIC write of step ${k.step}): all old or all new`),
  ];
  return { spec: [n, 'R', w.min, w.max, ...fields].join('|'), lines };
}

/** The model's answer to a read as an expectation (every byte known). */
function modelRead(r: StepResult | undefined): ReadExpect {
  const ret = r?.ret ?? 0;
  const data = norm((r?.data ?? []).map(([v, n]) => ({ v, n })));
  return { min: ret, max: ret, known: ret > 0 ? [{ a: 0, b: ret, data }] : [], atomic: [] };
}

const sameRead = (a: ReadExpect, b: ReadExpect): boolean => JSON.stringify(a) === JSON.stringify(b);

export interface FstestsTest {
  /** The test number (the file names: tests/<fs>/SEQ and SEQ.out). */
  readonly seq: string;
  /** The fstests directory it belongs in (tests/xfs, tests/ext4, ...). */
  readonly dir: string;
  readonly script: string;
  readonly golden: string;
  /** The fstests helpers (common/*) the script calls. */
  readonly helpers: readonly string[];
  /** Steps whose read a kernel with the bug answers differently from the golden output. */
  readonly differs: readonly number[];
  /** Steps xfs_io cannot run exactly as the scenario says (a comment, or a command with a note). */
  readonly inexact: readonly number[];
}

/**
 * The scenario as an fstests test.  `upstream`: the upstream model's answers;
 * `finding`: the first invariant the upstream model itself breaks (an
 * upstream finding), or null.
 */
export function toFstests(doc: ScenarioDoc, system: ResolvedSystem, upstream: readonly StepResult[], finding: Violation | null, seq = '999'): FstestsTest {
  const steps = doc.steps;
  const has = (p: (s: Step) => boolean): boolean => steps.some(p);
  const atomic = has((s) => s.op === 'pwrite' && (s.flags ?? []).includes('RWF_ATOMIC'));
  // An atomic write of more than one block needs the multi-block requirement (common/atomicwrites).
  const multiBlockAtomic = has((s) => s.op === 'pwrite' && (s.flags ?? []).includes('RWF_ATOMIC') && (s.iov?.reduce((n, v) => n + v.length, 0) ?? s.length ?? 0) > system.blockSize);
  const crash = has((s) => s.op === 'crash');
  const clone = has((s) => s.op === 'clone');
  const direct = has((s) => s.op === 'open' && s.flags.includes('O_DIRECT'));
  const modes = new Set(steps.flatMap((s) => (s.op === 'fallocate' && s.mode !== 0 ? s.mode : [])));
  const groups = ['auto', 'quick', 'rw',
    ...(clone ? ['clone'] : []), ...(crash ? ['shutdown'] : []), ...(atomic ? ['atomicwrites'] : []),
    ...(has((s) => s.op === 'mmap_write') ? ['mmap'] : []), ...(has((s) => s.op === 'fallocate' && s.mode === 0) ? ['prealloc'] : []),
    ...(modes.has('FALLOC_FL_PUNCH_HOLE') ? ['punch'] : []), ...(modes.has('FALLOC_FL_ZERO_RANGE') ? ['zero'] : []),
    ...(modes.has('FALLOC_FL_COLLAPSE_RANGE') ? ['collapse'] : []), ...(modes.has('FALLOC_FL_INSERT_RANGE') ? ['insert'] : []),
    ...(has((s) => s.op === 'encrypt_dir') ? ['encrypt'] : []), ...(has((s) => s.op === 'fiemap') ? ['fiemap'] : []),
  ];

  // The mkfs options and mount options of the scenario, as _scratch_mkfs and _scratch_mount take them.
  let mkfsArgs: string[] = [];
  let mkfsNote: string | null = null;
  let mountOpts: string[] = [...system.mount];
  try {
    mkfsArgs = mkfsCommand(system)[1].filter((a) => a !== '-f' && a !== '-F' && a !== '-q');
    mountOpts = [...system.mount, ...(kernelFs(system)?.mountOptions ?? [])];
  } catch (e) {
    mkfsNote = e instanceof Error ? e.message : String(e);
  }
  const mountArg = mountOpts.length > 0 ? ` "-o ${mountOpts.join(',')}"` : '';
  const cycleArg = mountOpts.length > 0 ? ` "${mountOpts.join(',')}"` : '';

  // The expectation runs alongside: after a crash, and from an upstream finding's step on, it decides the golden reads.
  const ex = new Expectation();
  const differs: number[] = [];
  const golden: string[] = [`QA output created by ${seq}`];
  const ioCmds = new Set<string>();
  const body: string[] = [];
  const xs = new XfsIoSession();
  let spec: string[] = [];
  let sessionGolden: string[] = [];
  const flush = (): void => {
    if (xs.lines.length > 0) {
      body.push('cmds=(', ...xs.lines, ')', `stdbuf -oL -eL $XFS_IO_PROG -x "\${cmds[@]}" 2>&1 | _filter_scratch | _iospec_filter '${spec.join(';')}'`);
      golden.push(...sessionGolden);
    }
    xs.reset();
    spec = [];
    sessionGolden = [];
  };
  const mark = (n: number, r: StepResult | undefined, want: ReadExpect | null, isRead: boolean): void => {
    // A step xfs_io does not run as the scenario says: its output is not judged (the reads after it are).
    const g = inexact.includes(n) || unjudged.has(n) || (isRead && tainted !== null) ? { spec: `${n}|x`, lines: [] } : goldenFor(n, r, want, isRead);
    xs.lines.push(`  -C "help quit"  # (ends step ${n} for _iospec_filter)`);
    spec.push(g.spec);
    sessionGolden.push(...g.lines);
  };
  let afterCrash = false;
  let godown = false;
  /** Steps xfs_io does not run exactly as the scenario says (marked [..] in their comment). */
  const inexact: number[] = [];
  /** The shell variables of the fscrypt keys added so far (encrypt_dir), re-added after each mount. */
  const keys = new Set<string>();
  const readdKeys = (): string[] => [...keys].map((k) => `_add_enckey $SCRATCH_MNT "$${k}" >> $seqres.full  # the key again: a mount starts with none`);
  /**
   * The first step after which the files differ from the scenario's: a write xfs_io ran
   * otherwise (per-iovec fills as one), or a model-only device error.  No read after it is judged.
   */
  let tainted: number | null = null;
  /** Steps on a file nothing made durable before a crash: whether it exists, and what it holds, is the crash's choice. */
  const unjudged = new Set<number>();
  steps.forEach((s, i) => {
    const n = i + 1;
    const r = upstream[i];
    const what = `step ${n}: ${describeStep(s)}${r !== undefined ? ` -> ${describeResult(r)}` : ''}`.replace(/\n/g, ' ');
    // The golden read: the model's, unless a crash or the finding makes the plain expectation the judge.
    const want = s.op === 'pread' ? ex.read(s) : null;
    ex.apply(s, r);
    if (s.op === 'crash') {
      if (xs.files.length > 0) {
        // Files are open at the crash (as in the model and the kernel runner): shut down from inside the session.
        xs.lines.push(`  -C "shutdown"  # ${what} (the files stay open, as in the scenario; godown's default, no log flush)`);
        ioCmds.add('shutdown');
        flush();
      } else {
        flush();
        body.push(`_scratch_shutdown  # ${what}`);
        godown = true;
      }
      body.push(`_scratch_cycle_mount${cycleArg}`);
      body.push(...readdKeys());
      afterCrash = true;
      return;
    }
    if (s.op === 'remount') {
      flush();
      if (afterCrash && steps[i - 1]?.op === 'crash') body.push(`# ${what}: done by the _scratch_cycle_mount above`);
      else body.push(`_scratch_cycle_mount${cycleArg}  # ${what}`, ...readdKeys());
      return;
    }
    if (s.op === 'mkdir') {
      flush();
      body.push(`mkdir $SCRATCH_MNT/${s.path}  # ${what}`);
      return;
    }
    if (s.op === 'device_error' && tainted === null) tainted = n;
    if (s.op === 'encrypt_dir') {
      // An fscrypt v2 policy: the key (one random key per key name, added to the file system's
      // keyring, again after each mount), then the policy on the empty directory (common/encrypt).
      flush();
      const key = keyVar(s.key ?? 'default');
      if (!keys.has(key)) {
        keys.add(key);
        body.push(`${key}=$(_generate_raw_encryption_key)`, `${key}_id=$(_add_enckey $SCRATCH_MNT "$${key}" | awk '/identifier/ { print $NF }')`);
      }
      const opts = [...(s.log2DataUnitSize !== undefined ? [`-s ${s.log2DataUnitSize}`] : []), ...(policyFlags(s.flags) !== 0 ? [`-f ${policyFlags(s.flags)}`] : [])];
      body.push(`_set_encpolicy $SCRATCH_MNT/${s.path} $${key}_id${opts.length > 0 ? ` ${opts.join(' ')}` : ''} >> $seqres.full 2>&1 || _fail "set_encpolicy failed"  # ${what}`);
      return;
    }
    if (r?.signal !== undefined) {
      xs.lines.push(`  # ${what} [not run: the model predicts ${r.signal}, which would end xfs_io]`);
      return;
    }
    // xfs_io's pwrite has no RWF_APPEND: the write goes through the same file opened O_APPEND
    // (the same IOCB_APPEND path: generic_write_checks moves it to EOF), closed after it.
    const appendFd = s.op === 'pwrite' && (s.flags ?? []).includes('RWF_APPEND') && !(s.flags ?? []).includes('RWF_NOAPPEND') ? xs.files.find((t) => t.fd === s.fd) : undefined;
    const { cmds, note } = s.op === 'pwrite' && appendFd !== undefined
      ? ((): { cmds: string[]; note: string | null } => {
          const w = command({ ...s, flags: (s.flags ?? []).filter((f) => f !== 'RWF_APPEND') }, (fd) => xs.path(fd));
          const o = command({ op: 'open', path: appendFd.path, fd: appendFd.fd, flags: [...appendFd.flags.filter((f) => f !== 'O_CREAT' && f !== 'O_TRUNC'), 'O_APPEND'] }, () => undefined);
          return { cmds: w.cmds.length === 0 ? [] : [...o.cmds, ...w.cmds, 'close'], note: w.note };
        })()
      : s.op === 'open' && s.flags.includes('O_DSYNC') && !s.flags.includes('O_SYNC')
        // xfs_io's open has -s (O_SYNC) but nothing for O_DSYNC: O_SYNC promises all O_DSYNC does, and more.
        ? { cmds: command({ ...s, flags: s.flags.map((f) => (f === 'O_DSYNC' ? 'O_SYNC' : f)) }, () => undefined).cmds, note: 'O_SYNC for O_DSYNC (xfs_io open has no option for O_DSYNC): the durability the golden output checks is the same' }
        : command(s, (fd) => xs.path(fd), xs.maps);
    // (A pwrite with RWF flags already carries -V 1: xfs_io passes them to pwritev2 only; kernel/export.ts.)
    const rewritten = cmds.map((c) => c.replaceAll('$MNT', '$SCRATCH_MNT'));
    const comment = `  # ${what}${note !== null ? ` [${note}]` : ''}${s.op === 'pread' && (s.bufOffset ?? 0) !== 0 ? ` [buffer offset ${s.bufOffset} not reproduced (xfs_io aligns its buffer)]` : ''}${s.op === 'clone' && (xs.files.find((t) => t.fd === s.src)?.flags ?? []).some((f) => f === 'O_WRONLY' || f === 'O_APPEND') ? ' [xfs_io reflink opens the source by name, read-only: the mode of the source fd is not reproduced]' : ''}`;
    // xfs_io's reflink opens the source by name, read-only: the checks of the source fd's mode are not reproduced.
    const srcMode = s.op === 'clone' && (xs.files.find((t) => t.fd === s.src)?.flags ?? []).some((f) => f === 'O_WRONLY' || f === 'O_APPEND');
    // A read into a buffer at an offset (xfs_io aligns its buffer): the direct I/O memory alignment check is not reproduced.
    const readBuf = s.op === 'pread' && (s.bufOffset ?? 0) !== 0;
    const exactEnough = (s.op === 'clone' && s.length === 0) || (s.op === 'open' && note !== null && note.startsWith('O_SYNC for O_DSYNC'));
    if ((note !== null && !exactEnough) || rewritten.length === 0 || srcMode || readBuf) inexact.push(n);
    if (rewritten.length === 0) {
      xs.lines.push(`  ${comment.trim()}`);
      return;
    }
    if (inexact.includes(n) && r?.errno === undefined && tainted === null && ['pwrite', 'fallocate', 'clone', 'mmap_write', 'ftruncate'].includes(s.op)) tainted = n;
    // A step xfs_io cannot run as the scenario says, which the kernel refuses: run as xfs_io can, it
    // would succeed and change the file the later reads are judged on. It is left out.
    if (inexact.includes(n) && r?.errno !== undefined) {
      xs.lines.push(`  # ${comment.trim().slice(2)} [not run: the kernel refuses it (${r.errno}), xfs_io would not]`);
      return;
    }
    const emit = (): void => {
      for (const c of rewritten) ioCmds.add(c.split(' ')[0]!);
      if (rewritten.some((c) => c.startsWith('pwrite') && / -A\b/.test(c))) ioCmds.add('pwrite -A');
      rewritten.forEach((c, j) => xs.lines.push(`  -C "${c}"${j === rewritten.length - 1 ? comment : ''}`));
    };
    if (s.op === 'open') {
      const prev = xs.find(s.fd);
      if (prev >= 0) xs.close(prev, `  # (step ${n} reopens ${s.fd}: its old file is closed first)`);
      emit();
      if (ex.crashed && (ex.files.get(s.path)?.lost ?? false)) unjudged.add(n);
      mark(n, r, null, false);
      if (r === undefined || r.errno === undefined) {
        xs.opened(s.fd, s.path, s.flags);
      }
      return;
    }
    if (s.op === 'sync') {
      emit();
      mark(n, r, null, false);
      return;
    }
    const idx = xs.find('fd' in s ? s.fd : '');
    if (idx < 0) {
      xs.lines.push(`  ${comment.trim()} [fd not open: the kernel returns EBADF; nothing to run]`);
      return;
    }
    xs.use(idx);
    emit();
    // The O_APPEND file of an RWF_APPEND write was closed: the current file is the last one again.
    if (appendFd !== undefined && rewritten.length > 0) xs.current = xs.files.length - 1;
    if (s.op === 'close') {
      xs.closed(idx);
      mark(n, r, null, false);
      return;
    }
    if (s.op === 'pread') {
      const model = modelRead(r);
      if (want !== null && want.known.length === 0 && want.atomic.length === 0 && want.min === 0 && ex.crashed) unjudged.add(n);
      const judged = (finding !== null && n >= finding.step) || ex.crashed;
      const g = judged && want !== null ? want : null;
      if (finding !== null && n === finding.step && r?.errno !== undefined && g !== null) {
        // The damage is the failure itself (a read that must succeed, integrity/no-false-checksum-error):
        // the golden output is the read a correct kernel returns.
        differs.push(n);
        mark(n, undefined, g, true);
        return;
      }
      if (finding !== null && n >= finding.step && r?.errno === undefined && g !== null && !sameRead(g, model) && !consistent(g, model)) differs.push(n);
      else if (g !== null && r?.errno === undefined && consistent(g, model)) ex.pin(s, model);
      mark(n, r, g, true);
      return;
    }
    mark(n, r, null, false);
  });
  flush();

  // The requirements, in the order fstests tests list them.
  const helpers = new Set<string>(['_begin_fstest', '_require_scratch', '_scratch_mkfs', '_scratch_mount', '_filter_scratch', '_require_command', '_exit']);
  const req: string[] = ['_require_scratch'];
  if (direct) req.push('_require_odirect');
  if (clone) req.push('_require_scratch_reflink');
  if (crash) req.push('_require_scratch_shutdown');
  // A device without atomic write units: the file system does them in software (XFS's COW path),
  // which the multi-block check finds (common/atomicwrites); the plain one asks the block device.
  const swAtomic = multiBlockAtomic || system.device.atomicWriteUnitMax === 0;
  if (atomic) req.push(swAtomic ? '_require_scratch_write_atomic_multi_fsblock' : '_require_scratch_write_atomic');
  // fscrypt v2 policies, one requirement per kind the scenario sets (common/encrypt).
  const policies = new Set<string>();
  for (const s of steps) {
    if (s.op !== 'encrypt_dir') continue;
    policies.add(['-v 2', ...(policyFlags(s.flags) !== 0 ? [`-f ${policyFlags(s.flags)}`] : []), ...(s.log2DataUnitSize !== undefined ? [`-s ${s.log2DataUnitSize}`] : [])].join(' '));
  }
  for (const p of policies) req.push(`_require_scratch_encryption ${p}`);
  if (policies.size > 0) for (const h of ['_add_enckey', '_set_encpolicy', '_generate_raw_encryption_key']) helpers.add(h);
  for (const c of [...ioCmds].filter((c) => !['open', 'close', 'file', 'help'].includes(c)).sort()) req.push(`_require_xfs_io_command ${c.includes(' ') ? c.split(' ').map((x) => `"${x}"`).join(' ') : `"${c}"`}`);
  req.push('_require_command "$(type -P stdbuf)" stdbuf');
  for (const r of req) helpers.add(r.split(' ')[0]!);
  if (godown) helpers.add('_scratch_shutdown');
  if (crash) helpers.add('_scratch_cycle_mount');
  if (has((s) => s.op === 'remount')) helpers.add('_scratch_cycle_mount');

  const v = doc.violates;
  const variant = doc.variant !== undefined && Object.keys(doc.variant).length > 0 ? Object.keys(doc.variant).join(', ') : null;
  const about: string[] = [];
  if (v !== undefined) about.push(`iospec: ${v.invariant} at step ${v.step}${variant !== null ? ` on the model variant ${variant}` : ''}`, `  ${v.detail}`);
  if (finding !== null) {
    about.push(`Upstream finding: the upstream model (as the kernel it mirrors) breaks ${finding.invariant} at step ${finding.step}:`, `  ${finding.detail}`);
    about.push(differs.length > 0
      ? `A kernel with this bug prints other output than the golden output for the read${differs.length > 1 ? 's' : ''} of step ${differs.join(', ')} (the golden output is what the invariant demands).`
      : `The damage is not in the bytes this test reads (statx, bio or allocation properties): this test passes on a kernel with the bug.`);
  } else if (variant !== null) about.push(`The kernel is upstream, where the model predicts the golden output: a kernel with the bug of ${variant} differs.`);
  const fs = system.fs;
  const out: string[] = [
    '#! /bin/bash',
    '# SPDX-License-Identifier: GPL-2.0',
    `# FS QA Test No. ${seq}`,
    '#',
    `# ${doc.name ?? 'iospec scenario'}`,
    ...about.map((l) => `# ${l}`),
    '#',
    '# Exported by `iospec export --fstests` (iospec: an executable specification of the Linux file',
    '# I/O paths).  Each step runs as an xfs_io one-shot (-C) command, followed by',
    '# "help quit" which marks its end for _iospec_filter; the comment after it is the step and the',
    '# upstream model\'s answer.  The golden output is what a correct kernel prints: the length and',
    `# bytes of each read${crash ? ' (after the crash only what fsync, sync or O_SYNC made durable, and whether' : ''}`,
    ...(crash ? ['# each RWF_ATOMIC write is all old or all new)'] : []),
    '# and the error of each step that fails.',
    ...(system.device.logicalBlockSize !== 512 || sysfsNotes(system).length > 0 ? [`# The scenario's device: ${sysfsNotes(system).join(', ')}; this test runs on SCRATCH_DEV as it is.`] : []),
    ...(tainted !== null ? [`# From step ${tainted} on the files may differ from the scenario's (xfs_io cannot do that step as it says): the reads after it are not judged.`] : []),
    ...(inexact.length > 0 ? [`# Steps not run exactly as the scenario says (see the [..] in their comments): ${inexact.join(', ')}. Their own output`, '# is not judged; the reads after them are, so a difference there may come from the test, not the kernel.'] : []),
    ...(mkfsNote !== null ? [`# mkfs: ${mkfsNote}; _scratch_mkfs makes the default.`] : []),
    '#',
    '. ./common/preamble',
    `_begin_fstest ${groups.join(' ')}`,
    '',
    '. ./common/filter',
    ...(clone ? ['. ./common/reflink'] : []),
    ...(atomic ? ['. ./common/atomicwrites'] : []),
    ...(has((s) => s.op === 'encrypt_dir') ? ['. ./common/encrypt'] : []),
    '',
    `[ "$FSTYP" = "${fs}" ] || _notrun "an iospec scenario for ${fs}"`,
    ...req,
    '',
    '# _iospec_filter SPEC: judge a session\'s output step by step (see iospec kernel/export-fstests.ts)',
    `_iospec_filter() { awk -v spec="$1" -v errs='${Object.values(STRERROR).join('|')}' -v full="$seqres.full" '${FILTER_AWK.trim()}'; }`,
    '',
    ...(system.device.fill === 0
      ? []
      : [`# A used disk: every byte ${hexByte(system.device.fill)} before mkfs (which must not discard it).`, `$XFS_IO_PROG -d -c "pwrite -q -S ${hexByte(system.device.fill)} -b 1m 0 $(blockdev --getsize64 $SCRATCH_DEV)" $SCRATCH_DEV >> $seqres.full 2>&1`]),
    `_scratch_mkfs${mkfsArgs.length > 0 ? ` ${mkfsArgs.join(' ')}` : ''} >> $seqres.full 2>&1 || _fail "mkfs failed"`,
    `_scratch_mount${mountArg} >> $seqres.full 2>&1`,
    '',
    ...body,
    '',
    '# success, all done',
    '_exit 0',
  ];
  return { seq, dir: `tests/${fs}`, script: out.join('\n') + '\n', golden: golden.join('\n') + '\n', helpers: [...helpers].sort(), differs, inexact };
}

/** The device settings of the scenario a scratch device need not have. */
function sysfsNotes(system: ResolvedSystem): string[] {
  return [`logical block size ${system.device.logicalBlockSize}`, `max_sectors_kb ${system.device.maxSectorsKb}`, `write cache ${system.device.writeCache ? 'on' : 'off'}`];
}

/** The model's read fits the expectation (its length in range, its bytes where the expectation knows them, no torn atomic write). */
function consistent(want: ReadExpect, model: ReadExpect): boolean {
  const ret = model.min;
  if (ret < want.min || ret > want.max) return false;
  const got = model.known[0]?.data ?? [];
  for (const k of want.known) if (JSON.stringify(slice(got, k.a, Math.min(k.b, ret))) !== JSON.stringify(slice(k.data, 0, Math.min(k.b, ret) - k.a))) return false;
  for (const k of want.atomic) {
    const g = slice(got, k.a, Math.min(k.b, ret));
    const w = slice(k.data, 0, Math.min(k.b, ret) - k.a);
    const same = JSON.stringify(g) === JSON.stringify(w);
    let anyNew = false;
    let at = 0;
    for (const x of g) {
      for (const y of slice(w, at, at + x.n)) if (y.v === x.v) anyNew = true;
      at += x.n;
    }
    if (!same && anyNew) return false;
  }
  return true;
}

/** The fstests test for a loaded scenario: the upstream model's answers and its own violation, if any. */
export function fstestsFor(sc: LoadedScenario, seq = '999'): FstestsTest {
  const upstream = runOnModel({ ...sc, knobs: UPSTREAM }).results;
  const finding = runChecked(sc.system, UPSTREAM, sc.doc.steps, INVARIANTS).violation;
  return toFstests(sc.doc, sc.system, upstream, finding, seq);
}

/**
 * Reproducers: a scenario as an fsx operations file, for `fsx --replay-ops`
 * (fstests ltp/fsx.c: read_op — one operation per line, `name arg0 arg1
 * arg2 [arg3] [keep_size]`, `#` comments).  fsx works on one file, with its
 * own data pattern and its own check of every read: the operations on the
 * scenario's first file map (write, read, mapwrite, truncate, fallocate and
 * its modes, clone_range within the file);
 * everything else — other files, crashes, remounts, statx, fsync (fsx runs
 * its fsync op only in integrity mode, over dm-log-writes), flags fsx has no
 * per-operation switch for — is written as a comment saying what is
 * missing, never dropped.  Every exported file has been replayed by the real
 * fsx (test/fsx.test.ts).
 */
import { match } from 'ts-pattern';
import type { ScenarioDoc, Step } from '../scenario/schema.ts';
import type { StepResult } from '../model/system.ts';
import { describeStep } from '../checker/replay.ts';

const hx = (n: number): string => `0x${n.toString(16)}`;

const FSYNC_NOTE = 'fsx runs its fsync op only in integrity mode (-i LOGDEV -P DIR, a dm-log-writes device), where the line is';

/** fsx's defaults: -l (the largest file) and -o (the largest operation; a read's buffer). */
const FSX_MAXFILELEN = 256 * 1024;
const FSX_MAXOPLEN = 64 * 1024;
/**
 * fsx keeps a copy of the whole file in memory (and its -l and -o are
 * ints): operations past 64 MiB stay comments, so that a replay stays cheap.
 */
const FSX_LARGEST = 64 << 20;

/** The byte range a step covers in fsx's terms (offset, length), or [0, 0]. */
function extent(s: Step): [number, number] {
  return match<Step, [number, number]>(s)
    .with({ op: 'pwrite' }, (w) => [Math.max(0, w.offset), w.iov !== undefined ? w.iov.reduce((n, v) => n + v.length, 0) : w.length ?? 0])
    .with({ op: 'pread' }, { op: 'mmap_write' }, { op: 'fallocate' }, (x) => [Math.max(0, x.offset), x.length])
    .with({ op: 'ftruncate' }, (t) => [0, t.length])
    .with({ op: 'clone' }, (c) => [c.offset, c.length])
    .otherwise(() => [0, 0]);
}

/** Is the step beyond what fsx can hold (FSX_LARGEST)? */
function tooLarge(s: Step): boolean {
  const [off, len] = extent(s);
  return off + len > FSX_LARGEST;
}

/**
 * The fsx options this scenario's operations file needs (before
 * `--replay-ops FILE TESTFILE`): -N, -Z for O_DIRECT with -r/-w at the
 * device's logical block size (fsx then rounds offsets and lengths down to
 * it, so an unaligned direct I/O the kernel would refuse is replayed
 * aligned), and -l/-o when an
 * operation goes past fsx's largest file or operation (fsx would wrap the
 * offset or overrun its read buffer).
 */
export function fsxArgs(doc: ScenarioDoc): string[] {
  const first = doc.steps.find((s) => s.op === 'open');
  const direct = first?.op === 'open' && first.flags.includes('O_DIRECT');
  const align = doc.system.device?.logicalBlockSize ?? 512;
  let end = 0;
  let op = 0;
  for (const s of doc.steps) {
    if (tooLarge(s)) continue;
    const [off, len] = extent(s);
    end = Math.max(end, off + len);
    if (s.op !== 'ftruncate') op = Math.max(op, len);
  }
  return [
    '-N', String(doc.steps.length),
    // fsx's own O_DIRECT buffers and offsets are aligned only to -r/-w (default 1: EINVAL at the first direct write).
    ...(direct ? ['-Z', '-r', String(align), '-w', String(align)] : []),
    ...(end > FSX_MAXFILELEN ? ['-l', String(end)] : []),
    ...(op > FSX_MAXOPLEN ? ['-o', String(op)] : []),
  ];
}

/** The fsx line for one step on the traced file, or why there is none. */
function fsxLine(s: Step, size: number): { line: string | null; note: string | null } {
  return match(s)
    .with({ op: 'pwrite' }, (w) => {
      const len = w.iov !== undefined ? w.iov.reduce((n, v) => n + v.length, 0) : w.length ?? 0;
      const flags = (w.flags ?? []).filter((f) => f !== 'RWF_HIPRI');
      // fsx has a write_atomic op (-Z only; it clamps the length to the file's atomic write unit
      // range, rounds it down to a power of two and aligns the offset); the line stays a plain
      // write, which test/export.test.ts's grammar expects: change "write" to "write_atomic" by hand.
      const notes = [
        ...(flags.includes('RWF_ATOMIC') ? ['as a plain write: fsx\'s write_atomic op would clamp and realign it to the file\'s atomic write units'] : []),
        ...(flags.filter((f) => f !== 'RWF_ATOMIC').length > 0 ? [`fsx has no per-write ${flags.filter((f) => f !== 'RWF_ATOMIC').join('|')}`] : []),
      ];
      return { line: `write ${hx(w.offset)} ${hx(len)} ${hx(size)}`, note: notes.length > 0 ? notes.join('; ') : null };
    })
    .with({ op: 'pread' }, (r) => ({ line: `read ${hx(r.offset)} ${hx(r.length)} ${hx(size)}`, note: null }))
    .with({ op: 'mmap_write' }, (m) => ({ line: `mapwrite ${hx(m.offset)} ${hx(m.length)} ${hx(size)}`, note: null }))
    .with({ op: 'ftruncate' }, (t) => ({ line: `truncate 0x0 ${hx(t.length)} ${hx(size)}`, note: null }))
    // fsx's fsync op marks a dm-log-writes device after the fsync (mark_log): without
    // integrity mode (-i LOGDEV -P DIR) it fails ("dmsetup mark failed", exit 211).
    .with({ op: 'fsync' }, () => ({ line: null, note: `${FSYNC_NOTE}: fsync 0x0 0x0 0x0` }))
    .with({ op: 'fdatasync' }, () => ({ line: null, note: `${FSYNC_NOTE}, and calls fsync, not fdatasync: fsync 0x0 0x0 0x0` }))
    .with({ op: 'fallocate' }, (f) => {
      const m = f.mode === 0 ? [] : f.mode;
      const keep = m.includes('FALLOC_FL_KEEP_SIZE');
      const rest = m.filter((x) => x !== 'FALLOC_FL_KEEP_SIZE');
      const args = `${hx(f.offset)} ${hx(f.length)} ${hx(size)}`;
      const name = rest.length === 0 ? 'fallocate'
        : rest.length > 1 ? null
        : match(rest[0]!)
            .with('FALLOC_FL_PUNCH_HOLE', () => 'punch_hole')
            .with('FALLOC_FL_ZERO_RANGE', () => 'zero_range')
            .with('FALLOC_FL_COLLAPSE_RANGE', () => 'collapse_range')
            .with('FALLOC_FL_INSERT_RANGE', () => 'insert_range')
            .otherwise(() => null);
      if (name === null) return { line: null, note: `fsx has no operation for fallocate mode ${m.join('|')}` };
      return { line: `${name} ${args}${keep && name !== 'punch_hole' ? ' keep_size' : ''}`, note: null };
    })
    // Not an fsx operation on its one file (the caller says why in a comment).
    .with(
      { op: 'open' }, { op: 'close' }, { op: 'mkdir' }, { op: 'encrypt_dir' }, { op: 'clone' }, { op: 'statx' }, { op: 'fiemap' }, { op: 'setflags' }, { op: 'sync' },
      { op: 'crash' }, { op: 'remount' }, { op: 'writeback' }, { op: 'complete' }, { op: 'journal_commit' }, { op: 'reclaim' }, { op: 'device_error' },
      () => ({ line: null, note: null }),
    )
    .exhaustive();
}

/** The fsx operations file; `results` (the upstream model's answers) go in comments. */
export function toFsxOps(doc: ScenarioDoc, results: readonly StepResult[] | null): string {
  const first = doc.steps.find((s) => s.op === 'open');
  const path = first?.op === 'open' ? first.path : 'f';
  const out: string[] = [
    `# ${doc.name ?? 'iospec scenario'}`,
    '# Exported by `iospec export --fsx`: the operations on file ' + path + ', for fsx (fstests ltp/fsx.c):',
    `#   fsx ${fsxArgs(doc).join(' ')} --replay-ops THIS_FILE $MNT/${path}`,
    '# fsx writes its own data pattern and checks every read against its own copy of the file;',
    '# lines starting with # are what fsx cannot express (the step is kept here as a comment).',
  ];
  const fdPath = new Map<string, string>();
  let size = 0;
  doc.steps.forEach((s, i) => {
    const r = results?.[i];
    const what = `step ${i + 1}: ${describeStep(s)}`;
    if (s.op === 'open') {
      fdPath.set(s.fd, s.path);
      out.push(`# ${what}${s.path !== path ? ' (another file: not in fsx)' : ''}`);
      return;
    }
    const onFile = 'fd' in s && typeof s.fd === 'string' && fdPath.get(s.fd) === path;
    if (s.op === 'clone') {
      const src = fdPath.get(s.src);
      if (s.srcOffset < 0 || s.offset < 0) out.push(`# ${what} (not in fsx: a negative offset)`);
      else if (onFile && src === path && s.length > 0) out.push(`# ${what}`, `clone_range ${hx(s.srcOffset)} ${hx(s.length)} ${hx(s.offset)} ${hx(size)}`);
      else out.push(`# ${what} (not in fsx: fsx clones within its one file, with an explicit length)`);
      return;
    }
    const big = onFile && tooLarge(s);
    const { line, note } = big ? { line: null, note: `past ${FSX_LARGEST} bytes: fsx keeps a copy of the whole file in memory` } : onFile ? fsxLine(s, size) : { line: null, note: null };
    if (line === null) {
      const why = note ?? match(s.op)
        .with('crash', () => 'no power failure in fsx')
        .with('remount', () => 'no remount in fsx')
        .with('writeback', 'complete', 'journal_commit', 'reclaim', () => 'a model-only step')
        .with('device_error', () => 'no failing sectors in fsx')
        .otherwise(() => (onFile ? `fsx has no ${s.op}` : 'another file, or no file: not in fsx'));
      out.push(`# ${what} (${why})`);
    } else {
      // A trailing comment would not parse (read_op takes only flag words after the arguments).
      out.push(`# ${what}${note !== null ? ` (${note})` : ''}`, line);
    }
    // Track the size fsx logs as its third argument (the model's answer, when known).
    if (onFile && r !== undefined && r.errno === undefined) {
      if (s.op === 'pwrite') size = Math.max(size, s.offset + (r.ret ?? 0));
      if (s.op === 'ftruncate') size = s.length;
    }
  });
  return out.flatMap(wrapComment).join('\n') + '\n';
}

/** fsx reads a line into a 256-byte buffer (fgets): a longer comment would go on as an operation. */
const FSX_LINE = 200;

function wrapComment(line: string): string[] {
  if (!line.startsWith('#') || line.length <= FSX_LINE) return [line];
  const out: string[] = [];
  let rest = line;
  while (rest.length > FSX_LINE) {
    const cut = rest.lastIndexOf(' ', FSX_LINE);
    const at = cut > 20 ? cut : FSX_LINE;
    out.push(rest.slice(0, at));
    rest = `#   ${rest.slice(at).trimStart()}`;
  }
  out.push(rest);
  return out;
}

/**
 * Reproducers: a scenario or counterexample as an xfs_io script, the tool
 * kernel developers run.  The script makes the same loop device and file
 * system as the kernel runner, then runs the steps as xfs_io commands, one
 * xfs_io session between remounts; each command carries the step it comes
 * from and the model's answer as a comment.  Steps xfs_io cannot express
 * (model-only steps, per-iovec fills, buffer offsets, flags it has no
 * option for) are marked, not silently dropped.
 */
import { match } from 'ts-pattern';
import type { ScenarioDoc, Step } from '../scenario/schema.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import type { StepResult } from '../model/system.ts';
import { describeResult, describeStep } from '../checker/replay.ts';
import { hexByte } from '../model/lib/content.ts';
import { mkfsCommand, sysfsSettings } from './runner.ts';


/** xfs_io open options for the open(2) flags; the flags it has no option for. */
function openOptions(flags: readonly string[]): { opts: string; missing: string[] } {
  const map: Record<string, string> = { O_APPEND: 'a', O_DIRECT: 'd', O_CREAT: 'f', O_RDONLY: 'r', O_SYNC: 's', O_TRUNC: 't', O_NONBLOCK: 'n' };
  let opts = '';
  const missing: string[] = [];
  for (const f of flags) {
    if (f === 'O_RDWR') continue;
    const o = map[f];
    if (o !== undefined) opts += o;
    else missing.push(f);
  }
  return { opts: opts === '' ? '' : `-${opts}`, missing };
}

/** pwrite options for RWF flags (xfs_io pwrite -D, -N; -A for RWF_ATOMIC since xfsprogs 6.12, which the script checks for). */
function rwfOptions(flags: readonly string[]): { opts: string; missing: string[] } {
  const map: Record<string, string> = { RWF_DSYNC: 'D', RWF_NOWAIT: 'N', RWF_ATOMIC: 'A' };
  let opts = '';
  const missing: string[] = [];
  for (const f of flags) {
    const o = map[f];
    if (o !== undefined) opts += ` -${o}`;
    else missing.push(f);
  }
  // xfs_io hands the RWF flags only to pwritev2, which it calls with -V (vectored I/O) alone;
  // without -V it calls pwrite64 and the flags are lost (io/pwrite.c).
  return { opts: opts === '' ? '' : `${opts} -V 1`, missing };
}

/** The span of the one mapping kept per file, as the kernel runner's helper maps it (64 GiB, never all touched). */
const MAP_SPAN = 2 ** 36;

/**
 * An xfs_io command for one step, or null with the reason it has none.
 * `maps`: the session's mappings (xfs_io's map table, file path -> entry):
 * the first store to a file maps it and later ones select that mapping, so
 * a page stays mapped writable between stores, as a program that keeps its
 * mapping (the model and the kernel runner) has it.
 */
export function command(s: Step, path: (fd: string) => string | undefined, maps?: Map<string, number>): { cmds: string[]; note: string | null } {
  return match(s)
    .with({ op: 'open' }, (o) => {
      const { opts, missing } = openOptions(o.flags);
      return { cmds: [`open ${opts} $MNT/${o.path}`.replace('  ', ' ')], note: missing.length > 0 ? `xfs_io open has no option for ${missing.join(', ')}` : null };
    })
    .with({ op: 'close' }, () => ({ cmds: ['close'], note: null }))
    .with({ op: 'pwrite' }, (w) => {
      const { opts, missing } = rwfOptions(w.flags ?? []);
      if (w.offset === -1) return { cmds: [], note: 'a write at the file position (write(2)): xfs_io pwrite takes an offset' };
      if (w.iov !== undefined) {
        const total = w.iov.reduce((n, v) => n + v.length, 0);
        return { cmds: [`pwrite -q -S ${hexByte(w.iov[0]!.fill)} -b ${total}${opts} ${w.offset} ${total}`], note: `one buffer of ${hexByte(w.iov[0]!.fill)} instead of ${w.iov.length} iovecs with their own fills` };
      }
      const notes = [
        ...(missing.length > 0 ? [`no xfs_io option for ${missing.join(', ')}`] : []),
        ...((w.bufOffset ?? 0) !== 0 ? [`buffer offset ${w.bufOffset} not reproduced (xfs_io aligns its buffer)`] : []),
      ];
      return { cmds: [`pwrite -q -S ${hexByte(w.fill!)} -b ${w.length}${opts} ${w.offset} ${w.length}`], note: notes.length > 0 ? notes.join('; ') : null };
    })
    .with({ op: 'pread' }, (r) => r.offset === -1 ? { cmds: [], note: 'a read at the file position (read(2)): xfs_io pread takes an offset' } : ({ cmds: [`pread -v -b ${Math.max(1, r.length)} ${r.offset} ${r.length}`], note: (r.flags ?? []).length > 0 ? `xfs_io pread has no option for ${r.flags!.join(', ')}` : null }))
    .with({ op: 'fsync' }, () => ({ cmds: ['fsync'], note: null }))
    .with({ op: 'fdatasync' }, () => ({ cmds: ['fdatasync'], note: null }))
    .with({ op: 'ftruncate' }, (t) => ({ cmds: [`truncate ${t.length}`], note: null }))
    .with({ op: 'fallocate' }, (f) => {
      const m = f.mode === 0 ? [] : f.mode;
      const keep = m.includes('FALLOC_FL_KEEP_SIZE');
      const rest = m.filter((x) => x !== 'FALLOC_FL_KEEP_SIZE');
      const range = `${f.offset} ${f.length}`;
      if (rest.length === 0) return { cmds: [`falloc${keep ? ' -k' : ''} ${range}`], note: null };
      if (rest.length === 1) {
        const one = match(rest[0]!)
          .with('FALLOC_FL_PUNCH_HOLE', () => (keep ? `fpunch ${range}` : null))
          .with('FALLOC_FL_ZERO_RANGE', () => `fzero${keep ? ' -k' : ''} ${range}`)
          .with('FALLOC_FL_COLLAPSE_RANGE', () => (keep ? null : `fcollapse ${range}`))
          .with('FALLOC_FL_INSERT_RANGE', () => (keep ? null : `finsert ${range}`))
          .with('FALLOC_FL_UNSHARE_RANGE', () => (keep ? null : `funshare ${range}`))
          .otherwise(() => null);
        if (one !== null) return { cmds: [one], note: null };
      }
      return { cmds: [], note: `no xfs_io command for fallocate mode ${m.join('|')}` };
    })
    .with({ op: 'clone' }, (c) => {
      const src = path(c.src);
      if (src === undefined) return { cmds: [], note: `source ${c.src} is not open` };
      return { cmds: [`reflink $MNT/${src} ${c.srcOffset} ${c.offset} ${c.length}`], note: c.length === 0 ? 'xfs_io reflink passes length 0 as "to EOF", as FICLONERANGE does' : null };
    })
    .with({ op: 'mmap_write' }, (m) => {
      const store = `mwrite -S ${hexByte(m.fill)} ${m.offset} ${m.length}`;
      const p = path(m.fd);
      if (maps === undefined || p === undefined) {
        const end = Math.ceil((m.offset + m.length) / 4096) * 4096;
        return { cmds: [`mmap -w 0 ${end}`, store, 'munmap'], note: null };
      }
      const kept = maps.get(p);
      if (kept !== undefined) return { cmds: [`mmap ${kept}`, store], note: null };
      maps.set(p, maps.size);
      return { cmds: [`mmap -w 0 ${MAP_SPAN}`, store], note: null };
    })
    .with({ op: 'statx' }, () => ({ cmds: ['statx -r -m all'], note: null }))
    .with({ op: 'fiemap' }, () => ({ cmds: ['fiemap -v'], note: null }))
    .with({ op: 'setflags' }, (x) => ({ cmds: [], note: `xfs_io has no FS_IOC_SETFLAGS; use chattr ${x.flags.includes('FS_NOCOW_FL') ? '+C' : '-C'} (e2fsprogs) on the file` }))
    .with({ op: 'sync' }, () => ({ cmds: ['syncfs'], note: null }))
    .with({ op: 'crash' }, (c) => ({
      cmds: ['shutdown'],
      note: c.keep !== undefined && c.keep !== 'all' ? `the model kept ${JSON.stringify(c.keep)} of the unflushed writes; a loop device keeps them all, so the outcome may differ` : null,
    }))
    .with({ op: 'mkdir' }, { op: 'remount' }, { op: 'encrypt_dir' }, () => ({ cmds: [], note: null }))
    .with({ op: 'writeback' }, { op: 'complete' }, { op: 'journal_commit' }, { op: 'reclaim' }, (x) => ({ cmds: [], note: `${x.op} is a model-only step (no system call does exactly this)` }))
    .with({ op: 'device_error' }, () => ({ cmds: [], note: 'device_error is not exported (iospec run --kernel fails these sectors through its FUSE device; elsewhere: dm-error or dm-flakey over the blocks of this range)' }))
    .exhaustive();
}

/** The first xfsprogs release whose `pwrite` takes -A (RWF_ATOMIC): "xfs_io: add RWF_ATOMIC support to pwrite" (ee6c5941352a). */
export const XFS_IO_ATOMIC_VERSION = '6.12';

/**
 * The awk program that reads one xfs_io session's output and gives each
 * pread a verdict against the model's answer instead of a hex dump.  Each
 * pread is followed in the session by `help quit`, whose one line ("quit --
 * exit the program") closes the read; `want` lists the expected answers,
 * "STEP|E:ERRNO" or "STEP|R:RET:VAL*LEN,VAL*LEN" (hex values), in order.
 * The file table that `file N` prints is dropped; other lines (statx,
 * fiemap, errors of other commands) pass through.
 */
const CHECK_READS_AWK = String.raw`
BEGIN {
  nw = split(want, W, ";"); k = 0; nb = 0; err = ""; inread = 0; bad = 0
  E["EINVAL"] = "Invalid argument"; E["EIO"] = "Input/output error"; E["EAGAIN"] = "Resource temporarily unavailable"
  E["EBADF"] = "Bad file descriptor"; E["EFAULT"] = "Bad address"; E["EOPNOTSUPP"] = "Operation not supported"
  E["ENOSPC"] = "No space left on device"; E["EFBIG"] = "File too large"; E["EISDIR"] = "Is a directory"
}
/^[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]:  / {
  for (p = 12; p < length($0) && substr($0, p, 1) != " "; p += 3) got[nb++] = substr($0, p, 2)
  inread = 1; next
}
/^read [0-9]+\/[0-9]+ bytes at offset / { split($2, rn, "/"); readn = rn[1] + 0; inread = 1; next }
/^[0-9.]+ [A-Za-z]+, [0-9]+ ops; / { if (inread) next }
/^[[ ][0-9][0-9][0-9][] ] / { next }
/^pread: / { err = substr($0, 8); inread = 1; next }
/^quit -- exit the program$/ {
  k++; split(W[k], s, "|"); step = s[1]; ex = s[2]
  if (substr(ex, 1, 2) == "E:") {
    name = substr(ex, 3); text = (name in E) ? E[name] : name
    if (err == text) print "step " step ": pread fails with " err ", as the model predicts (" name ")"
    else { bad++; print "step " step ": MISMATCH: pread " (err != "" ? "fails with " err : "returns " readn " bytes") ", the model says " name }
  } else {
    split(substr(ex, 3), r, ":"); ret = r[1] + 0
    if (err != "") { bad++; print "step " step ": MISMATCH: pread fails with " err ", the model says it returns " ret }
    else if (readn != ret) { bad++; print "step " step ": MISMATCH: pread returns " readn " bytes, the model says " ret }
    else {
      nr = split(r[2], runs, ","); at = 0; diff = -1
      for (i = 1; i <= nr && diff < 0; i++) {
        split(runs[i], vl, "*")
        for (j = 0; j < vl[2] + 0 && at < readn; j++) { if (got[at] != vl[1]) { diff = at; want8 = vl[1]; break } at++ }
      }
      if (diff >= 0) { bad++; print "step " step ": MISMATCH: byte " diff " reads 0x" got[diff] ", the model says 0x" want8 }
      else print "step " step ": pread returns " readn " bytes, as the model predicts"
    }
  }
  nb = 0; err = ""; readn = 0; inread = 0; split("", got); next
}
{ print }
END { exit bad > 0 ? 1 : 0 }
`;

/**
 * One xfs_io session's commands and xfs_io's file table as they run: an
 * open appends and becomes current, a close removes the current file and
 * makes the next one (or the new last one) current, `file N` switches
 * (xfsprogs io/open.c, io/file.c).
 */
export class XfsIoSession {
  lines: string[] = [];
  files: Array<{ readonly fd: string; readonly path: string; readonly flags: readonly string[] }> = [];
  current = -1;
  /** xfs_io's map table: the entry each mapped file has (kept until the session ends). */
  maps = new Map<string, number>();

  find(fd: string): number {
    return this.files.findIndex((t) => t.fd === fd);
  }

  path(fd: string): string | undefined {
    return this.files.find((t) => t.fd === fd)?.path;
  }

  /** Make file `idx` current (a `file N` command when it is not). */
  use(idx: number): void {
    if (idx !== this.current) this.lines.push(`  -C "file ${idx}"`);
    this.current = idx;
  }

  close(idx: number, comment = ''): void {
    this.use(idx);
    this.lines.push(`  -C "close"${comment}`);
    this.closed(idx);
  }

  /** The current file, `idx`, was closed (its command already in the session). */
  closed(idx: number): void {
    this.files.splice(idx, 1);
    this.current = this.files.length === 0 ? -1 : Math.min(idx, this.files.length - 1);
  }

  opened(fd: string, path: string, flags: readonly string[]): void {
    this.files.push({ fd, path, flags });
    this.current = this.files.length - 1;
  }

  /** A new session: no commands, no open files. */
  reset(): void {
    this.lines = [];
    this.files = [];
    this.current = -1;
    this.maps = new Map();
  }
}

/** The model's answer to a read, as check_reads expects it; null when there is none to compare with. */
function readWant(step: number, r: StepResult | undefined): string | null {
  if (r === undefined || r.unsupported !== undefined || r.internal !== undefined || r.signal !== undefined) return null;
  if (r.errno !== undefined) return `${step}|E:${r.errno}`;
  const runs = (r.data ?? []).map(([v, n]) => `${v.toString(16).padStart(2, '0')}*${n}`).join(',');
  return `${step}|R:${r.ret ?? 0}:${runs}`;
}

/** The scenario as a bash script driving xfs_io (run as root, on a scratch machine). */
export function toXfsIo(doc: ScenarioDoc, system: ResolvedSystem, results: readonly StepResult[] | null): string {
  const [mkfs, args] = mkfsCommand(system);
  const atomic = doc.steps.some((s) => s.op === 'pwrite' && (s.flags ?? []).includes('RWF_ATOMIC'));
  const verdicts = results !== null;
  const out: string[] = [
    '#!/bin/bash',
    `# ${doc.name ?? 'iospec scenario'}`,
    ...(doc.violates !== undefined ? [`# iospec: ${doc.violates.invariant} at step ${doc.violates.step}${doc.variant !== undefined && Object.keys(doc.variant).length > 0 ? ` on variant ${Object.keys(doc.variant).join(', ')}; the kernel is upstream, so it should not show it` : ''}`, `#   ${doc.violates.detail}`] : []),
    '# Exported by `iospec export --xfs-io`; the comment after each command is what the upstream model',
    `# predicts this kernel answers${verdicts ? ', and every read prints its verdict against that prediction (exit 1 if one differs)' : ''}.`,
    '# Run as root on a scratch machine. Needs losetup, mkfs and xfs_io (xfsprogs) with -C: a -c command',
    '# runs once on every open file, a -C command once, on the current one.',
    'set -u',
    ...(atomic
      ? [
          `if ! xfs_io -r -C "help pwrite" /dev/null 2>/dev/null | grep -q -- '^ -A'; then`,
          `  echo "this scenario makes atomic writes: it needs xfs_io pwrite -A (xfsprogs ${XFS_IO_ATOMIC_VERSION} or later; here: $(xfs_io -V))."`,
          '  echo "Run its C reproducer instead: npx iospec export --c FILE > repro.c && cc -o repro repro.c && ./repro"',
          '  exit 2',
          'fi',
        ]
      : []),
    'IMG=$(mktemp /tmp/iospec.XXXXXX.img); MNT=$(mktemp -d /tmp/iospec.XXXXXX)',
    system.device.fill === 0 ? `truncate -s ${system.device.sizeMiB}M "$IMG"` : `head -c ${system.device.sizeMiB}M /dev/zero | tr '\\0' '\\${system.device.fill.toString(8)}' > "$IMG"  # a used disk: every byte ${hexByte(system.device.fill)}`,
    `DEV=$(losetup -f --show -b ${system.device.logicalBlockSize} "$IMG")`,
    'trap \'umount "$MNT" 2>/dev/null; losetup -d "$DEV"; rm -f "$IMG"; rmdir "$MNT"\' EXIT',
    ...sysfsSettings(system).map(([k, v]) => `echo "${v}" > /sys/block/$(basename "$DEV")/queue/${k}`),
    `${mkfs} ${args.join(' ')} "$DEV"`,
    `mount ${system.mount.length > 0 ? `-o ${system.mount.join(',')} ` : ''}"$DEV" "$MNT"`,
  ];
  if (verdicts) out.push("# check_reads WANT: a session's output, each pread judged against the model's answer in WANT", `check_reads() { awk -v want="$1" '${CHECK_READS_AWK.trim()}'; }`, 'BAD=0');
  // One xfs_io session per stretch of steps between remounts.
  const xs = new XfsIoSession();
  let want: string[] = [];
  const flush = (): void => {
    if (xs.lines.length > 0) {
      out.push('cmds=(', ...xs.lines, ')');
      if (verdicts) out.push(`stdbuf -oL xfs_io -x "\${cmds[@]}" 2>&1 | check_reads '${want.join(';')}' || BAD=1`);
      else out.push('xfs_io -x "${cmds[@]}"');
    }
    xs.reset();
    want = [];
  };
  doc.steps.forEach((s, i) => {
    const r = results?.[i];
    const what = `step ${i + 1}: ${describeStep(s)}${r !== undefined ? ` -> ${describeResult(r)}` : ''}`.replace(/\n/g, ' ');
    if (s.op === 'remount') {
      flush();
      out.push(`# ${what}`, 'umount "$MNT"', `mount ${system.mount.length > 0 ? `-o ${system.mount.join(',')} ` : ''}"$DEV" "$MNT"`);
      return;
    }
    if (s.op === 'mkdir') {
      flush();
      out.push(`mkdir "$MNT/${s.path}"   # ${what}`);
      return;
    }
    if (s.op === 'encrypt_dir') {
      out.push(`# ${what}: not exported (set an fscrypt v2 policy with fscryptctl or xfs_io add_enckey/set_encpolicy)`);
      return;
    }
    const { cmds, note } = command(s, (fd) => xs.path(fd), xs.maps);
    const comment = `  # ${what}${note !== null ? ` [${note}]` : ''}`;
    const emit = (): void => cmds.forEach((c, j) => xs.lines.push(`  -C "${c}"${j === cmds.length - 1 ? comment : ''}`));
    if (cmds.length === 0) {
      xs.lines.push(`  ${comment.trim()}`);
      return;
    }
    if (s.op === 'open') {
      // Opening a name already open closes the old file first, as the model and the kernel runner do.
      const prev = xs.find(s.fd);
      if (prev >= 0) xs.close(prev, `  # (step ${i + 1} reopens ${s.fd}: its old file is closed first)`);
      emit();
      // A failed open adds nothing to xfs_io's file table and leaves the current file as it was.
      if (r === undefined || r.errno === undefined) {
        xs.opened(s.fd, s.path, s.flags);
      }
      return;
    }
    if (s.op === 'sync' || s.op === 'crash') {
      emit();
      return;
    }
    const idx = xs.find('fd' in s ? s.fd : '');
    if (idx < 0) {
      xs.lines.push(`  ${comment.trim()} [fd not open: the kernel returns EBADF; nothing to run]`);
      return;
    }
    if (s.op === 'close') {
      xs.close(idx, comment);
      return;
    }
    xs.use(idx);
    emit();
    const w = s.op === 'pread' && results !== null ? readWant(i + 1, r) : null;
    if (w !== null) {
      xs.lines.push('  -C "help quit"  # (ends the read for check_reads)');
      want.push(w);
    }
  });
  flush();
  if (verdicts && doc.steps.some((s) => s.op === 'pread')) out.push('[ "$BAD" = 0 ] && echo "every read as the model predicts" || echo "some reads differ from the model (MISMATCH above)"', 'exit $BAD');
  return out.join('\n') + '\n';
}

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
import { mkfsCommand, sysfsSettings } from './runner.ts';

const hex = (v: number): string => `0x${v.toString(16).padStart(2, '0')}`;

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

/** pwrite options for RWF flags (xfs_io pwrite -D, -N; -A for RWF_ATOMIC needs a newer xfs_io than 6.1). */
function rwfOptions(flags: readonly string[]): { opts: string; missing: string[] } {
  const map: Record<string, string> = { RWF_DSYNC: 'D', RWF_NOWAIT: 'N', RWF_ATOMIC: 'A' };
  let opts = '';
  const missing: string[] = [];
  for (const f of flags) {
    const o = map[f];
    if (o !== undefined) opts += ` -${o}`;
    else missing.push(f);
  }
  return { opts, missing };
}

/** An xfs_io command for one step, or null with the reason it has none. */
function command(s: Step, path: (fd: string) => string | undefined): { cmd: string | null; note: string | null } {
  return match(s)
    .with({ op: 'open' }, (o) => {
      const { opts, missing } = openOptions(o.flags);
      return { cmd: `open ${opts} $MNT/${o.path}`.replace('  ', ' '), note: missing.length > 0 ? `xfs_io open has no option for ${missing.join(', ')}` : null };
    })
    .with({ op: 'close' }, () => ({ cmd: 'close', note: null }))
    .with({ op: 'pwrite' }, (w) => {
      const { opts, missing } = rwfOptions(w.flags ?? []);
      if (w.iov !== undefined) {
        const total = w.iov.reduce((n, v) => n + v.length, 0);
        return { cmd: `pwrite -q -S ${hex(w.iov[0]!.fill)} -b ${total}${opts} ${w.offset} ${total}`, note: `one buffer of ${hex(w.iov[0]!.fill)} instead of ${w.iov.length} iovecs with their own fills` };
      }
      const notes = [
        ...(missing.length > 0 ? [`no xfs_io option for ${missing.join(', ')}`] : []),
        ...((w.flags ?? []).includes('RWF_ATOMIC') ? ['pwrite -A (RWF_ATOMIC) needs a newer xfs_io than 6.1'] : []),
        ...((w.bufOffset ?? 0) !== 0 ? [`buffer offset ${w.bufOffset} not reproduced (xfs_io aligns its buffer)`] : []),
      ];
      return { cmd: `pwrite -q -S ${hex(w.fill!)} -b ${w.length}${opts} ${w.offset} ${w.length}`, note: notes.length > 0 ? notes.join('; ') : null };
    })
    .with({ op: 'pread' }, (r) => ({ cmd: `pread -v -b ${Math.max(1, r.length)} ${r.offset} ${r.length}`, note: (r.flags ?? []).length > 0 ? `xfs_io pread has no option for ${r.flags!.join(', ')}` : null }))
    .with({ op: 'fsync' }, () => ({ cmd: 'fsync', note: null }))
    .with({ op: 'fdatasync' }, () => ({ cmd: 'fdatasync', note: null }))
    .with({ op: 'ftruncate' }, (t) => ({ cmd: `truncate ${t.length}`, note: null }))
    .with({ op: 'fallocate' }, (f) => {
      const m = f.mode === 0 ? [] : f.mode;
      const keep = m.includes('FALLOC_FL_KEEP_SIZE');
      const rest = m.filter((x) => x !== 'FALLOC_FL_KEEP_SIZE');
      const range = `${f.offset} ${f.length}`;
      if (rest.length === 0) return { cmd: `falloc${keep ? ' -k' : ''} ${range}`, note: null };
      if (rest.length === 1) {
        const one = match(rest[0]!)
          .with('FALLOC_FL_PUNCH_HOLE', () => (keep ? `fpunch ${range}` : null))
          .with('FALLOC_FL_ZERO_RANGE', () => `fzero${keep ? ' -k' : ''} ${range}`)
          .with('FALLOC_FL_COLLAPSE_RANGE', () => (keep ? null : `fcollapse ${range}`))
          .with('FALLOC_FL_INSERT_RANGE', () => (keep ? null : `finsert ${range}`))
          .with('FALLOC_FL_UNSHARE_RANGE', () => (keep ? null : `funshare ${range}`))
          .otherwise(() => null);
        if (one !== null) return { cmd: one, note: null };
      }
      return { cmd: null, note: `no xfs_io command for fallocate mode ${m.join('|')}` };
    })
    .with({ op: 'clone' }, (c) => {
      const src = path(c.src);
      if (src === undefined) return { cmd: null, note: `source ${c.src} is not open` };
      return { cmd: `reflink $MNT/${src} ${c.srcOffset} ${c.offset} ${c.length}`, note: c.length === 0 ? 'xfs_io reflink passes length 0 as "to EOF", as FICLONERANGE does' : null };
    })
    .with({ op: 'mmap_write' }, (m) => {
      const end = Math.ceil((m.offset + m.length) / 4096) * 4096;
      return { cmd: `mmap -w 0 ${end}" -c "mwrite -S ${hex(m.fill)} ${m.offset} ${m.length}" -c "munmap`, note: null };
    })
    .with({ op: 'statx' }, () => ({ cmd: 'statx -r -m all', note: null }))
    .with({ op: 'fiemap' }, () => ({ cmd: 'fiemap -v', note: null }))
    .with({ op: 'setflags' }, (x) => ({ cmd: null, note: `xfs_io has no FS_IOC_SETFLAGS; use chattr ${x.flags.includes('FS_NOCOW_FL') ? '+C' : '-C'} (e2fsprogs) on the file` }))
    .with({ op: 'sync' }, () => ({ cmd: 'syncfs', note: null }))
    .with({ op: 'crash' }, (c) => ({
      cmd: 'shutdown',
      note: c.keep !== undefined && c.keep !== 'all' ? `the model kept ${JSON.stringify(c.keep)} of the unflushed writes; a loop device keeps them all, so the outcome may differ` : null,
    }))
    .with({ op: 'mkdir' }, { op: 'remount' }, { op: 'encrypt_dir' }, () => ({ cmd: null, note: null }))
    .with({ op: 'writeback' }, { op: 'complete' }, { op: 'journal_commit' }, { op: 'reclaim' }, (x) => ({ cmd: null, note: `${x.op} is a model-only step (no system call does exactly this)` }))
    .with({ op: 'device_error' }, () => ({ cmd: null, note: 'device_error is a model-only step (on a real machine: dm-error or dm-flakey over the blocks of this range)' }))
    .exhaustive();
}

/** The scenario as a bash script driving xfs_io (run as root, on a scratch machine). */
export function toXfsIo(doc: ScenarioDoc, system: ResolvedSystem, results: readonly StepResult[] | null): string {
  const [mkfs, args] = mkfsCommand(system);
  const out: string[] = [
    '#!/bin/bash',
    `# ${doc.name ?? 'iospec scenario'}`,
    ...(doc.violates !== undefined ? [`# iospec: ${doc.violates.invariant} at step ${doc.violates.step}${doc.variant !== undefined && Object.keys(doc.variant).length > 0 ? ` on variant ${Object.keys(doc.variant).join(', ')}; the kernel is upstream, so it should not show it` : ''}`, `#   ${doc.violates.detail}`] : []),
    '# Exported by `iospec export --xfs-io`; the comment after each command is what the upstream model',
    '# predicts this kernel answers.',
    '# Run as root on a scratch machine. Needs xfs_io (xfsprogs), losetup, mkfs.',
    'set -u',
    'IMG=$(mktemp /tmp/iospec.XXXXXX.img); MNT=$(mktemp -d /tmp/iospec.XXXXXX)',
    `truncate -s ${system.device.sizeMiB}M "$IMG"`,
    `DEV=$(losetup -f --show -b ${system.device.logicalBlockSize} "$IMG")`,
    'trap \'umount "$MNT" 2>/dev/null; losetup -d "$DEV"; rm -f "$IMG"; rmdir "$MNT"\' EXIT',
    ...sysfsSettings(system).map(([k, v]) => `echo "${v}" > /sys/block/$(basename "$DEV")/queue/${k}`),
    `${mkfs} ${args.join(' ')} "$DEV"`,
    `mount ${system.mount.length > 0 ? `-o ${system.mount.join(',')} ` : ''}"$DEV" "$MNT"`,
  ];
  // One xfs_io session per stretch of steps between remounts; the file table follows the opens and closes.
  let table: Array<{ fd: string; path: string }> = [];
  let current = -1;
  let session: string[] = [];
  const flush = (): void => {
    if (session.length > 0) out.push('cmds=(', ...session, ')', 'xfs_io -x "${cmds[@]}"');
    session = [];
    table = [];
    current = -1;
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
    const { cmd, note } = command(s, (fd) => table.find((t) => t.fd === fd)?.path);
    const comment = `  # ${what}${note !== null ? ` [${note}]` : ''}`;
    if (cmd === null) {
      session.push(`  ${comment.trim()}`);
      return;
    }
    if (s.op === 'open') {
      session.push(`  -c "${cmd}"${comment}`);
      // A failed open adds nothing to xfs_io's file table.
      if (r === undefined || r.errno === undefined) {
        table.push({ fd: s.fd, path: s.path });
        current = table.length - 1;
      }
      return;
    }
    if (s.op === 'sync' || s.op === 'crash') {
      session.push(`  -c "${cmd}"${comment}`);
      return;
    }
    const idx = table.findIndex((t) => t.fd === ('fd' in s ? s.fd : ''));
    if (idx < 0) {
      session.push(`  ${comment.trim()} [fd not open: the kernel returns EBADF; nothing to run]`);
      return;
    }
    if (idx !== current) {
      session.push(`  -c "file ${idx}"`);
      current = idx;
    }
    session.push(`  -c "${cmd}"${comment}`);
    if (s.op === 'close') {
      table.splice(idx, 1);
      current = table.length > 0 ? 0 : -1;
    }
  });
  flush();
  return out.join('\n') + '\n';
}

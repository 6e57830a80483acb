/**
 * What a known upstream finding is (each file system's harness lists its
 * own, model/fs/registry.ts), and the step-pattern matchers they share.
 * Known findings are bugs of the kernel this model mirrors: the checker
 * counts the sequences that run into one instead of stopping at them.
 */
import type { StepResult } from '../model/system.ts';
import type { Step, SystemDoc } from '../scenario/schema.ts';
import type { InvariantId } from '../properties/ids.ts';
import type { VariantName } from '../model/variants.ts';
import type { Violation } from './execute.ts';

export interface KnownFinding {
  readonly id: string;
  readonly summary: string;
  /**
   * The scenarios that show it (test/conformance/ when confirmed on this
   * machine's kernel): the first as found, then the wider triggers.
   */
  readonly scenarios: readonly [string, ...string[]];
  /** The variant that is the proposed fix (checked clean; docs/findings/<id>.md explains it). */
  readonly fix?: VariantName;
  /** Confirmed on the kernel (Linux 6.18 here), or read from the source only. */
  readonly confirmed: boolean;
  /** The invariants it breaks. */
  readonly invariants: readonly InvariantId[];
  /**
   * `matches` is a loose pattern: the violation counts as this finding only
   * when its steps break the same invariant on upstream and nothing with the
   * fix (knownFinding replays them both).
   */
  readonly confirmByFix?: boolean;
  /**
   * For a finding with no fix variant: the system its trigger is taken away
   * from (btrfs-clone-inline-zeroes-folio-start: the same system with
   * one-page folios).  The violation counts as this finding only when the
   * same steps on that system do not break the same invariant.
   */
  readonly cleanWithout?: (system: SystemDoc) => SystemDoc;
  /** Does this violation, on a system of the finding's file system, come from it? */
  matches(system: SystemDoc, steps: readonly Step[], results: readonly StepResult[], violation: Violation): boolean;
}

/**
 * Did a step up to the violation write through an O_APPEND file (or with
 * RWF_APPEND) — atomically (an attempt is enough: ext4 allocates before it
 * fails), or directly (O_DIRECT) and successfully, as asked?  Only writes
 * after step index `after` count (after a clone, say).
 */
export function appendingWrite(steps: readonly Step[], results: readonly StepResult[], upTo: number, kind: 'atomic' | 'direct', after = -1): boolean {
  const files = new Map<string, readonly string[]>();
  for (let i = 0; i < upTo && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'open') files.set(s.fd, s.flags);
    if (s.op !== 'pwrite' || i <= after || (kind === 'direct' && (results[i]?.ret ?? 0) <= 0)) continue;
    // A file system without atomic writes refuses the flag before anything happens.
    if (kind === 'atomic' && results[i]?.errno === 'EOPNOTSUPP') continue;
    const rwf = s.flags ?? [];
    const flags = files.get(s.fd) ?? [];
    const append = (flags.includes('O_APPEND') || rwf.includes('RWF_APPEND')) && !rwf.includes('RWF_NOAPPEND');
    if (!append) continue;
    if (kind === 'atomic' ? rwf.includes('RWF_ATOMIC') : flags.includes('O_DIRECT') && !rwf.includes('RWF_ATOMIC')) return true;
  }
  return false;
}

/** Did a direct write (an O_DIRECT file, not atomic) succeed after a crash, before the violation? */
export function directWriteAfterCrash(steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
  const crash = steps.findIndex((s) => s.op === 'crash');
  if (crash < 0 || crash >= upTo) return false;
  const files = new Map<string, readonly string[]>();
  for (let i = crash + 1; i < upTo && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'open') files.set(s.fd, s.flags);
    if (s.op === 'pwrite' && (results[i]?.ret ?? 0) > 0 && (files.get(s.fd) ?? []).includes('O_DIRECT')) return true;
  }
  return false;
}

/**
 * Did a store through mmap (whole or cut short by SIGBUS: the bytes before
 * the fault land in the EOF page) come before a direct write to the same
 * file that succeeded, before the violation?  The direct write may extend
 * the file over the stored bytes without zeroing them.
 */
export function directExtendAfterMmapPastEof(steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
  const files = new Map<string, { readonly path: string; readonly flags: readonly string[] }>();
  const stored = new Set<string>();
  for (let i = 0; i < upTo && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'open') files.set(s.fd, { path: s.path, flags: s.flags });
    const f = 'fd' in s ? files.get(s.fd) : undefined;
    if (f === undefined) continue;
    if (s.op === 'mmap_write' && (results[i]?.errno === undefined)) stored.add(f.path);
    if (s.op === 'pwrite' && stored.has(f.path) && (results[i]?.ret ?? 0) > 0 && f.flags.includes('O_DIRECT')) return true;
  }
  return false;
}

/** The index of the first clone that succeeded (blocks shared from then on), or steps.length. */
export function firstClone(steps: readonly Step[], results: readonly StepResult[]): number {
  const i = steps.findIndex((s, j) => s.op === 'clone' && results[j]?.errno === undefined);
  return i < 0 ? steps.length : i;
}

/** Did a clone through an O_DSYNC or O_SYNC file (on either side) succeed before the violation? */
export function syncClone(steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
  const files = new Map<string, readonly string[]>();
  const sync = (fd: string) => (files.get(fd) ?? []).some((f) => f === 'O_DSYNC' || f === 'O_SYNC');
  for (let i = 0; i < upTo && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'open') files.set(s.fd, s.flags);
    if (s.op === 'clone' && results[i]?.ret === 0 && (sync(s.fd) || sync(s.src))) return true;
  }
  return false;
}

/** Did a direct write (an O_DIRECT file) succeed after a clone succeeded, before the violation? (It may have been written out of place, through the COW fork.) */
export function directWriteAfterClone(steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
  const clone = firstClone(steps, results);
  if (clone >= upTo) return false;
  const files = new Map<string, readonly string[]>();
  for (let i = 0; i < upTo && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'open') files.set(s.fd, s.flags);
    if (i > clone && s.op === 'pwrite' && (results[i]?.ret ?? 0) > 0 && (files.get(s.fd) ?? []).includes('O_DIRECT')) return true;
  }
  return false;
}

/**
 * Between a successful clone and a crash before the violation, did a step
 * drop references to blocks (a truncate, a punch, zero or collapse, a
 * clone onto mapped blocks, a write that went through the COW fork) and a
 * successful write come after it?  (That write may have overwritten in
 * place a block still shared on disk.)
 */
export function overwriteAfterUnshareBeforeCrash(steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
  const clone = firstClone(steps, results);
  let dropped = false;
  for (let i = clone + 1; i < upTo && i < steps.length; i++) {
    const s = steps[i]!;
    if (results[i]?.errno !== undefined) continue;
    if (s.op === 'crash') {
      dropped = false;
      continue;
    }
    const writes = (s.op === 'pwrite' && (results[i]?.ret ?? 0) > 0) || s.op === 'mmap_write';
    if (dropped && writes && steps.some((c, j) => j > i && j < upTo && c.op === 'crash')) return true;
    if (writes || s.op === 'clone' || freesBlocks(s)) dropped = true;
  }
  return false;
}

/**
 * After a crash before the violation, did a read find the file
 * shorter than it asked, at a size inside a block (the recovered EOF), and
 * a direct write succeed past that size (extending the file over the rest
 * of that block)?
 */
export function directExtendPastRecoveredEof(system: SystemDoc, steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
  const bs = system.blockSize ?? 4096;
  const files = new Map<string, readonly string[]>();
  let eof: number | null = null;
  let crashed = false;
  // After any crash before the violation (the size it recovered may have been made durable since).
  for (let i = 0; i < upTo - 1 && i < steps.length; i++) {
    const s = steps[i]!;
    const r = results[i];
    if (s.op === 'crash') {
      crashed = true;
      eof = null;
      files.clear();
      continue;
    }
    if (!crashed) continue;
    if (s.op === 'open') files.set(s.fd, s.flags);
    if (s.op === 'pread' && s.offset >= 0 && r?.ret !== undefined && r.ret < s.length) eof = s.offset + r.ret;
    if (s.op === 'pwrite' && eof !== null && eof % bs !== 0 && s.offset > eof && (r?.ret ?? 0) > 0 && (files.get(s.fd) ?? []).includes('O_DIRECT')) return true;
  }
  return false;
}

/**
 * After a crash, did a read or statx pin a file's recovered size at a
 * point inside a block, and a synchronous write, buffered or direct (an
 * O_SYNC or O_DSYNC file, or RWF_DSYNC / RWF_SYNC), then succeed starting
 * past it with no truncate or fallocate of that file in between, and a
 * crash come after that write, before the violation?  The write zeroes
 * the tail of the old EOF block in the page cache only, and its sync (of
 * the write's own range) makes a size past that block durable (XFS:
 * xfs_file_write_zero_eof, then generic_write_sync, or the direct write's
 * completion and its sync).
 */
export function syncWritePastRecoveredEof(system: SystemDoc, steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
  const bs = system.blockSize ?? 4096;
  const files = new Map<string, { readonly path: string; readonly flags: readonly string[] }>();
  // Per path, the size a read or statx found since the last crash.
  const eof = new Map<string, number>();
  let crashed = false;
  let written = false;
  // A write past that EOF that did not sync: any later log force (another file's synchronous write or
  // fsync) makes its size durable the same way.
  let extended = false;
  for (let i = 0; i < upTo - 1 && i < steps.length; i++) {
    const s = steps[i]!;
    const r = results[i];
    if (s.op === 'crash') {
      if (written) return true;
      crashed = true;
      extended = false;
      eof.clear();
      files.clear();
      continue;
    }
    if (!crashed || written) continue;
    if (extended && (s.op === 'fsync' || s.op === 'fdatasync') && r?.errno === undefined) {
      written = true;
      continue;
    }
    if (s.op === 'open') {
      files.set(s.fd, { path: s.path, flags: s.flags });
      if (s.flags.includes('O_TRUNC')) eof.delete(s.path);
      continue;
    }
    const f = 'fd' in s && typeof s.fd === 'string' ? files.get(s.fd) : undefined;
    if (f === undefined) continue;
    if (r?.errno !== undefined) continue;
    if (s.op === 'pread' && s.offset >= 0 && r?.ret !== undefined && r.ret < s.length) eof.set(f.path, s.offset + r.ret);
    else if (s.op === 'statx' && r?.statx?.size !== undefined) eof.set(f.path, r.statx.size);
    else if (s.op === 'ftruncate' || s.op === 'fallocate') eof.delete(f.path);
    else if (s.op === 'pwrite' && (r?.ret ?? 0) > 0) {
      const at = eof.get(f.path);
      const rwf = s.flags ?? [];
      const sync = f.flags.includes('O_SYNC') || f.flags.includes('O_DSYNC') || rwf.includes('RWF_DSYNC') || rwf.includes('RWF_SYNC');
      const append = (f.flags.includes('O_APPEND') || rwf.includes('RWF_APPEND')) && !rwf.includes('RWF_NOAPPEND');
      if (!append && at !== undefined && at % bs !== 0 && s.offset > at) {
        if (sync) written = true;
        else extended = true;
      } else if (sync && extended) written = true;
    }
  }
  return false;
}

/** Can the step free or unshare blocks (a truncate, a punch, zero or collapse)? */
export function freesBlocks(s: Step): boolean {
  if (s.op === 'ftruncate') return true;
  if (s.op === 'open') return s.flags.includes('O_TRUNC');
  if (s.op === 'fallocate') return s.mode !== 0 && s.mode.some((m) => m === 'FALLOC_FL_PUNCH_HOLE' || m === 'FALLOC_FL_ZERO_RANGE' || m === 'FALLOC_FL_COLLAPSE_RANGE');
  return false;
}

/** Is step `at` (1-based, as violations count) a read through an O_DIRECT file? */
export function directReadAt(steps: readonly Step[], at: number): boolean {
  const s = steps[at - 1];
  if (s?.op !== 'pread') return false;
  for (let i = at - 2; i >= 0; i--) {
    const o = steps[i]!;
    if (o.op === 'open' && o.fd === s.fd) return o.flags.includes('O_DIRECT');
  }
  return false;
}

/** Did a fallocate with `mode` (FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE) come after a device_error (a failing sector), before the violation? */
export function fallocateAfterDeviceError(steps: readonly Step[], upTo: number, mode: 'FALLOC_FL_PUNCH_HOLE' | 'FALLOC_FL_ZERO_RANGE'): boolean {
  const failed = steps.findIndex((s) => s.op === 'device_error');
  if (failed < 0 || failed >= upTo) return false;
  return steps.some((s, i) => i > failed && i < upTo && s.op === 'fallocate' && Array.isArray(s.mode) && s.mode.includes(mode));
}

/**
 * After a clone, was a buffered write (or a store through mmap) made while
 * the I/O of a writeback step was in flight, and did a step after a
 * device_error then return EIO (that writeback failed)?  An XFS writeback
 * through the COW fork that fails cancels the COW extent of the whole range
 * (xfs_end_ioend), including that of a folio the write redirtied meanwhile.
 */
export function writeDuringFailedWriteback(steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
  const clone = firstClone(steps, results);
  const failed = steps.findIndex((s) => s.op === 'device_error');
  if (failed < 0 || failed >= upTo) return false;
  const files = new Map<string, readonly string[]>();
  let inFlight = false;
  let redirtied = false;
  for (let i = 0; i < upTo && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'open') files.set(s.fd, s.flags);
    if (i <= clone) continue;
    if (s.op === 'crash' || s.op === 'remount') inFlight = redirtied = false;
    else if (s.op === 'complete') inFlight = false;
    else if (s.op === 'writeback') inFlight = true;
    else if (inFlight && results[i]?.errno === undefined && (s.op === 'mmap_write' || (s.op === 'pwrite' && !(files.get(s.fd) ?? []).includes('O_DIRECT')))) redirtied = true;
    if (redirtied && i > failed && results[i]?.errno === 'EIO') return true;
  }
  return false;
}

/** Is the violation one of the invariants the finding breaks? */
export function breaks(f: KnownFinding, v: Violation): boolean {
  return f.invariants.includes(v.invariant);
}

/**
 * Replaying a counterexample (or any scenario) with the invariants watching,
 * and printing a step-by-step trace.
 */
import { findInvariant, INVARIANTS } from '../properties/index.ts';
import type { Invariant } from '../properties/index.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { Step } from '../scenario/schema.ts';
import type { StepResult } from '../model/system.ts';
import type { CheckedRun, Violation } from './execute.ts';
import { runChecked } from './execute.ts';
import { hexByte } from '../model/lib/content.ts';

export interface ReplayReport {
  readonly run: CheckedRun;
  /** The file's `violates`, if any. */
  readonly expected: { invariant: string; step: number } | null;
  /** Reproduced the same invariant at the same step. */
  readonly reproduced: boolean;
  /**
   * With every invariant watching: the first violation, when it is not the
   * recorded one (another invariant, or another step); null otherwise.
   */
  readonly other: Violation | null;
}

export function replay(sc: LoadedScenario): ReplayReport {
  const v = sc.doc.violates;
  let invs: readonly Invariant[] = INVARIANTS;
  if (v !== undefined) {
    const inv = findInvariant(v.invariant);
    invs = inv === undefined ? INVARIANTS : [inv];
  }
  const run = runChecked(sc.system, sc.knobs, sc.doc.steps, invs, { keepOutcomes: true });
  const expected = v === undefined ? null : { invariant: v.invariant, step: v.step };
  const reproduced = expected !== null && run.violation !== null && run.violation.invariant === expected.invariant && run.violation.step === expected.step;
  // The recorded invariant alone decides `reproduced`; every other one is watched too.
  const all = invs === INVARIANTS ? run : runChecked(sc.system, sc.knobs, sc.doc.steps, INVARIANTS);
  const first = all.violation;
  const other = first !== null && (expected === null || first.invariant !== expected.invariant || first.step !== expected.step) && (first.invariant !== run.violation?.invariant || first.step !== run.violation.step) ? first : null;
  return { run, expected, reproduced, other };
}

function fmtFlags(f: readonly string[] | undefined): string {
  return f === undefined || f.length === 0 ? '' : ` [${f.join('|')}]`;
}

/** One step as an xfs_io-like line. */
export function describeStep(s: Step): string {
  switch (s.op) {
    case 'open':
      return `open ${s.path} as ${s.fd}${fmtFlags(s.flags)}`;
    case 'close':
      return `close ${s.fd}`;
    case 'mkdir':
      return `mkdir ${s.path}`;
    case 'encrypt_dir':
      return `encrypt_dir ${s.path}${fmtFlags(s.flags)}${s.log2DataUnitSize ? ` du=${2 ** s.log2DataUnitSize}` : ''}`;
    case 'pwrite': {
      const iov = s.iov ?? [{ length: s.length ?? 0, fill: s.fill ?? 0, bufOffset: s.bufOffset }];
      const segs = iov.map((v) => `${v.length}x${hexByte(v.fill)}${v.bufOffset ? `@buf+${v.bufOffset}` : ''}`).join(' + ');
      const race = s.storeDuringIo === undefined ? '' : ` (while in flight, the buffer's bytes ${s.storeDuringIo.offset}..${s.storeDuringIo.offset + s.storeDuringIo.length} change to ${hexByte(s.storeDuringIo.fill)})`;
      return `pwrite ${s.fd} ${s.offset} ${segs}${fmtFlags(s.flags)}${race}`;
    }
    case 'pread':
      return `pread ${s.fd} ${s.offset} ${s.length}${s.bufOffset ? ` @buf+${s.bufOffset}` : ''}${fmtFlags(s.flags)}`;
    case 'fsync':
    case 'fdatasync':
      return `${s.op} ${s.fd}`;
    case 'ftruncate':
      return `ftruncate ${s.fd} ${s.length}`;
    case 'fallocate':
      return `fallocate ${s.fd} ${s.offset} ${s.length}${s.mode === 0 ? '' : fmtFlags(s.mode)}`;
    case 'clone':
      return `clone ${s.src} ${s.srcOffset} -> ${s.fd} ${s.offset} ${s.length === 0 ? 'to EOF' : s.length}`;
    case 'mmap_write':
      return `mmap_write ${s.fd} ${s.offset} ${s.length}x${hexByte(s.fill)}`;
    case 'statx':
      return `statx ${s.fd}${fmtFlags(s.mask)}`;
    case 'fiemap':
      return `fiemap ${s.fd}`;
    case 'setflags':
      return `setflags ${s.fd}${fmtFlags(s.flags)}`;
    case 'crash':
      return `crash${s.keep === undefined ? '' : ` keep=${JSON.stringify(s.keep)}`}${s.pattern === undefined ? '' : ` pattern=${JSON.stringify(s.pattern)}`}`;
    case 'writeback':
      return `writeback ${s.fd}${s.offset !== undefined ? ` ${s.offset}` : ''}${s.length !== undefined ? ` ${s.length}` : ''}`;
    case 'complete':
      return `complete${s.bio !== undefined ? ` bio ${s.bio}` : ` ${s.count ?? 1}`}`;
    case 'device_error':
      return `device_error ${s.fd} ${s.offset} ${s.length} (its sectors fail I/O from now on)`;
    case 'sync':
    case 'remount':
    case 'journal_commit':
    case 'reclaim':
      return s.op;
    default: {
      const unhandled: never = s;
      return JSON.stringify(unhandled);
    }
  }
}

export function describeResult(r: StepResult): string {
  if (r.internal !== undefined) return `MODEL ERROR: ${r.internal}`;
  if (r.unsupported !== undefined) return 'unsupported';
  if (r.signal !== undefined) return r.signal;
  if (r.errno !== undefined) return r.errno;
  let out = `${r.ret ?? 0}`;
  if (r.data !== undefined) out += ` data ${r.data.map(([v, n]) => `${n}x${hexByte(v)}`).join(' ')}`;
  if (r.statx !== undefined) out += ` ${Object.entries(r.statx).map(([k, v]) => `${k}=${v}`).join(' ')}`;
  if (r.extents !== undefined) out += ` ${r.extents.map((e) => `[${e.logical}+${e.length}${e.flags.filter((f) => f !== 'FIEMAP_EXTENT_LAST').map((f) => ' ' + f.replace('FIEMAP_EXTENT_', '')).join('')}]`).join(' ')}`;
  if (r.crash !== undefined) out += ` (${r.crash.pending} write${r.crash.pending === 1 ? '' : 's'} not durable; kept ${JSON.stringify(r.crash.kept)})`;
  if (r.completed !== undefined) out += ` bios ${r.completed.join(',')}`;
  return out;
}

/**
 * Exhaustive small scopes (`iospec check --exhaustive --depth K`): every
 * sequence of up to K operations over a small alphabet on a small geometry
 * (two durable empty files, 4 KiB blocks, a few block-sized ranges), each followed by an
 * fsx-style verification and a crash with remount, on both file systems.
 * Most file-system bugs that exhaustive workload generators find need at
 * most three operations; here nothing is left to chance below that depth.
 *
 * Symmetry reduction: a sequence that repeats an idempotent operation
 * (fsync, fdatasync, sync, writeback, a crash) back to back is the same as
 * the sequence with one of them, and is skipped.
 */
import type { Step, SystemDoc } from '../scenario/schema.ts';
import type { Invariant } from '../properties/invariant.ts';
import type { VariantInfo, VariantName } from '../model/variants.ts';
import { ProbeKnobs } from '../model/variants.ts';
import type { CheckReport } from './check.ts';
import { knobsOf, minimizeSteps, noteReached } from './check.ts';
import { runChecked } from './execute.ts';
import { resolveSystem } from '../scenario/resolve.ts';
import { knownFinding } from './findings.ts';
import { fs_types, fsTypeOf } from '../model/filesystems.ts';
import { coverageCounts, resetCoverage } from '../model/lib/coverage.ts';

/** One letter of the alphabet: a step, given the fill value its data gets. */
interface Letter {
  readonly name: string;
  readonly idempotent: boolean;
  step(fill: number, dir: string): Step | Step[];
}

const L = (name: string, step: (fill: number, dir: string) => Step | Step[], idempotent = false): Letter => ({ name, idempotent, step });

/** A crash is followed by a remount and the files opened again, so the sequence goes on. */
const crashAndRemount = (keep: 'all' | 'none', dir: string): Step[] => [{ op: 'crash', keep }, { op: 'remount' }, ...reopen(dir)];

/** The alphabet: buffered (A) and direct (D) writes of aligned and unaligned ranges, and everything that moves data or state. */
export const ALPHABET: readonly Letter[] = [
  L('pwrite A 0 4096', (v) => ({ op: 'pwrite', fd: 'A', offset: 0, length: 4096, fill: v })),
  L('pwrite A 2048 4096', (v) => ({ op: 'pwrite', fd: 'A', offset: 2048, length: 4096, fill: v })),
  L('pwrite A 8192 4096 DSYNC', (v) => ({ op: 'pwrite', fd: 'A', offset: 8192, length: 4096, fill: v, flags: ['RWF_DSYNC'] })),
  L('pwrite D 0 8192', (v) => ({ op: 'pwrite', fd: 'D', offset: 0, length: 8192, fill: v })),
  L('pwrite D 4096 4096', (v) => ({ op: 'pwrite', fd: 'D', offset: 4096, length: 4096, fill: v })),
  L('pwrite D 0 8192 buf+512', (v) => ({ op: 'pwrite', fd: 'D', offset: 0, length: 8192, fill: v, bufOffset: 512 })),
  L('pwrite D 0 8192 ATOMIC', (v) => ({ op: 'pwrite', fd: 'D', offset: 0, length: 8192, fill: v, flags: ['RWF_ATOMIC'] })),
  L('mmap_write A 1024 2048', (v) => ({ op: 'mmap_write', fd: 'A', offset: 1024, length: 2048, fill: v })),
  L('ftruncate A 2048', () => ({ op: 'ftruncate', fd: 'A', length: 2048 })),
  L('ftruncate A 12288', () => ({ op: 'ftruncate', fd: 'A', length: 12288 })),
  L('punch A 0 4096', () => ({ op: 'fallocate', fd: 'A', mode: ['FALLOC_FL_PUNCH_HOLE', 'FALLOC_FL_KEEP_SIZE'], offset: 0, length: 4096 })),
  L('zero A 2048 4096', () => ({ op: 'fallocate', fd: 'A', mode: ['FALLOC_FL_ZERO_RANGE'], offset: 2048, length: 4096 })),
  L('clone A -> B 0 8192', () => ({ op: 'clone', fd: 'B', src: 'A', srcOffset: 0, offset: 0, length: 8192 })),
  L('fsync A', () => ({ op: 'fsync', fd: 'A' }), true),
  L('fdatasync D', () => ({ op: 'fdatasync', fd: 'D' }), true),
  L('sync', () => ({ op: 'sync' }), true),
  L('writeback A', () => ({ op: 'writeback', fd: 'A', offset: 0, length: 16384 }), true),
  L('complete', () => ({ op: 'complete', count: 4 })),
  L('crash', (_v, dir) => crashAndRemount('all', dir), true),
  L('crash keep none', (_v, dir) => crashAndRemount('none', dir), true),
];

/**
 * A geometry the alphabet runs on, as each file system's harness lists
 * them (model/fs/registry.ts): a plain one per file system, and special
 * ones (ext4 encrypting through an inline engine: files in an encrypted
 * directory, bios split at 6 KiB).
 */
export interface ExhaustiveScope {
  readonly name: string;
  readonly system: SystemDoc;
  /** Directory of the files ('' = the root), and the steps that make it. */
  readonly dir: string;
  readonly setup: Step[];
}

/** The scopes of the file systems `fss`: every file system's first scope, then every second one, and so on. */
function scopesOf(fss: readonly string[]): ExhaustiveScope[] {
  const lists = fss.map((fs) => fsTypeOf({ fs }).harness.scopes);
  const out: ExhaustiveScope[] = [];
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) out.push(l[i]!);
  return out;
}

/** Every registered file system's scopes (what `exhaustive` runs when no file system is named). */
export function allScopes(): ExhaustiveScope[] {
  return scopesOf(fs_types().map((t) => t.name));
}

const OPEN = (dir: string): Step[] => [
  { op: 'open', path: `${dir}f`, fd: 'A', flags: ['O_RDWR', 'O_CREAT'] },
  { op: 'open', path: `${dir}f`, fd: 'D', flags: ['O_RDWR', 'O_DIRECT'] },
  { op: 'open', path: `${dir}g`, fd: 'B', flags: ['O_RDWR', 'O_CREAT'] },
];

/** Read everything, crash, remount, read everything again. */
function verify(dir: string): Step[] {
  const reads = (): Step[] => [
    { op: 'pread', fd: 'A', offset: 0, length: 16384 },
    { op: 'pread', fd: 'D', offset: 0, length: 16384 },
    { op: 'pread', fd: 'B', offset: 0, length: 16384 },
  ];
  return [...reads(), { op: 'crash', keep: 'all' }, { op: 'remount' }, ...reopen(dir), ...reads()];
}

function reopen(dir: string): Step[] {
  return OPEN(dir).map((s) => (s.op === 'open' ? { ...s, flags: s.flags.filter((f) => f !== 'O_CREAT') } : s));
}

export interface ExhaustiveOptions {
  readonly depth: number;
  readonly invariants: readonly Invariant[];
  readonly variant: VariantInfo | null;
  /** Only this file system (a registered type's name). */
  readonly fs?: string | undefined;
  /** Only the scope of this name (ExhaustiveScope.name). */
  readonly scope?: string;
  readonly onProgress?: (done: number, total: number) => void;
  /** Stop after this long (the report then says it is incomplete and how far it got). */
  readonly timeMs?: number;
  /**
   * Upstream's runs of the same scopes and depth, watching these invariants
   * or more (made with `probe`): a sequence whose upstream run consulted
   * none of the variant's knobs runs the same on the variant and is not run
   * again; its upstream verdict (clean, or a known finding) counts for it.
   */
  readonly upstream?: UpstreamIndex;
  /** Run upstream noting, per sequence, the variants' knobs the model consulted (the report's `index`). */
  readonly probe?: boolean;
}

/**
 * What upstream did on one sequence of a scope: 0 when it ran clean and
 * consulted no variant's knob (or was skipped by symmetry); otherwise the
 * knobs it consulted (`c`), the known finding it met (`f`), or `u` when it
 * violated an invariant no finding explains (never reused).
 */
export type SequenceRecord = 0 | { readonly c?: readonly VariantName[]; readonly f?: string; readonly u?: true };

/** Upstream's exhaustive runs, by scope name, in the order the scope enumerates its sequences. */
export interface UpstreamIndex {
  readonly depth: number;
  /** The invariants watched, in order: a search watching one not among them cannot reuse these runs. */
  readonly invariants: readonly string[];
  readonly scopes: Readonly<Record<string, readonly SequenceRecord[]>>;
}

export interface ExhaustiveReport extends CheckReport {
  readonly sequences: number;
  readonly skippedBySymmetry: number;
  readonly depth: number;
  /** Every sequence of the scope ran (false: the time budget ran out first). */
  readonly complete: boolean;
  /** All the sequences of the scopes, run or not. */
  readonly total: number;
  /** Sequences not run again: their upstream run (ExhaustiveOptions.upstream) stands for them. */
  readonly reused: number;
  /** With `probe`: what upstream did on each sequence, by scope. */
  readonly index?: Record<string, SequenceRecord[]>;
}

/** Every sequence of length 0..depth over the alphabet (letter indices), in order. */
function* sequences(depth: number): Generator<number[]> {
  const cur: number[] = [];
  function* rec(d: number): Generator<number[]> {
    yield cur.slice();
    if (d === 0) return;
    for (let i = 0; i < ALPHABET.length; i++) {
      cur.push(i);
      yield* rec(d - 1);
      cur.pop();
    }
  }
  yield* rec(depth);
}

function redundant(seq: readonly number[]): boolean {
  for (let i = 1; i < seq.length; i++) if (seq[i] === seq[i - 1] && ALPHABET[seq[i]!]!.idempotent) return true;
  return false;
}

export function exhaustive(opts: ExhaustiveOptions): ExhaustiveReport {
  if (opts.probe === true && opts.variant !== null) throw new Error('exhaustive: a probe run is upstream\'s');
  const up = opts.upstream;
  if (up !== undefined && (up.depth !== opts.depth || !opts.invariants.every((i) => up.invariants.includes(i.id)))) {
    throw new Error('exhaustive: the upstream index was made at another depth or watching fewer invariants');
  }
  // Watching some of the index's invariants: a sequence upstream ran clean watching them all is clean
  // watching these, but one that stopped at a known finding might go on here, so it runs again.
  const sameInvariants = up !== undefined && up.invariants.join(',') === opts.invariants.map((i) => i.id).join(',');
  const probe = opts.probe === true ? new ProbeKnobs() : null;
  const knobs = probe ?? knobsOf(opts.variant);
  const mine: ReadonlySet<string> = new Set(knobs.names());
  const index: Record<string, SequenceRecord[]> | undefined = probe !== null ? {} : undefined;
  let reused = 0;
  const fss = opts.fs !== undefined ? [opts.fs] : (opts.variant?.fs ?? fs_types().map((t) => t.name));
  const scopes = scopesOf(fss).filter((s) => opts.scope === undefined || s.name === opts.scope);
  if (scopes.length === 0) throw new Error(`exhaustive: no scope ${opts.scope ?? ''} on ${fss.join(', ')}`);
  let total = 0;
  for (let d = 0, n = 1; d <= opts.depth; d++, n *= ALPHABET.length) total += n;
  total *= scopes.length;
  const ops: Record<string, number> = {};
  const errnos: Record<string, number> = {};
  const reached: Record<string, number> = {};
  const findings: Record<string, number> = {};
  let runs = 0;
  let steps = 0;
  let skipped = 0;
  let variantSequences = 0;
  resetCoverage();
  const t0 = Date.now();
  let complete = true;
  search: for (const scope of scopes) {
    const system = scope.system;
    const cfg = resolveSystem(system);
    const upstreamRuns = up?.scopes[scope.name];
    const records: SequenceRecord[] = [];
    if (index !== undefined) index[scope.name] = records;
    let ordinal = -1;
    for (const seq of sequences(opts.depth)) {
      ordinal++;
      if (opts.timeMs !== undefined && runs % 64 === 0 && Date.now() - t0 > opts.timeMs) {
        complete = false;
        break search;
      }
      runs++;
      if (runs % 2000 === 0) opts.onProgress?.(runs, total);
      if (redundant(seq)) {
        skipped++;
        records.push(0);
        continue;
      }
      const was = upstreamRuns?.[ordinal];
      if (was !== undefined && (was === 0 || (was.u !== true && (sameInvariants || was.f === undefined) && !(was.c ?? []).some((n) => mine.has(n))))) {
        reused++;
        if (was !== 0 && was.f !== undefined) findings[was.f] = (findings[was.f] ?? 0) + 1;
        continue;
      }
      probe?.consulted.clear();
      const body = seq.flatMap((i, k) => ALPHABET[i]!.step(k + 1, scope.dir));
      // Start from two durable empty files: the sequence is what happens to them.
      const input: Step[] = [...scope.setup, ...OPEN(scope.dir), { op: 'sync' }, ...body, ...verify(scope.dir)];
      let crashed = false;
      const reachedBefore = knobs.reached;
      const r = runChecked(cfg, knobs, input, opts.invariants, {
        onStep: (s, res) => {
          steps++;
          ops[s.op] = (ops[s.op] ?? 0) + 1;
          if (res.errno !== undefined) errnos[res.errno] = (errnos[res.errno] ?? 0) + 1;
          noteReached(reached, s, res, crashed);
          if (s.op === 'crash') crashed = true;
        },
      });
      if (knobs.reached > reachedBefore) variantSequences++;
      const consulted = probe !== null && probe.consulted.size > 0 ? { c: [...probe.consulted] } : null;
      if (r.violation === null) {
        records.push(consulted ?? 0);
        continue;
      }
      const known = knownFinding(system, r.steps, r.results, r.violation);
      if (known !== null) {
        findings[known.id] = (findings[known.id] ?? 0) + 1;
        records.push({ ...consulted, f: known.id });
        continue;
      }
      records.push({ ...consulted, u: true });
      const min = minimizeSteps(system, knobs, r.steps, opts.invariants, r.violation.invariant);
      const final = min.violation !== null ? min : r;
      return {
        seed: 0, runs, runsToFailure: runs, steps, elapsedMs: Date.now() - t0, ops, errnos, reached, coverage: coverageCounts(), findings,
        counterexample: { system, steps: final.steps, results: final.results, violation: final.violation!, path: `exhaustive:${scope.name}:${seq.map((i) => ALPHABET[i]!.name).join(' | ')}`, originalSteps: r.steps.length },
        sequences: runs - skipped, skippedBySymmetry: skipped, depth: opts.depth,
        variantSequences: opts.variant === null ? null : variantSequences, repeatRuns: runs, complete: true, total, reused,
        ...(index !== undefined ? { index } : {}),
      };
    }
  }
  return {
    seed: 0, runs, runsToFailure: null, steps, elapsedMs: Date.now() - t0, ops, errnos, reached, coverage: coverageCounts(), findings, counterexample: null,
    sequences: runs - skipped, skippedBySymmetry: skipped, depth: opts.depth,
    variantSequences: opts.variant === null ? null : variantSequences, repeatRuns: runs, complete, total, reused,
    ...(index !== undefined ? { index } : {}),
  };
}

/**
 * The property-based checker: fast-check generates systems and operation
 * sequences, runs them on the model with the oracle and the invariants, and
 * shrinks the first failing sequence; the counterexample is then minimised
 * step by step on its concrete form.
 */
import { knownFinding } from './findings.ts';
import fc from 'fast-check';
import { match } from 'ts-pattern';
import type { Knobs } from '../model/variants.ts';
import type { SystemHint, VariantInfo } from '../model/variants.ts';
import { UPSTREAM, variantKnobs } from '../model/variants.ts';
import type { Invariant } from '../properties/index.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import { resolveSystem } from '../scenario/resolve.ts';
import type { Step, SystemDoc } from '../scenario/schema.ts';
import type { StepResult } from '../model/system.ts';
import type { CheckedRun, ExecOptions, StepSource, Violation } from './execute.ts';
import type { System } from '../model/system.ts';
import { runChecked } from './execute.ts';
import { coverageCounts, freshPoints, resetCoverage } from '../model/lib/coverage.ts';
import type { GenOptions, Recipe } from './generate.ts';
import { arbRecipe, arbRecipes, arbSystem, resolve, verifySteps } from './generate.ts';

export interface CheckOptions {
  readonly invariants: readonly Invariant[];
  readonly variant: VariantInfo | null;
  readonly seed: number;
  readonly runs: number;
  readonly maxSteps: number;
  /** Fewest steps per sequence (a soak: long sequences only). */
  readonly minSteps?: number;
  readonly timeMs: number;
  /** Only this file system (a registered type's name). */
  readonly fs?: string | undefined;
  /** Only such systems (default: the variant's own restriction, if any). */
  readonly systems?: SystemHint | undefined;
  readonly gen?: GenOptions;
  /** Called at most every `progressMs` with running totals. */
  readonly onProgress?: (p: Progress) => void;
  readonly progressMs?: number;
  /**
   * Polled before each generated sequence while nothing has failed (several
   * workers, checker/jobs.ts): true ends the search there, as the time
   * budget does; the sequences run so far stay repeatable.
   */
  readonly shouldStop?: () => boolean;
  /**
   * Called at the first failing sequence: false (another worker failed
   * first) ends the search there without a counterexample and without
   * shrinking.
   */
  readonly claimFailure?: () => boolean;
  /** Called with each generated input of the search (not of shrinking), as it runs. */
  readonly onInput?: (input: Input) => void;
}

export interface Progress {
  readonly runs: number;
  readonly steps: number;
  readonly elapsedMs: number;
  readonly phase: 'search' | 'shrink';
}

export interface Counterexample {
  readonly system: SystemDoc;
  readonly steps: Step[];
  readonly results: StepResult[];
  readonly violation: Violation;
  /** fast-check's replay path. */
  readonly path: string;
  /** Steps in the failing run before shrinking. */
  readonly originalSteps: number;
}

export interface CheckReport {
  readonly seed: number;
  readonly runs: number;
  /** Generated sequences up to and including the first failing one (fast-check's numRuns), or null. */
  readonly runsToFailure: number | null;
  readonly steps: number;
  readonly elapsedMs: number;
  /** Steps by op, over every run (search and shrinking). */
  readonly ops: Record<string, number>;
  /** Failed steps by errno. */
  readonly errnos: Record<string, number>;
  /**
   * What the generated steps reached, by name: flags used, atomic writes
   * accepted, crashes with writes not yet durable, reads after a crash,
   * clones, ...  A run that never reaches an interesting state shows here.
   */
  readonly reached: Record<string, number>;
  /**
   * Every coverage point the model declares (model/lib/coverage.ts) and how
   * many times the run passed it; zero: never reached.
   */
  readonly coverage: Record<string, number>;
  /** Sequences that ran into a known upstream finding (checker/findings.ts), by id. */
  readonly findings: Record<string, number>;
  /**
   * With a variant: the sequences in which the variant's changed code ran
   * (its knob was consulted, Knobs.reached); null on upstream.  Zero means
   * the run checked nothing of the variant.
   */
  readonly variantSequences: number | null;
  /**
   * The number of generated sequences that `--seed` and `--runs` repeat
   * exactly (fast-check's numRuns: the search, without shrinking).
   */
  readonly repeatRuns: number;
  /** Sequences the time budget cut short (soak; not part of repeatRuns). */
  readonly cutShort?: number;
  readonly counterexample: Counterexample | null;
}

export interface Input {
  readonly system: SystemDoc;
  readonly recipes: readonly Recipe[];
  /** The fscrypt policy flags of directory d (encrypted ext4 only; the IV_INO_LBLK ones need stable_inodes). */
  readonly policy: readonly PolicyFlag[];
}

type PolicyFlag = 'IV_INO_LBLK_64' | 'IV_INO_LBLK_32';

export function knobsOf(v: VariantInfo | null): Knobs {
  if (v === null) return UPSTREAM;
  return variantKnobs(v);
}

/**
 * The recipes, then a final full read-back of every open file.  On an ext4
 * made with the encrypt feature, directory d is encrypted first (fscrypt
 * v2), so that files under it are encrypted.
 */
export function recipesToSources(system: SystemDoc, recipes: readonly Recipe[], policy: readonly PolicyFlag[]): StepSource[] {
  const out: StepSource[] = recipes.map((r) => (sys: System) => resolve(r, sys) as StepSource | StepSource[]);
  if ((system.features ?? []).includes('encrypt')) out.unshift(policy.length > 0 ? { op: 'encrypt_dir', path: 'd', flags: [...policy] } : { op: 'encrypt_dir', path: 'd' });
  out.push((sys: System) => verifySteps(sys));
  return out;
}

/** Run an input; a geometry the resolver refuses counts as passing. */
function runInput(input: Input, knobs: Knobs, invariants: readonly Invariant[], onStep?: (s: Step, r: StepResult) => void, keep = false, stateEvery = 1, stopAt?: number): CheckedRun | null {
  let sys: ResolvedSystem;
  try {
    sys = resolveSystem(input.system);
  } catch {
    return null;
  }
  const opts: ExecOptions = stopAt === undefined ? { onStep, keepOutcomes: keep, stateEvery } : { onStep, keepOutcomes: keep, stateEvery, stopAt };
  return runChecked(sys, knobs, recipesToSources(input.system, input.recipes, input.policy), invariants, opts);
}

/**
 * Delta debugging on the concrete steps (Zeller's ddmin, complement
 * removal): drop chunks of steps — halves first, then quarters, down to
 * single steps — while the same invariant still fails, then single steps
 * again until nothing more can go.  A run stops at its violation, so what
 * follows it is gone after the first run; a long run with a few relevant
 * steps shrinks in a number of runs close to (relevant steps) x log(length).
 */
export function minimizeSteps(system: SystemDoc, knobs: Knobs, steps: Step[], invariants: readonly Invariant[], id: string): CheckedRun {
  const cfg = resolveSystem(system);
  const only = invariants.filter((i) => i.id === id);
  const run = (s: Step[]) => runChecked(cfg, knobs, s, only, { keepOutcomes: true });
  let best = run(steps);
  if (best.violation === null) return best;
  let cur = best.steps.slice();
  const attempt = (cand: Step[]): boolean => {
    if (cand.length === 0) return false;
    const r = run(cand);
    if (r.violation === null || r.violation.invariant !== id) return false;
    cur = r.steps.slice();
    best = r;
    return true;
  };
  for (let chunk = Math.floor(cur.length / 2); chunk >= 1; chunk = chunk === 1 ? 0 : Math.max(1, Math.floor(chunk / 2))) {
    // From the end backwards: later steps depend on earlier ones, rarely the other way round.
    for (let end = cur.length; end > 0; ) {
      const start = Math.max(0, end - chunk);
      attempt(cur.slice(0, start).concat(cur.slice(end)));
      end = Math.min(start, cur.length);
    }
  }
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = cur.length - 1; i >= 0; i--) if (cur.length > 1 && attempt(cur.slice(0, i).concat(cur.slice(i + 1)))) changed = true;
  }
  // Then make each remaining step plainer where the failure does not need the detail.
  for (let i = 0; i < cur.length; i++) {
    for (const simpler of simplifications(cur[i]!)) {
      if (i < cur.length && attempt(cur.slice(0, i).concat([simpler], cur.slice(i + 1)))) break;
    }
  }
  return best;
}

/**
 * Plainer forms of a step, most drastic first: a write without the racing
 * store, one buffer instead of several, no buffer offset, fewer flags; a
 * crash that keeps everything or nothing.
 */
function simplifications(s: Step): Step[] {
  return match(s)
    .with({ op: 'pwrite' }, (w) => {
      const out: Step[] = [];
      const { storeDuringIo: _race, ...noRace } = w;
      if (w.storeDuringIo !== undefined) out.push(noRace);
      const iov = w.iov;
      if (iov !== undefined && iov.length > 0) {
        const { iov: _iov, ...rest } = noRace;
        out.push({ ...rest, length: iov.reduce((n, v) => n + v.length, 0), fill: iov[iov.length - 1]!.fill });
      }
      if ((w.bufOffset ?? 0) !== 0) out.push({ ...noRace, bufOffset: 0 });
      for (const f of w.flags ?? []) out.push({ ...noRace, flags: (w.flags ?? []).filter((x) => x !== f) });
      return out;
    })
    .with({ op: 'pread' }, (r) => [
      ...((r.bufOffset ?? 0) !== 0 ? [{ ...r, bufOffset: 0 }] : []),
      ...(r.flags ?? []).map((f) => ({ ...r, flags: (r.flags ?? []).filter((x) => x !== f) })),
    ])
    .with({ op: 'open' }, (o) => o.flags.filter((f) => f !== 'O_RDWR' && f !== 'O_CREAT').map((f) => ({ ...o, flags: o.flags.filter((x) => x !== f) })))
    .with({ op: 'crash' }, (c) => (c.keep === 'all' || c.keep === 'none' ? [] : [{ op: 'crash' as const, keep: 'all' as const }, { op: 'crash' as const, keep: 'none' as const }]))
    // Nothing to make plainer: no flags, buffers or choices the failure could do without.
    .with(
      { op: 'close' }, { op: 'mkdir' }, { op: 'encrypt_dir' }, { op: 'fsync' }, { op: 'fdatasync' }, { op: 'ftruncate' }, { op: 'fallocate' }, { op: 'clone' },
      { op: 'mmap_write' }, { op: 'statx' }, { op: 'fiemap' }, { op: 'setflags' }, { op: 'sync' }, { op: 'remount' }, { op: 'writeback' }, { op: 'complete' }, { op: 'journal_commit' },
      { op: 'reclaim' }, { op: 'device_error' },
      () => [],
    )
    .exhaustive();
}

/** Count what a step reached (CheckReport.reached). */
export function noteReached(reached: Record<string, number>, s: Step, r: StepResult, afterCrash: boolean): void {
  const bump = (k: string): void => {
    reached[k] = (reached[k] ?? 0) + 1;
  };
  const ok = r.errno === undefined && r.internal === undefined;
  if (s.op === 'open') for (const f of s.flags) if (f !== 'O_RDWR' && f !== 'O_CREAT') bump(f);
  // A number among the flags is one no kernel defines (the generator asks with 0x400 whether it is refused).
  if (s.op === 'pwrite' || s.op === 'pread') for (const f of s.flags ?? []) bump(`${/^0x/.test(f) ? `undefined RWF ${f}` : f} ${s.op}${ok ? '' : ' (refused)'}`);
  if (s.op === 'pwrite' && ok && (s.flags ?? []).includes('RWF_ATOMIC')) bump('atomic write done');
  if (s.op === 'pwrite' && s.storeDuringIo !== undefined) bump('buffer changed during a write');
  if (s.op === 'crash' && r.crash !== undefined) bump(r.crash.pending > 0 ? 'crash with writes not durable' : 'crash with nothing pending');
  if (s.op === 'crash' && r.crash !== undefined && r.crash.kept.length > 0) bump('crash that kept part of the pending writes');
  if (s.op === 'pread' && afterCrash && ok && (r.ret ?? 0) > 0) bump('read after a crash');
  if (s.op === 'clone' && ok) bump('clone done');
  if (s.op === 'fallocate' && ok) bump(`fallocate ${s.mode === 0 || s.mode.length === 0 ? 'allocate' : s.mode.join('|')}`);
  if (s.op === 'mmap_write' && ok) bump('store through mmap');
  if (s.op === 'device_error') bump('device error injected');
}

/**
 * What sequences look like for a variant: the RWF_WRITETHROUGH RFC's use the
 * flag often, with many stores through a mapping (what the RFC's folio
 * handling must survive); on systems chosen for atomic writes, many
 * RWF_ATOMIC writes; on systems chosen for inline encryption, the file in
 * the encrypted directory first.
 */
function genFor(knobs: Knobs, hint: SystemHint | undefined, gen: GenOptions | undefined): GenOptions | undefined {
  if (knobs.has('writethrough-rfc')) return { ...gen, writethrough: true, weights: { mmap_write: 10, ...gen?.weights } };
  if (hint === 'atomic-bigalloc' || hint === 'atomic-hw') return { ...gen, weights: { awrite: 12, ...gen?.weights } };
  // Systems chosen for inline encryption: mostly the file in the encrypted directory.
  if (hint === 'inline-crypto') return { ...gen, paths: gen?.paths ?? ['d/h', 'f', 'g'] };
  return gen;
}

/** Inputs kept for the generator's feedback (at most, per run). */
const CORPUS_MAX = 512;

/**
 * Coverage feedback: a quarter of the inputs extend one that passed a rare
 * coverage point (its 1st, 2nd, 4th, 8th or 16th pass: model/lib/coverage.ts)
 * with fresh random steps, the rest are drawn as usual.  The corpus grows while the
 * search runs, in the order fast-check asks for inputs, so a seed and a
 * count still repeat a run.  An extended input shrinks its new steps
 * (fast-check), then every step (minimizeSteps).
 */
class FeedbackArbitrary extends fc.Arbitrary<Input> {
  constructor(
    private readonly fresh: fc.Arbitrary<Input>,
    private readonly tail: fc.Arbitrary<Recipe[]>,
    private readonly corpus: readonly Input[],
    private readonly maxSteps: number,
  ) {
    super();
  }

  generate(mrng: fc.Random, bias: number | undefined): fc.Value<Input> {
    if (this.corpus.length > 0 && mrng.nextInt(0, 3) === 0) {
      const base = this.corpus[mrng.nextInt(0, this.corpus.length - 1)]!;
      if (base.recipes.length < this.maxSteps) {
        const t = this.tail.generate(mrng, bias);
        return new fc.Value(this.extend(base, t.value_), { base, t });
      }
    }
    const v = this.fresh.generate(mrng, bias);
    return new fc.Value(v.value_, { v });
  }

  private extend(base: Input, tail: readonly Recipe[]): Input {
    return { ...base, recipes: [...base.recipes, ...tail.slice(0, this.maxSteps - base.recipes.length)] };
  }

  canShrinkWithoutContext(_value: unknown): _value is Input {
    return false;
  }

  shrink(_value: Input, context: unknown): fc.Stream<fc.Value<Input>> {
    const c = context as { base: Input; t: fc.Value<Recipe[]> } | { v: fc.Value<Input> } | undefined;
    if (c === undefined) return fc.Stream.nil();
    if ('v' in c) return this.fresh.shrink(c.v.value_, c.v.context).map((v) => new fc.Value(v.value_, { v }));
    return this.tail.shrink(c.t.value_, c.t.context).map((t) => new fc.Value(this.extend(c.base, t.value_), { base: c.base, t }));
  }
}

export function check(opts: CheckOptions): CheckReport {
  resetCoverage();
  const knobs = knobsOf(opts.variant);
  const hint = opts.systems ?? opts.variant?.systems;
  const fsOnly = opts.fs ?? (opts.variant?.fs !== undefined && opts.variant.fs.length === 1 ? opts.variant.fs[0] : undefined);
  // Encrypted systems: a quarter each with IV_INO_LBLK_64 and IV_INO_LBLK_32 policies (made with stable_inodes).
  const policyArb = fc.constantFrom<readonly PolicyFlag[]>([], [], ['IV_INO_LBLK_64'], ['IV_INO_LBLK_32']);
  const gen = genFor(knobs, hint, opts.gen);
  const freshArb: fc.Arbitrary<Input> = fc.record({
    system: arbSystem({ fs: fsOnly, hint }),
    policy: policyArb,
    recipes: arbRecipes(opts.maxSteps, gen, opts.minSteps ?? 0),
  }).map((i) => {
    const features = i.system.features ?? [];
    if (!features.includes('encrypt')) return { ...i, policy: [] };
    return i.policy.length === 0 ? i : { ...i, system: { ...i.system, features: [...features, 'stable_inodes' as const] } };
  });
  // Feedback only for ordinary sequences (a soak's long ones are not extended).
  const corpus: Input[] = [];
  const feedback = opts.maxSteps <= 200 && (opts.minSteps ?? 0) === 0;
  const arb = feedback ? new FeedbackArbitrary(freshArb, fc.array(arbRecipe(gen ?? {}), { minLength: 1, maxLength: Math.max(1, Math.floor(opts.maxSteps / 2)) }), corpus, opts.maxSteps) : freshArb;
  const ops: Record<string, number> = {};
  const errnos: Record<string, number> = {};
  let runs = 0;
  let steps = 0;
  let failures = 0;
  let firstFailSteps = 0;
  const findings: Record<string, number> = {};
  const t0 = Date.now();
  let lastProgress = t0;
  const every = opts.progressMs ?? 1000;
  const reached: Record<string, number> = {};
  let crashedBefore = false;
  const onStep = (s: Step, r: StepResult): void => {
    steps++;
    ops[s.op] = (ops[s.op] ?? 0) + 1;
    if (r.errno !== undefined) errnos[r.errno] = (errnos[r.errno] ?? 0) + 1;
    noteReached(reached, s, r, crashedBefore);
    if (s.op === 'crash') crashedBefore = true;
  };
  let variantSequences = 0;
  // A soak keeps its own budget: the sequence in flight when it ends (being generated or run) is
  // cut, so a soak that runs out of time always says so. fast-check's own limit, timed from its
  // start a little later, could otherwise end the search silently between a long generation and
  // its run.
  const soak = opts.maxSteps > 1000;
  const deadline = t0 + opts.timeMs;
  let cutShort = 0;
  let cutInRun = 0;
  const prop = fc.property(arb, (input) => {
    // Another worker's counterexample ends this search (fast-check counts the run as not made).
    if (failures === 0 && opts.shouldStop?.() === true) throw new fc.PreconditionFailure(true);
    if (soak && failures === 0 && Date.now() > deadline) {
      // Unless the budget ran out in the run before (that one is the cut sequence): cut before step 1.
      if (cutInRun === 0) cutShort++;
      throw new fc.PreconditionFailure(true);
    }
    if (failures === 0) opts.onInput?.(input);
    runs++;
    crashedBefore = false;
    const reachedBefore = knobs.reached;
    const freshBefore = freshPoints();
    // Long sequences (a soak): the whole-state invariants every 16 steps (and at crashes, remounts, syncs).
    // A long sequence is cut at the budget (the summary says so; the repeat command leaves it out).
    const r = runInput(input, knobs, opts.invariants, onStep, false, soak ? 16 : 1, soak ? deadline : undefined);
    if (r?.cut === true) {
      cutShort++;
      cutInRun++;
    }
    if (knobs.reached > reachedBefore) variantSequences++;
    if (feedback && failures === 0 && freshPoints() > freshBefore && corpus.length < CORPUS_MAX) corpus.push(input);
    const now = Date.now();
    if (opts.onProgress !== undefined && now - lastProgress >= every) {
      lastProgress = now;
      opts.onProgress({ runs, steps, elapsedMs: now - t0, phase: failures > 0 ? 'shrink' : 'search' });
    }
    if (r === null || r.violation === null) return true;
    const known = knownFinding(input.system, r.steps, r.results, r.violation);
    if (known !== null) {
      findings[known.id] = (findings[known.id] ?? 0) + 1;
      return true;
    }
    if (failures === 0 && opts.claimFailure?.() === false) throw new fc.PreconditionFailure(true);
    failures++;
    if (failures === 1) firstFailSteps = r.steps.length;
    return false;
  });
  const details = fc.check(prop, {
    seed: opts.seed,
    numRuns: opts.runs,
    ...(soak ? {} : { interruptAfterTimeLimit: opts.timeMs }),
    markInterruptAsFailure: false,
    // Long sequences: fast-check's shrinking of the recipe arrays is slow there; ddmin on the steps is not.
    endOnFailure: opts.maxSteps > 200,
  });
  const coverage = coverageCounts();
  let counterexample: Counterexample | null = null;
  if (details.failed && details.counterexample !== null) {
    const input = details.counterexample[0];
    const r = runInput(input, knobs, opts.invariants, undefined, true);
    if (r !== null && r.violation !== null) {
      const min = minimizeSteps(input.system, knobs, r.steps, opts.invariants, r.violation.invariant);
      const final = min.violation !== null ? min : r;
      counterexample = {
        system: input.system,
        steps: final.steps,
        results: final.results,
        violation: final.violation!,
        path: details.counterexamplePath ?? '',
        originalSteps: Math.max(firstFailSteps, r.steps.length),
      };
    }
  }
  return {
    seed: opts.seed, runs, runsToFailure: details.failed && details.counterexample !== null ? details.numRuns : null, steps, elapsedMs: Date.now() - t0, ops, errnos, reached, coverage, findings,
    variantSequences: opts.variant === null ? null : variantSequences, repeatRuns: details.numRuns - cutInRun, cutShort, counterexample,
  };
}

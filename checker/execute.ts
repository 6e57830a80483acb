/**
 * Run a sequence of steps on a fresh model with the oracle and the
 * invariants watching; stop at the first violation.
 */
import type { Knobs } from '../model/variants.ts';
import type { StepOutcome, StepResult } from '../model/system.ts';
import { System } from '../model/system.ts';
import type { Source } from '../model/lib/sources.ts';
import { Oracle } from '../oracle/oracle.ts';
import type { Invariant, InvariantId, OracleInvariant, StateInvariant } from '../properties/index.ts';
import { MODEL_INTERNAL } from '../properties/index.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import { EVENT_BIT } from '../model/kernel.ts';
import { incrementalMode } from '../properties/incremental.ts';
import type { Step } from '../scenario/schema.ts';

export interface Violation {
  readonly invariant: InvariantId;
  /** 1-based step number. */
  readonly step: number;
  readonly detail: string;
}

export interface CheckedRun {
  /** The concrete steps executed (up to and including the violating one). */
  readonly steps: Step[];
  readonly results: StepResult[];
  readonly outcomes: StepOutcome[];
  readonly violation: Violation | null;
  readonly sys: System;
  /** Stopped at ExecOptions.stopAt before the input ran out. */
  readonly cut?: boolean;
}

/** A step, or a generator's recipe resolved against the current model state (possibly into more recipes). */
export type StepSource = Step | ((sys: System) => StepSource | StepSource[]);

export interface ExecOptions {
  /** Keep outcomes (for traces); off in the fuzzing hot path. */
  keepOutcomes?: boolean;
  /** Called after every step (progress, statistics). */
  onStep?: (step: Step, result: StepResult) => void;
  /**
   * Run the whole-state invariants (those that scan every file's folios or
   * extents, not the step's events) only every this many steps, and at
   * every crash, remount and sync: what keeps a soak of 10,000-step
   * sequences linear.  The oracle and the event invariants still see every
   * step; a violation found late is shrunk with every step checked.
   */
  stateEvery?: number;
  /** Stop (without a verdict on the rest) once the clock passes this time (Date.now() ms): a soak's budget. */
  stopAt?: number;
}

/** Steps after which the whole state is checked whatever the cadence. */
const ALWAYS_CHECKED = new Set<Step['op']>(['crash', 'remount', 'sync', 'fsync', 'fdatasync']);

const NO_SOURCES: readonly Source[] = [];

/** How runChecked calls a list of invariants, worked out once per list (a run of `check` calls it for thousands of sequences). */
interface CheckPlan {
  readonly stateChecks: ReadonlyArray<StateInvariant<InvariantId>>;
  readonly oracleInvs: ReadonlyArray<OracleInvariant<InvariantId>>;
  /** Some state check reads the step's events: the System records them. */
  readonly needEvents: boolean;
  /** Each state check's event types as one number (0: a whole-state check, called after every step). */
  readonly masks: readonly number[];
  /** The state checks' indices, all of them and the whole-state ones. */
  readonly allOrder: readonly number[];
  readonly wholeOrder: readonly number[];
}

// Keyed by the caller's list, which outlives the runs (a WeakMap keyed by short-lived objects is what docs/design.md warns of).
const PLANS = new WeakMap<readonly Invariant[], CheckPlan>();

const NO_CHECKS: CheckPlan = { stateChecks: [], oracleInvs: [], needEvents: false, masks: [], allOrder: [], wholeOrder: [] };

function planFor(invariants: readonly Invariant[]): CheckPlan {
  // A model-only run passes a new empty list each time: not a key to keep.
  if (invariants.length === 0) return NO_CHECKS;
  let p = PLANS.get(invariants);
  if (p === undefined) {
    const stateChecks = invariants.filter((i): i is StateInvariant<InvariantId> => i.kind === 'state');
    const masks = stateChecks.map((i) => i.events.reduce((m, t) => m | EVENT_BIT[t], 0));
    const allOrder = stateChecks.map((_, i) => i);
    p = {
      stateChecks,
      oracleInvs: invariants.filter((i): i is OracleInvariant<InvariantId> => i.kind === 'oracle'),
      needEvents: stateChecks.some((i) => i.events.length > 0),
      masks,
      allOrder,
      wholeOrder: allOrder.filter((i) => masks[i] === 0),
    };
    PLANS.set(invariants, p);
  }
  return p;
}

/** Sources created by the last step (the model's source table grows monotonically). */
export function newSources(sys: System, before: number): Source[] {
  const out: Source[] = [];
  for (let id = before + 1; id <= sys.sources.count; id++) {
    const s = sys.sources.get(id);
    if (s !== undefined) out.push(s);
  }
  return out;
}

export function runChecked(
  system: ResolvedSystem,
  knobs: Knobs,
  input: Iterable<StepSource>,
  invariants: readonly Invariant[],
  opts: ExecOptions = {},
): CheckedRun {
  const { stateChecks, oracleInvs, needEvents, masks, allOrder, wholeOrder } = planFor(invariants);
  const mode = incrementalMode();
  const sys = new System(system, knobs, { recording: needEvents });
  const oracle = new Oracle((id) => sys.sources.get(id));
  const steps: Step[] = [];
  const results: StepResult[] = [];
  const outcomes: StepOutcome[] = [];
  let violation: Violation | null = null;
  let cut = false;
  const stack: StepSource[] = [];
  const it = input[Symbol.iterator]();
  const { stopAt, keepOutcomes, onStep } = opts;
  const every = opts.stateEvery ?? 1;
  outer: for (;;) {
    let src = stack.pop();
    if (src === undefined) {
      const nx = it.next();
      if (nx.done === true) break;
      src = nx.value;
    }
    if (typeof src === 'function') {
      const produced = src(sys);
      if (!Array.isArray(produced)) stack.push(produced);
      else for (let i = produced.length - 1; i >= 0; i--) stack.push(produced[i]!);
      continue;
    }
    {
      const step = src;
      const n = steps.length + 1;
      if (stopAt !== undefined && n % 64 === 0 && Date.now() > stopAt) {
        cut = true;
        break;
      }
      const before = sys.sources.count;
      let out: StepOutcome;
      try {
        out = sys.exec(step, n);
      } catch (e) {
        // A model bug (an assertion the model makes about itself) is reported like a violation.
        steps.push(step);
        const msg = e instanceof Error ? `${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}` : String(e);
        const result: StepResult = { step: n, op: step.op, internal: msg };
        results.push({ ...result, internal: e instanceof Error ? e.message : String(e) });
        const d = MODEL_INTERNAL.check({ step, n, sys, out: { result, read: null, writePos: -1, crashReport: null, ioErrors: [] } });
        violation = { invariant: MODEL_INTERNAL.id, step: n, detail: d ?? `step ${n}: ${msg}` };
        break outer;
      }
      steps.push(step);
      results.push(out.result);
      if (keepOutcomes === true) outcomes.push(out);
      if (onStep !== undefined) onStep(step, out.result);
      if (oracleInvs.length > 0) {
        // The first fact one of the watched invariants decides.
        const facts = oracle.observe(step, n, out, sys.sources.count === before ? NO_SOURCES : newSources(sys, before));
        for (let k = 0; k < facts.length; k++) {
          const f = facts[k]!;
          const inv = oracleInvs.find((i) => i.decides(f));
          if (inv === undefined) continue;
          violation = { invariant: inv.id, step: n, detail: f.detail };
          break outer;
        }
      }
      const wholeState = every <= 1 || n % every === 0 || ALWAYS_CHECKED.has(step.op);
      // One context for every check of the step (an object per check and step was a twentieth of what the checker allocates).
      const ctx = { step, n, out, sys };
      // The event types the step recorded: an event check is called only after a step that recorded one of its own
      // (after a step that recorded none, only the whole-state checks are looked at, in the same order).
      const recorded = sys.eventTypes;
      const order = recorded === 0 && mode === 'on' ? wholeOrder : allOrder;
      for (let k = 0; k < order.length; k++) {
        const i = order[k]!;
        const inv = stateChecks[i]!;
        const mask = masks[i]!;
        if (mask === 0 && !wholeState) continue;
        const skip = mask !== 0 && (mask & recorded) === 0;
        if (skip && mode === 'on') continue;
        const d = inv.check(ctx);
        if (d === null) continue;
        if (skip && mode === 'audit') throw new Error(`checker bug: ${inv.id} fails at step ${n} although the step recorded none of the event types it declares (${inv.events.join(', ')}): ${d}`);
        violation = { invariant: inv.id, step: n, detail: d };
        break outer;
      }
    }
  }
  return { steps, results, outcomes, violation, sys, cut };
}

/**
 * `iospec crashes FILE`: bounded crash exploration on the real kernel, as
 * CrashMonkey does.  The scenario runs once up to its first crash, through
 * the FUSE recorder, which logs the writes the device had not made durable
 * (kernel/helper/iospec-blkrec.c).  Then each crash state — none of those
 * writes, all of them, the first k in order, all but one, and random
 * subsets of their 512-byte sectors, up to `max` states — is built from the
 * log, mounted (`crash_state`: what the scenario's remount would do), and
 * the rest of the scenario runs on it.  Each state's answers are judged by
 * the model's oracle and its invariants (checker/kernel-judge.ts).
 */
import { readFileSync } from 'node:fs';
import type { StepResult } from '../model/system.ts';
import type { Violation } from '../checker/execute.ts';
import { judgeKernelRun } from '../checker/kernel-judge.ts';
import { knownFinding } from '../checker/findings.ts';
import { INVARIANTS } from '../properties/index.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { Step } from '../scenario/schema.ts';
import { requestLine } from './protocol.ts';
import { KernelUnavailable, withKernel } from './runner.ts';

/** A write the device had not made durable at the power cut: byte offset and length on the device. */
export interface VolatileWrite {
  readonly off: number;
  readonly len: number;
}

/** One crash state: a name, and the keep it gives the helper (and a scenario's crash step). */
export interface CrashState {
  readonly name: string;
  /** "all", "none", or [write index, first sector, sector count] triples. */
  readonly keep: 'all' | 'none' | ReadonlyArray<readonly [number, number, number]>;
}

export interface CrashStateResult {
  readonly state: CrashState;
  /** The kernel's answers from the remount on. */
  readonly results: readonly StepResult[];
  readonly violation: Violation | null;
  /** The known upstream finding the violation comes from (checker/findings.ts), if any. */
  readonly known: string | null;
}

export interface CrashExploration {
  readonly crashStep: number;
  readonly writes: readonly VolatileWrite[];
  readonly states: readonly CrashStateResult[];
  readonly elapsedMs: number;
}

/** The records of the recorder's log (u64 offset, u64 length, old bytes, new bytes). */
export function readVolatileLog(file: string): VolatileWrite[] {
  const b = readFileSync(file);
  const out: VolatileWrite[] = [];
  for (let p = 0; p + 16 <= b.length; ) {
    const off = Number(b.readBigUInt64LE(p));
    const len = Number(b.readBigUInt64LE(p + 8));
    out.push({ off, len });
    p += 16 + 2 * len;
  }
  return out;
}

/** A small deterministic generator (mulberry32): a seed repeats its numbers anywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const whole = (w: VolatileWrite, i: number): [number, number, number] => [i, Math.floor(w.off / 512), Math.ceil(w.len / 512)];

/**
 * Up to `max` distinct crash states of these writes: none, all, the first k
 * (the order a device that keeps its queue in order would leave), all but
 * one, then random subsets of whole writes and of sectors.
 */
export function crashStates(writes: readonly VolatileWrite[], max: number, seed: number): CrashState[] {
  const out: CrashState[] = [];
  const seen = new Set<string>();
  const total = writes.reduce((n, w) => n + Math.ceil(w.len / 512), 0);
  const add = (name: string, keep: CrashState['keep']): void => {
    // A list that keeps every sector is "all"; one that keeps none is "none".
    if (typeof keep !== 'string' && keep.length === 0) return;
    if (typeof keep !== 'string' && keep.reduce((n, k) => n + k[2], 0) === total) return;
    const key = JSON.stringify(keep);
    if (out.length >= max || seen.has(key)) return;
    seen.add(key);
    out.push({ name, keep });
  };
  add('none of the writes not flushed', 'none');
  add('all of them', 'all');
  for (let k = 1; k < writes.length; k++) add(`the first ${k} of ${writes.length}`, writes.slice(0, k).map(whole));
  for (let i = 0; i < writes.length && writes.length > 1; i++) add(`all but write ${i}`, writes.flatMap((w, j) => (j === i ? [] : [whole(w, j)])));
  const r = rng(seed);
  const sectors = writes.reduce((n, w) => n + Math.ceil(w.len / 512), 0);
  // Random subsets, whole writes first, then sectors; enough tries to fill `max` where the space allows.
  for (let tries = 0; out.length < max && tries < max * 20; tries++) {
    if (tries % 2 === 0 && writes.length > 1) {
      const keep = writes.flatMap((w, j) => (r() < 0.5 ? [whole(w, j)] : []));
      add(`writes ${keep.map((k) => k[0]).join(',') || '(none)'}`, keep.length === 0 ? 'none' : keep);
      continue;
    }
    if (sectors === 0) break;
    const keep: Array<[number, number, number]> = [];
    writes.forEach((w, j) => {
      const first = Math.floor(w.off / 512);
      let run: [number, number, number] | null = null;
      for (let s = 0; s < Math.ceil(w.len / 512); s++) {
        if (r() < 0.5) {
          if (run !== null && run[1] + run[2] === first + s) run[2]++;
          else keep.push((run = [j, first + s, 1]));
        } else run = null;
      }
    });
    add(`sectors of ${keep.length} run(s)`, keep.length === 0 ? 'none' : keep);
  }
  return out;
}

function keepArg(keep: CrashState['keep']): string {
  return typeof keep === 'string' ? keep : keep.map(([i, s, c]) => `${i}:${s}:${c}`).join(',') || 'none';
}

/** The first crash step that a remount follows (0-based), or an explanation. */
export function crashPoint(steps: readonly Step[]): number | string {
  const c = steps.findIndex((s) => s.op === 'crash');
  if (c < 0) return 'the scenario has no crash step';
  if (steps[c + 1]?.op !== 'remount') return `step ${c + 1} is a crash that no remount follows: there is nothing to judge after it`;
  return c;
}

export async function exploreCrashes(sc: LoadedScenario, o: { max: number; seed: number; onState?: (done: number, total: number) => void }): Promise<CrashExploration> {
  const t0 = Date.now();
  const system = sc.system;
  const steps = sc.doc.steps;
  const c = crashPoint(steps);
  if (typeof c === 'string') throw new Error(c);
  return withKernel(system, steps, async (send, ws) => {
    if (ws.recorder === null) throw new KernelUnavailable('crash exploration needs the FUSE recorder (IOSPEC_KERNEL_CRASH=fs turns it off)');
    const pre: StepResult[] = [];
    for (let i = 0; i <= c; i++) pre.push(await send(requestLine(steps[i]!, i + 1)));
    const writes = readVolatileLog(`${ws.recorder.log}.crash`);
    const states = crashStates(writes, o.max, o.seed);
    const done: CrashStateResult[] = [];
    for (const state of states) {
      const results: StepResult[] = [await send(`step=${c + 2} op=crash_state keep=${keepArg(state.keep)}`)];
      for (let i = c + 2; i < steps.length; i++) results.push(await send(requestLine(steps[i]!, i + 1)));
      const all = [...pre, ...results];
      const violation = judgeKernelRun(system, steps, all, c + 2, INVARIANTS);
      const known = violation === null ? null : knownFinding(sc.doc.system, steps, all, violation)?.id ?? null;
      done.push({ state, results, violation, known });
      o.onState?.(done.length, states.length);
    }
    return { crashStep: c + 1, writes, states: done, elapsedMs: Date.now() - t0 };
  });
}

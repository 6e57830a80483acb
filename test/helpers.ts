/**
 * Test helpers: run inline scenarios on the model.
 */
import { parseScenario } from '../scenario/load.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { runOnModel } from '../scenario/run.ts';
import type { ModelRun } from '../scenario/run.ts';
import type { Step, SystemDoc } from '../scenario/schema.ts';
import type { StepResult } from '../model/system.ts';
import { System } from '../model/system.ts';

/** The small scope: the variant, invariant and upstream tests run every sequence of up to this many operations. */
export const SMALL_SCOPE = 3;

export function scenario(system: SystemDoc, steps: Step[], variant: Record<string, boolean> = {}): LoadedScenario {
  return parseScenario({ format: 'iospec-scenario/1', system, variant, steps });
}

export function run(system: SystemDoc, steps: Step[], variant: Record<string, boolean> = {}): ModelRun {
  return runOnModel(scenario(system, steps, variant));
}

/** Run with event recording on, returning the System and per-step events. */
export function runRecorded(system: SystemDoc, steps: Step[]): { sys: System; results: StepResult[]; events: System['events'][] } {
  const sc = scenario(system, steps);
  const sys = new System(sc.system, sc.knobs, { recording: true });
  const results: StepResult[] = [];
  const events: System['events'][] = [];
  steps.forEach((s, i) => {
    results.push(sys.exec(s, i + 1).result);
    events.push(sys.events.slice());
  });
  return { sys, results, events };
}

export const open = (path: string, fd: string, ...flags: string[]): Step => ({ op: 'open', path, fd, flags });
export const pwrite = (fd: string, offset: number, length: number, fill: number, extra: Partial<Extract<Step, { op: 'pwrite' }>> = {}): Step => ({ op: 'pwrite', fd, offset, length, fill, ...extra });
export const pread = (fd: string, offset: number, length: number, extra: Partial<Extract<Step, { op: 'pread' }>> = {}): Step => ({ op: 'pread', fd, offset, length, ...extra });
export const statx = (fd: string): Step => ({ op: 'statx', fd, mask: ['STATX_BASIC_STATS', 'STATX_DIOALIGN'] });

/**
 * Counterexample files: a scenario plus `violates`, the seed and the
 * fast-check path, with every fuzzer choice made explicit (crash choices
 * become explicit `keep` lists) so that replay does not depend on the
 * generator.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScenarioDoc, Step, SystemDoc } from '../scenario/schema.ts';
import type { StepResult } from '../model/system.ts';
import type { Violation } from './execute.ts';

/** Replace each crash step's generated pattern by the explicit choice it made. */
export function explicitSteps(steps: readonly Step[], results: readonly StepResult[]): Step[] {
  return steps.map((s, i) => {
    if (s.op !== 'crash') return s;
    const r = results[i];
    const c = r?.crash;
    if (c === undefined) return { op: 'crash' };
    if (c.pending === 0) return { op: 'crash' };
    if (c.kept.length === 0) return { op: 'crash', keep: 'none' };
    return { op: 'crash', keep: c.kept.map((k) => [k[0], k[1], k[2]] as [number, number, number]) };
  });
}

export function counterexampleDoc(
  system: SystemDoc,
  variant: string | null,
  steps: readonly Step[],
  results: readonly StepResult[],
  v: Violation,
  seed: number,
  path: string,
): ScenarioDoc {
  return {
    format: 'iospec-scenario/1',
    name: `${v.invariant}${variant !== null ? ` on ${variant}` : ''}`,
    description: `Found by iospec check (seed ${seed}). ${v.detail}`,
    system,
    variant: variant !== null ? { [variant]: true } : {},
    steps: explicitSteps(steps, results),
    violates: v,
    seed,
    path,
  };
}

export function counterexampleFileName(doc: ScenarioDoc): string {
  const inv = (doc.violates?.invariant ?? 'unknown').replace(/\//g, '--');
  const variant = Object.keys(doc.variant ?? {})[0] ?? 'upstream';
  return `${variant}.${inv}.${doc.seed ?? 0}.json`;
}

/** Where runs write what they find: never the tracked corpus (counterexamples/*.json), which is changed only by moving a file there on purpose. */
export const NEW_COUNTEREXAMPLES = 'counterexamples/new';

/**
 * Write a counterexample into `dir`; returns the path.  An existing file is
 * never replaced: the name gets the next free number (NAME.2.json, NAME.3.json, ...).
 */
export function writeCounterexample(dir: string, doc: ScenarioDoc): string {
  mkdirSync(dir, { recursive: true });
  const name = counterexampleFileName(doc);
  let file = join(dir, name);
  for (let k = 2; existsSync(file); k++) file = join(dir, name.replace(/\.json$/, `.${k}.json`));
  writeFileSync(file, formatScenario(doc));
  return file;
}

/** Pretty JSON with one step per line (readable in a review, diff-friendly). */
export function formatScenario(doc: ScenarioDoc): string {
  const { steps, expect, ...head } = doc;
  const headJson = JSON.stringify(head, null, 2);
  const lines = (xs: readonly unknown[]) => xs.map((s) => `    ${JSON.stringify(s)}`).join(',\n');
  let out = `${headJson.slice(0, -2)},\n  "steps": [\n${lines(steps)}\n  ]`;
  if (expect !== undefined) out += `,\n  "expect": [\n${lines(expect)}\n  ]`;
  return `${out}\n}\n`;
}

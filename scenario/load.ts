/**
 * Reading scenario files: JSON parsing, schema validation and geometry
 * checks, each failure reported as one line naming the step and the field.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import type { Knobs } from '../model/variants.ts';
import { findVariant, knobsFor } from '../model/variants.ts';
import type { ScenarioDoc } from './schema.ts';
import { schemas } from './schema.ts';
import type { ResolvedSystem } from './resolve.ts';
import { GeometryError, resolveSystem } from './resolve.ts';
import { isInvariantId } from '../properties/index.ts';

export interface LoadedScenario {
  readonly doc: ScenarioDoc;
  readonly system: ResolvedSystem;
  readonly knobs: Knobs;
}

export class ScenarioError extends Error {}

/** Render a zod issue path like `steps[3] (pwrite).length`. */
function where(raw: unknown, path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  let cur: unknown = raw;
  for (let i = 0; i < path.length; i++) {
    const p = path[i]!;
    if (typeof p === 'number') {
      out += `[${p}]`;
      const next: unknown = Array.isArray(cur) ? cur[p] : undefined;
      if (i === 1 && path[0] === 'steps' && next !== null && typeof next === 'object' && 'op' in next) {
        out += ` (step ${p + 1}, ${String((next as { op: unknown }).op)})`;
      }
      cur = next;
    } else {
      out += out === '' ? String(p) : `.${String(p)}`;
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[String(p)] : undefined;
    }
  }
  return out === '' ? '(document)' : out;
}

/**
 * The issue to report.  A union none of whose options fits says what the
 * field takes (its own message); but when the value has the shape of one
 * option (an object for `inlineCrypto`, a list for a crash's `keep`) and
 * only that option's content is wrong, that option's first issue is the
 * one to report, at its full path.
 */
function innermost(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const shaped = issue.errors.filter((errs) => errs.length > 0 && !errs.every((e) => e.path.length === 0 && (e.code === 'invalid_type' || e.code === 'invalid_value')));
  const first = shaped.length === 1 ? preferred(shaped[0]!) : undefined;
  return first === undefined ? issue : innermost({ ...first, path: [...issue.path, ...first.path] });
}

/** The issue to report of several: an unknown field first (a misspelt name also makes the real one "missing"). */
function preferred(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue | undefined {
  return issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
}

function describe(issue: z.core.$ZodIssue, raw: unknown): string {
  const iss = innermost(issue);
  return `${where(raw, iss.path)}: ${iss.message}`;
}

/** Validate a parsed JSON document as a scenario. */
export function parseScenario(raw: unknown): LoadedScenario {
  const r = schemas().ScenarioSchema.safeParse(raw);
  if (!r.success) {
    const first = preferred(r.error.issues);
    throw new ScenarioError(first === undefined ? 'invalid scenario' : describe(first, raw));
  }
  const doc = r.data;
  for (const name of Object.keys(doc.variant ?? {})) {
    if (findVariant(name) === undefined) throw new ScenarioError(`variant.${name}: unknown variant (see \`iospec variants\`)`);
  }
  if (doc.violates !== undefined && !isInvariantId(doc.violates.invariant)) throw new ScenarioError(`violates.invariant: unknown invariant "${doc.violates.invariant}" (see \`iospec invariants\`)`);
  let system: ResolvedSystem;
  try {
    system = resolveSystem(doc.system);
  } catch (e) {
    if (e instanceof GeometryError) throw new ScenarioError(`${e.field}: ${e.message}`);
    throw e;
  }
  return { doc, system, knobs: knobsFor(doc.variant ?? {}) };
}

/**
 * The scenario with one more design variant switched on (`run --variant`,
 * `replay --variant`): a finding's scenario replayed with its fix, say.
 */
export function withVariant(sc: LoadedScenario, name: string): LoadedScenario {
  if (findVariant(name) === undefined) throw new ScenarioError(`--variant ${name}: unknown variant (see \`iospec variants\`)`);
  const variant = { ...(sc.doc.variant ?? {}), [name]: true };
  return { ...sc, doc: { ...sc.doc, variant }, knobs: knobsFor(variant) };
}

/** Read and validate a scenario file. */
export function loadScenario(file: string): LoadedScenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScenarioError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  try {
    return parseScenario(raw);
  } catch (e) {
    if (e instanceof ScenarioError) throw new ScenarioError(`${file}: ${e.message}`);
    throw e;
  }
}

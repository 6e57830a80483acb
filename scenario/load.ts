/**
 * Reading scenario files: JSON parsing, schema validation and geometry
 * checks, each failure reported as one line naming the step and the field.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import type { Knobs } from '../model/variants.ts';
import { findVariant, knobsFor } from '../model/variants.ts';
import type { ScenarioDoc } from './schema.ts';
import { ScenarioSchema } from './schema.ts';
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

function describe(issue: z.core.$ZodIssue, raw: unknown): string {
  const at = where(raw, issue.path);
  if (issue.code === 'invalid_union' && issue.path.length === 2 && issue.path[0] === 'steps') {
    return `${at}: unknown or malformed step`;
  }
  if (issue.code === 'invalid_union' && issue.path[issue.path.length - 1] === 'op') {
    return `${at}: unknown op`;
  }
  return `${at}: ${issue.message}`;
}

/** Validate a parsed JSON document as a scenario. */
export function parseScenario(raw: unknown): LoadedScenario {
  const r = ScenarioSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
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

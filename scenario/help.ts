/**
 * The scenario format as the schema says it (scenario/schema.ts), for
 * `iospec run --help` and for the test that keeps docs/scenario-format.md
 * current: the ops and their fields, each field's kind, the system and
 * device fields, the flag names.  Nothing here lists an op or a field by
 * hand: everything is read from the zod schema, so a new op or field
 * shows up here (and fails test/docs.test.ts until it is documented).
 */
import { z } from 'zod';
import { FIELD_INFO, MODEL_ONLY_OPS, schemas } from './schema.ts';
import type { FieldInfo, StepOp } from './schema.ts';
import { fs_types } from '../model/filesystems.ts';

export interface FieldDoc {
  readonly name: string;
  readonly required: boolean;
  /** Short form of what the field takes: "int 0..255", "fd", "[O_*]", "{length: ..., fill: ...}". */
  readonly kind: string;
  /** Only the model can do what this field asks. */
  readonly modelOnly: boolean;
}

export interface OpDoc {
  readonly op: StepOp;
  readonly fields: readonly FieldDoc[];
  /** The kernel runner answers the step {"unsupported": op} (MODEL_ONLY_OPS). */
  readonly modelOnly: boolean;
}

/** Where a field is, as the test of the reference document names it: "scenario", "system", "system.device", "steps.pwrite", "steps.pwrite.iov", ... */
export interface SchemaField {
  readonly where: string;
  readonly name: string;
}

function unwrap(s: z.core.$ZodType): { readonly inner: z.core.$ZodType; readonly optional: boolean } {
  let inner = s;
  let optional = false;
  while (inner instanceof z.ZodOptional) {
    optional = true;
    inner = inner.unwrap();
  }
  return { inner, optional };
}

function info(s: z.core.$ZodType): FieldInfo | undefined {
  return FIELD_INFO.get(s);
}

function big(n: number): string {
  if (n >= 2 ** 20 && (n & (n - 1)) === 0) return `2^${Math.log2(n)}`;
  return String(n);
}

/** The short form of what a schema takes, from its registered kind or else its structure. */
export function kindOf(s: z.core.$ZodType): string {
  const { inner } = unwrap(s);
  const k = info(inner)?.kind;
  if (k !== undefined) return k;
  if (inner instanceof z.ZodNumber) {
    const lo = inner.minValue ?? -Infinity;
    const hi = inner.maxValue ?? Infinity;
    const base = inner.isInt ? 'int' : 'number';
    if (lo <= -Number.MAX_SAFE_INTEGER && hi >= Number.MAX_SAFE_INTEGER) return base;
    if (hi >= Number.MAX_SAFE_INTEGER) return `${base} >= ${lo}`;
    return `${base} ${big(lo)}..${big(hi)}`;
  }
  if (inner instanceof z.ZodString) return 'string';
  if (inner instanceof z.ZodBoolean) return 'true|false';
  if (inner instanceof z.ZodLiteral) return [...inner.values].map((v) => JSON.stringify(v)).join('|');
  if (inner instanceof z.ZodEnum) return inner.options.map((v) => JSON.stringify(v)).join('|');
  if (inner instanceof z.ZodArray) return `[${kindOf(inner.element)}]`;
  if (inner instanceof z.ZodTuple) return `[${inner.def.items.map(kindOf).join(', ')}]`;
  if (inner instanceof z.ZodObject) return `{${fieldsOf(inner).map(fieldText).join(', ')}}`;
  if (inner instanceof z.ZodUnion) return inner.options.map(kindOf).join('|');
  if (inner instanceof z.ZodRecord) return `{name: ${kindOf(inner.valueType)}}`;
  return 'any';
}

function fieldsOf(o: z.ZodObject): FieldDoc[] {
  return Object.entries(o.shape).map(([name, s]) => {
    const { inner, optional } = unwrap(s);
    return { name, required: !optional, kind: kindOf(inner), modelOnly: info(inner)?.modelOnly === true };
  });
}

function fieldText(f: FieldDoc): string {
  return `${f.name}${f.required ? '' : '?'}${f.modelOnly ? ' (model only)' : ''}: ${f.kind}`;
}

/** Every op of the schema with its fields (the `op` field itself left out), in the schema's order. */
export function stepOps(): OpDoc[] {
  return schemas().StepSchema.options.map((o) => {
    const op = o.shape.op.value;
    return { op, fields: fieldsOf(o).filter((f) => f.name !== 'op'), modelOnly: MODEL_ONLY_OPS.has(op) };
  });
}

/** Every field of every object of the schema, nested ones included, with where it is. */
export function schemaFields(): SchemaField[] {
  const out: SchemaField[] = [];
  const walk = (s: z.core.$ZodType, where: string): void => {
    const { inner } = unwrap(s);
    if (inner instanceof z.ZodObject) {
      for (const [name, f] of Object.entries(inner.shape)) {
        out.push({ where, name });
        walk(f, `${where}.${name}`);
      }
    } else if (inner instanceof z.ZodArray) {
      walk(inner.element, where);
    } else if (inner instanceof z.ZodTuple) {
      for (const item of inner.def.items) walk(item, where);
    } else if (inner instanceof z.ZodRecord) {
      walk(inner.valueType, where);
    } else if (inner instanceof z.ZodUnion) {
      for (const o of inner.options) {
        // The steps: each option is named by its op.
        const op = o instanceof z.ZodObject ? o.shape['op'] : undefined;
        walk(o, op instanceof z.ZodLiteral ? `${where}.${String(op.value)}` : where);
      }
    }
  };
  walk(schemas().ScenarioSchema, 'scenario');
  // The top-level fields are "scenario"; what is under them is named from the top: "system", "steps.pwrite".
  return out.map((f) => ({ where: f.where === 'scenario' ? f.where : f.where.replace(/^scenario\./, ''), name: f.name }));
}

/** Every flag table a flag-list field names, once each: prefix and names. */
export function flagTables(): Array<{ readonly prefix: string; readonly names: readonly string[] }> {
  const seen = new Map<string, readonly string[]>();
  const walk = (s: z.core.$ZodType): void => {
    const { inner } = unwrap(s);
    const f = info(inner)?.flags;
    if (f !== undefined && !seen.has(f.prefix)) seen.set(f.prefix, f.names);
    if (inner instanceof z.ZodObject) for (const c of Object.values(inner.shape)) walk(c);
    else if (inner instanceof z.ZodArray) walk(inner.element);
    else if (inner instanceof z.ZodUnion) for (const o of inner.options) walk(o);
  };
  walk(schemas().ScenarioSchema);
  return [...seen].map(([prefix, names]) => ({ prefix, names }));
}

/** Lines of at most `width` columns: `head` padded to `indent`, then the parts separated by `sep`, continued under the first part. */
function wrap(head: string, parts: readonly string[], indent: number, width: number, sep = ', '): string[] {
  const lines: string[] = [];
  let cur = head.padEnd(indent);
  let empty = true;
  for (let i = 0; i < parts.length; i++) {
    const piece = parts[i]! + (i < parts.length - 1 ? sep.trimEnd() : '');
    const add = empty ? piece : ` ${piece}`;
    if (!empty && cur.length + add.length > width) {
      lines.push(cur);
      cur = ' '.repeat(indent) + piece;
    } else cur += add;
    empty = false;
  }
  lines.push(cur);
  return lines.map((l) => l.trimEnd());
}

/** The text `iospec run --help` prints after the options. */
export function runHelpText(width = 100): string {
  const ops = stepOps();
  const indent = Math.max(...ops.map((o) => o.op.length)) + 4;
  const lines: string[] = [];
  lines.push('', 'Scenario file (iospec-scenario/1): {"format": "iospec-scenario/1", "system": {...}, "steps": [...]}.');
  lines.push('Steps: {"op": OP, FIELD: VALUE, ...}; "?" marks an optional field, fd is a name the scenario chooses ("A").');
  for (const o of ops) {
    const parts = o.fields.map(fieldText);
    if (parts.length === 0) parts.push(o.modelOnly ? '(model only; no fields)' : '(no fields)');
    else if (o.modelOnly) parts[0] = `(model only) ${parts[0]!}`;
    lines.push(...wrap(`  ${o.op}`, parts, indent, width));
  }
  lines.push('Model-only steps and fields: the kernel runner (--kernel, diff) answers {"unsupported": OP} and goes on.');
  lines.push('');
  lines.push(...wrap('system:', fieldsOf(schemas().SystemSchema).filter((f) => f.name !== 'device').map(fieldText), 9, width));
  lines.push(...wrap('', fs_types().map((t) => `fs "${t.name}" takes features: ${Object.keys(t.features).join(', ') || 'none'}`), 9, width, '; '));
  const device = schemas().SystemSchema.shape.device.unwrap();
  lines.push(...wrap('device:', fieldsOf(device).map(fieldText), 9, width));
  lines.push('');
  lines.push('Flag names (or a hex value such as "0x40"):');
  for (const t of flagTables()) lines.push(...wrap(`  ${t.prefix}`, [...t.names], 16, width, ' '));
  lines.push('');
  lines.push('Reference: docs/scenario-format.md; examples to start from: examples/.');
  return lines.join('\n');
}

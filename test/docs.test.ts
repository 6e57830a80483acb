/**
 * The scenario format's reference (docs/scenario-format.md), the examples
 * (examples/), `iospec run --help` and the validation messages: the
 * reference names every field and op the schema has (a new field fails
 * here until it is documented); every example loads, runs on the model
 * without breaking an invariant and gives its recorded answers; where this
 * machine can, the kernel agrees with the model on it as `iospec diff`
 * compares them (skipped, with the reason in the test name, where it
 * cannot); the help lists every op; bad input says what is expected.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, parseScenario } from '../scenario/load.ts';
import { runOnModel } from '../scenario/run.ts';
import { runHelpText, schemaFields, stepOps } from '../scenario/help.ts';
import { compareResults } from '../kernel/compare.ts';
import { kernelUnsupportedReason, runOnKernel } from '../kernel/runner.ts';
import { probeKernel } from '../kernel/probe.ts';
import { replay } from '../checker/replay.ts';
import { UPSTREAM } from '../model/variants.ts';
import type { StepResult } from '../model/system.ts';

const ROOT = join(import.meta.dirname, '..');
const DOC = readFileSync(join(ROOT, 'docs', 'scenario-format.md'), 'utf8');
const EXAMPLES = join(ROOT, 'examples');
const FILES = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')).sort();

/** The text under the first heading that contains `needle`, down to the next heading of the same or a higher level (code blocks skipped). */
function section(needle: string): { level: number; text: string } | null {
  const lines = DOC.split('\n');
  let code = false;
  let start = -1;
  let level = 0;
  const out: string[] = [];
  for (const line of lines) {
    if (line.startsWith('```')) code = !code;
    const h = code ? null : /^(#+) /.exec(line);
    if (start < 0) {
      if (h !== null && line.includes(needle)) {
        start = 1;
        level = h[1]!.length;
        out.push(line);
      }
      continue;
    }
    if (h !== null && h[1]!.length <= level) break;
    out.push(line);
  }
  return start < 0 ? null : { level, text: out.join('\n') };
}

/** Where the reference documents the fields of an object of the schema. */
function sectionFor(where: string): string {
  if (where === 'scenario') return 'Top-level fields';
  if (where === 'system') return '`system`';
  if (where.startsWith('system.device')) return '`system.device`';
  if (where === 'violates') return '`violates`';
  const op = /^steps\.([a-z_]+)/.exec(where);
  if (op !== null) return `\`${op[1]}\``;
  throw new Error(`test: no section of docs/scenario-format.md is named for "${where}"; add one to sectionFor`);
}

describe('docs/scenario-format.md names everything the schema has', () => {
  it('has a section for every op, under Steps', () => {
    const ops = stepOps();
    expect(ops.length).toBeGreaterThan(20);
    for (const o of ops) {
      const s = section(`\`${o.op}\``);
      expect(s, `no heading naming op \`${o.op}\``).not.toBeNull();
      expect(s!.level, `op \`${o.op}\`'s heading`).toBe(3);
    }
    expect(section('Steps')?.text).toContain('`op`');
  });

  const fields = schemaFields().filter((f) => !(f.where.startsWith('steps.') && f.name === 'op'));
  it('walks the whole schema (top level, system, device, every op, nested objects)', () => {
    const wheres = new Set(fields.map((f) => f.where));
    for (const w of ['scenario', 'system', 'system.device', 'system.device.inlineCrypto', 'violates', 'steps.pwrite', 'steps.pwrite.iov', 'steps.pwrite.storeDuringIo', 'steps.crash']) expect(wheres).toContain(w);
    expect(fields.length).toBeGreaterThan(80);
  });
  for (const f of fields) {
    it(`${f.where}: \`${f.name}\``, () => {
      const s = section(sectionFor(f.where));
      expect(s, `docs/scenario-format.md has no section "${sectionFor(f.where)}"`).not.toBeNull();
      expect(s!.text, `the section "${sectionFor(f.where)}" of docs/scenario-format.md does not name \`${f.name}\` (a field of ${f.where})`).toContain(`\`${f.name}\``);
    });
  }

  it('names the model-only ops as such', () => {
    const s = section('Model-only steps')?.text ?? '';
    for (const o of stepOps().filter((x) => x.modelOnly)) expect(s).toContain(`\`${o.op}\``);
    for (const o of stepOps().filter((x) => x.modelOnly)) expect(section(`\`${o.op}\``)!.text).toMatch(/Model only/);
  });
});

describe('examples/', () => {
  it('has the examples a kernel developer starts from, and a README naming each', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(5);
    const readme = readFileSync(join(EXAMPLES, 'README.md'), 'utf8');
    for (const f of FILES) expect(readme).toContain(`(${f})`);
  });

  for (const f of FILES) {
    it(`${f} loads, says what it shows, runs on the model without breaking an invariant, and gives its recorded answers`, () => {
      const sc = loadScenario(join(EXAMPLES, f));
      expect(sc.doc.name, `${f} has no name`).toBeDefined();
      expect((sc.doc.description ?? '').length, `${f} has no description`).toBeGreaterThan(200);
      const results = runOnModel(sc).results;
      expect(results).toHaveLength(sc.doc.steps.length);
      for (const r of results) expect(r.internal, `${f} step ${r.step}`).toBeUndefined();
      const run = replay(sc).run;
      expect(run.violation, `${f}: ${JSON.stringify(run.violation)}`).toBeNull();
      const want = sc.doc.expect as unknown as StepResult[] | undefined;
      if (want !== undefined) {
        expect(want).toHaveLength(results.length);
        results.forEach((r, i) => expect(compareResults(r, want[i]!), `${f} step ${i + 1}`).toBeNull());
      }
    });
  }

  it('an example the kernel runner cannot run says so, and the others carry the kernel\'s answers', () => {
    let kernelRunnable = 0;
    for (const f of FILES) {
      const sc = loadScenario(join(EXAMPLES, f));
      if (kernelUnsupportedReason(sc.system) !== null) expect(`${sc.doc.name ?? ''} ${sc.doc.description ?? ''}`, f).toMatch(/model only/i);
      else {
        kernelRunnable++;
        expect(sc.doc.expect, `${f} runs on the kernel: record its answers with npx iospec run --kernel --record examples/${f}`).toBeDefined();
      }
    }
    expect(kernelRunnable).toBeGreaterThanOrEqual(5);
  });
});

describe('examples/ under `iospec diff`: this kernel agrees with the upstream model', () => {
  for (const f of FILES) {
    const sc = loadScenario(join(EXAMPLES, f));
    const probe = probeKernel(sc.system.fs);
    const why = kernelUnsupportedReason(sc.system) ?? (probe.ok ? null : probe.missing.join('; '));
    it.skipIf(why !== null)(`${f}${why !== null ? ` — skipped: ${why}` : ''}`, async () => {
      // What `iospec diff FILE` compares: the upstream model and the kernel, step by step; model-only steps are not compared.
      const model = runOnModel({ ...sc, knobs: UPSTREAM }).results;
      const kernel = await runOnKernel(sc.system, sc.doc.steps);
      expect(kernel).toHaveLength(model.length);
      const disagreements = model.flatMap((m, i) => {
        const d = compareResults(m, kernel[i]!);
        return d === null ? [] : [`step ${i + 1} (${sc.doc.steps[i]!.op}) ${d.field}: model ${JSON.stringify(d.model)}, kernel ${JSON.stringify(d.kernel)}`];
      });
      expect(disagreements).toEqual([]);
    });
  }
});

describe('iospec run --help', () => {
  it('lists every op with its fields, from the schema', () => {
    const text = runHelpText();
    for (const o of stepOps()) {
      const line = text.split('\n').findIndex((l) => l.startsWith(`  ${o.op} `));
      expect(line, `op ${o.op}`).toBeGreaterThanOrEqual(0);
      // The op's entry: its line and the continuation lines under it.
      const entry = text.split('\n').slice(line).filter((l, i) => i === 0 || /^ {6,}/.test(l));
      const block: string[] = [];
      for (const l of entry) {
        if (block.length > 0 && !/^ {6,}/.test(l)) break;
        block.push(l);
      }
      for (const fld of o.fields) expect(block.join('\n'), `${o.op}.${fld.name}`).toContain(`${fld.name}${fld.required ? '' : '?'}`);
      if (o.modelOnly) expect(block.join('\n')).toContain('model only');
    }
    expect(text).toContain('FALLOC_FL_PUNCH_HOLE');
    expect(text).toContain('docs/scenario-format.md');
  });

  it('is what the command prints', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'iospec.mjs'), 'run', '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    for (const o of stepOps()) expect(r.stdout).toMatch(new RegExp(`^  ${o.op} `, 'm'));
    expect(r.stdout).toContain('storeDuringIo? (model only)');
  });
});

describe('validation messages say what is expected', () => {
  const ok = { format: 'iospec-scenario/1', system: { fs: 'xfs' }, steps: [] as unknown[] };
  const message = (doc: unknown): string => {
    try {
      parseScenario(doc);
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  const cases: Array<[string, unknown, string]> = [
    ['fallocate.mode as a string', { ...ok, steps: [{ op: 'fallocate', fd: 'A', mode: 'FALLOC_FL_KEEP_SIZE', offset: 0, length: 1 }] }, 'steps[0] (step 1, fallocate).mode: expected a list of FALLOC_FL_* names, [] for mode 0, such as ["FALLOC_FL_PUNCH_HOLE", "FALLOC_FL_KEEP_SIZE"], got the string "FALLOC_FL_KEEP_SIZE"'],
    ['an unknown op', { ...ok, steps: [{ op: 'fdatsync', fd: 'A' }] }, 'steps[0] (step 1, fdatsync).op: unknown op "fdatsync" (did you mean "fdatasync"? the ops: open, close, mkdir, encrypt_dir, pwrite, pread, fsync, fdatasync, ftruncate, fallocate, clone, mmap_write, statx, fiemap, setflags, sync, crash, remount, writeback, complete, journal_commit, reclaim, device_error)'],
    ['a step without op', { ...ok, steps: [{ fd: 'A' }] }, 'steps[0].op: missing: every step has an "op", one of open, close,'],
    ['a wrong type', { ...ok, steps: [{ op: 'pread', fd: 'A', offset: '0', length: 1 }] }, 'steps[0] (step 1, pread).offset: expected a byte offset: a whole number such as 4096, got the string "0"'],
    ['a value out of range', { ...ok, steps: [{ op: 'pwrite', fd: 'A', offset: 0, length: 1, fill: 256 }] }, 'steps[0] (step 1, pwrite).fill: expected a byte value: a whole number from 0 to 255, such as 1, got 256'],
    ['a misspelt field', { ...ok, steps: [{ op: 'pread', fd: 'A', offset: 0, lenght: 1 }] }, 'steps[0] (step 1, pread): unknown field "lenght" (did you mean "length"? pread takes: op, fd, offset, length, bufOffset, flags)'],
    ['a misspelt flag', { ...ok, steps: [{ op: 'open', path: 'f', fd: 'A', flags: ['O_DIRCET'] }] }, 'steps[0] (step 1, open).flags: unknown open flag "O_DIRCET" (did you mean "O_DIRECT"? the O_* names: O_RDONLY,'],
    ['an absolute path', { ...ok, steps: [{ op: 'open', path: '/f', fd: 'A', flags: [] }] }, 'steps[0] (step 1, open).path: expected a path relative to the mount such as "d/f"'],
    ['a block size that is not a power of two', { ...ok, system: { fs: 'xfs', blockSize: 3000 } }, 'system.blockSize: expected a power of two from 1024 to 65536, such as 4096, got 3000'],
    ['a crash keep of the wrong shape', { ...ok, steps: [{ op: 'crash', keep: 'some' }] }, 'steps[0] (step 1, crash).keep: expected "all", "none" or a list of [pending write, first sector, sector count] triples'],
    ['a keep triple too short', { ...ok, steps: [{ op: 'crash', keep: [[0, 1]] }] }, 'steps[0] (step 1, crash).keep[0]: expected a [pending write, first sector, sector count] triple such as [0, 2048, 8], got [0,1]'],
    ['an unknown field of the inline encryption engine', { ...ok, system: { fs: 'ext4', device: { inlineCrypto: { sizes: [4096] } } } }, 'system.device.inlineCrypto: unknown field "sizes" (inlineCrypto takes: dataUnitSizes, maxDunBytes)'],
    ['a missing system', { format: 'iospec-scenario/1', steps: [] }, 'system: missing: the system: an object such as {"fs": NAME, "blockSize": 4096}'],
    ['an unknown top-level field', { ...ok, sytem: {} }, '(document): unknown field "sytem" (did you mean "system"? a scenario takes: format, name, description, system,'],
  ];
  for (const [what, doc, want] of cases) {
    it(what, () => expect(message(doc).startsWith(want), message(doc)).toBe(true));
  }
  it('accepts what the messages suggest', () => {
    expect(message({ ...ok, steps: [{ op: 'fallocate', fd: 'A', mode: [], offset: 0, length: 4096 }] })).toBe('accepted');
    expect(message({ ...ok, steps: [{ op: 'fallocate', fd: 'A', mode: ['FALLOC_FL_PUNCH_HOLE', 'FALLOC_FL_KEEP_SIZE'], offset: 0, length: 4096 }] })).toBe('accepted');
    expect(message({ ...ok, steps: [{ op: 'crash', keep: [[0, 2048, 8]] }] })).toBe('accepted');
  });
});

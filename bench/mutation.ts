/**
 * `npm run mutation -- [--sample N] [--seed S] [--time T] [--jobs J] [--out FILE]`:
 * mutation testing of model/.  Single-token changes (a comparison flipped or
 * turned, && for ||, + for -, a negation dropped, true for false) are
 * found with the TypeScript parser (never in strings, comments or types), a
 * sample of N drawn with seed S, and each mutant judged in a copy of the
 * repository by bench/mutant-judge.ts: the conformance corpus and the
 * model-only scenarios, then `check --time T` on upstream.  Prints one line
 * per mutant and a summary; writes every verdict to FILE (JSON).  A
 * benchmark of the checker's strength, not a test: minutes per run.
 */
import ts from 'typescript';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { Verdict } from './mutant-judge.ts';
import { createHash } from 'node:crypto';

const ROOT = join(import.meta.dirname, '..');

export interface Mutant {
  readonly file: string;
  readonly line: number;
  readonly start: number;
  readonly end: number;
  readonly from: string;
  readonly to: string;
  /**
   * What names the mutant across edits elsewhere: the file, the line's text
   * (trimmed), the change, and which of that line's sites with the same
   * change it is.  Line numbers and offsets move when code above changes;
   * this does not.
   */
  readonly key: string;
}

const SWAP: Readonly<Record<string, string>> = {
  '===': '!==', '!==': '===', '<': '<=', '<=': '<', '>': '>=', '>=': '>', '&&': '||', '||': '&&', '+': '-', '-': '+',
};

function isStringy(e: ts.Expression): boolean {
  return ts.isStringLiteral(e) || ts.isTemplateExpression(e) || ts.isNoSubstitutionTemplateLiteral(e);
}

/** Every mutation site of one source file. */
export function mutationSites(file: string, text: string): Mutant[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: Mutant[] = [];
  const lines = text.split('\n');
  const seen = new Map<string, number>();
  const add = (start: number, end: number, to: string): void => {
    const line = sf.getLineAndCharacterOfPosition(start).line + 1;
    const from = text.slice(start, end);
    const base = `${file}|${lines[line - 1]!.trim()}|${from}->${to}`;
    const k = seen.get(base) ?? 0;
    seen.set(base, k + 1);
    out.push({ file, line, start, end, from, to, key: `${base}|${k}` });
  };
  const visit = (n: ts.Node): void => {
    // Coverage counting changes no behaviour: its calls, and the functions that only feed them.
    if (ts.isExpressionStatement(n) && ts.isCallExpression(n.expression) && /^cover/.test(n.expression.expression.getText(sf))) return;
    if (ts.isIfStatement(n) && n.elseStatement === undefined && ts.isExpressionStatement(n.thenStatement) && /^cover/.test(n.thenStatement.getText(sf))) return;
    if (ts.isFunctionDeclaration(n) && n.name !== undefined && COVERAGE_ONLY.has(n.name.text)) return;
    if (ts.isBinaryExpression(n)) {
      const op = n.operatorToken.getText(sf);
      const to = SWAP[op];
      // String concatenation only builds messages.
      if (to !== undefined && !(op === '+' && (isStringy(n.left) || isStringy(n.right)))) add(n.operatorToken.getStart(sf), n.operatorToken.getEnd(), to);
    } else if (ts.isPrefixUnaryExpression(n) && n.operator === ts.SyntaxKind.ExclamationToken) {
      add(n.getStart(sf), n.getStart(sf) + 1, '');
    } else if ((n.kind === ts.SyntaxKind.TrueKeyword || n.kind === ts.SyntaxKind.FalseKeyword) && !ts.isLiteralTypeNode(n.parent)) {
      add(n.getStart(sf), n.getEnd(), n.kind === ts.SyntaxKind.TrueKeyword ? 'false' : 'true');
    }
    // Types, and the error messages of thrown model bugs, have nothing to mutate.
    if (ts.isTypeNode(n) || ts.isInterfaceDeclaration(n) || ts.isTypeAliasDeclaration(n) || ts.isThrowStatement(n)) return;
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Functions that only compute what a coverage point is called. */
const COVERAGE_ONLY: ReadonlySet<string> = new Set(['iomapOpName', 'coverCrash']);

/**
 * The model's files that are mutated: all of model/ but the coverage
 * counters and the harnesses (what the checker generates for a file system
 * and how the kernel runner judges it: scaffolding, not the model's
 * behaviour).
 */
export function modelFiles(): string[] {
  return walk(join(ROOT, 'model')).map((p) => relative(ROOT, p)).filter((p) => p !== 'model/lib/coverage.ts' && !p.endsWith('/harness.ts')).sort();
}

/**
 * The n mutants whose keys hash lowest with the seed: the same seed draws
 * the same sample anywhere, and an edit to the model changes the sample
 * only where it adds or removes sites (a shuffle of all sites drew a new
 * sample after any edit, so no verdict could be compared with the last).
 */
export function sample(all: readonly Mutant[], n: number, seed: number): Mutant[] {
  const rank = (m: Mutant): string => createHash('sha256').update(`${seed}\0${m.key}`).digest('hex');
  return all.map((m) => ({ m, h: rank(m) })).sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0)).slice(0, n).map((x) => x.m);
}

/** A mutant judged equivalent by reading the code: no input can tell it from the model (bench/mutation-equivalent.json). */
export interface Equivalent {
  readonly key: string;
  readonly reason: string;
}

export const EQUIVALENT_FILE = join(ROOT, 'bench', 'mutation-equivalent.json');

/** The equivalent mutants on record, by key; a malformed entry is refused with its index. */
export function loadEquivalents(file = EQUIVALENT_FILE): Map<string, string> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(doc)) throw new Error(`${file}: not a JSON array`);
  const out = new Map<string, string>();
  doc.forEach((e: unknown, i) => {
    const ok = typeof e === 'object' && e !== null && typeof (e as Equivalent).key === 'string' && typeof (e as Equivalent).reason === 'string' && (e as Equivalent).reason.length > 0;
    if (!ok) throw new Error(`${file}: entry ${i} needs a "key" and a non-empty "reason"`);
    if (out.has((e as Equivalent).key)) throw new Error(`${file}: entry ${i} repeats the key of an earlier entry`);
    out.set((e as Equivalent).key, (e as Equivalent).reason);
  });
  return out;
}

/** A copy of the working tree (tracked files as they are now) sharing node_modules. */
function makeCopy(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter((f) => f !== '');
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    try {
      copyFileSync(join(ROOT, f), join(dir, f));
    } catch {
      // A tracked file deleted in the working tree.
    }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
}

/** A judge still running this long after its budget is stopped: the mutant made the model loop. */
const HANG_MS = 60_000;

/** The process groups of the judges running now (killed with the run). */
const running = new Set<number>();

function judgeIn(dir: string, time: number, seed: number): Promise<Verdict> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    // One process (tsx as a loader), in its own group, so that a hung judge is killed whole.
    const p = spawn(process.execPath, ['--import', 'tsx', 'bench/mutant-judge.ts', String(time), String(seed)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (p.pid !== undefined) running.add(p.pid);
    let out = '';
    let err = '';
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      if (p.pid !== undefined) process.kill(-p.pid, 'SIGKILL');
    }, time * 1000 + HANG_MS);
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', () => {
      clearTimeout(timer);
      if (p.pid !== undefined) running.delete(p.pid);
      if (hung) {
        // The checker never came back to its time budget: a sequence that does not end (any run of it shows that).
        resolve({ caught: 'check', detail: `the run did not end (stopped ${HANG_MS / 1000} s past its budget): the mutant makes the model loop`, ms: Date.now() - t0 });
        return;
      }
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as Verdict);
      } catch {
        // The mutant does not even load: the model cannot run, which any run shows at once.
        resolve({ caught: 'corpus', detail: `does not run: ${err.trim().split('\n').slice(-1)[0] ?? ''}`, ms: 0 });
      }
    });
  });
}

function usage(msg: string): never {
  console.error(`mutation: ${msg} (usage: npm run mutation -- [--sample N] [--seed S] [--time T] [--jobs J] [--out FILE])`);
  process.exit(2);
}

/** The options, each checked: unknown flags and bad values are refused with one line naming them. */
function options(): { n: number; seed: number; time: number; jobs: number; outFile: string } {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ options: { sample: { type: 'string' }, seed: { type: 'string' }, time: { type: 'string' }, jobs: { type: 'string' }, out: { type: 'string' } }, strict: true }).values;
  } catch (e) {
    usage(e instanceof Error ? e.message : String(e));
  }
  const whole = (name: string, def: number): number => {
    const s = values[name];
    if (s === undefined) return def;
    if (!/^[1-9][0-9]*$/.test(s)) usage(`--${name} needs a positive whole number, not ${JSON.stringify(s)}`);
    return Number(s);
  };
  const outFile = values['out'] ?? '/tmp/iospec-mutation.json';
  if (outFile === '') usage('--out needs a file name');
  return { n: whole('sample', 150), seed: whole('seed', 1), time: whole('time', 15), jobs: whole('jobs', 2), outFile };
}

async function main(): Promise<void> {
  const { n, seed, time, jobs, outFile } = options();
  const files = modelFiles();
  // The sources as they are now: the copies are made from them, and each mutant is applied to them (edits made while it runs do not count).
  const texts = new Map(files.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));
  const all = files.flatMap((f) => mutationSites(f, texts.get(f)!));
  const chosen = sample(all, n, seed);
  const equivalent = loadEquivalents();
  const keys = new Set(all.map((m) => m.key));
  const stale = [...equivalent.keys()].filter((k) => !keys.has(k));
  console.log(`mutation: ${all.length} sites in ${files.length} files of model/; ${chosen.length} mutants (seed ${seed}), each judged by the corpus and check --time ${time} (seed 1), ${jobs} at a time; ${equivalent.size} judged equivalent on record (${relative(ROOT, EQUIVALENT_FILE)})`);
  if (stale.length > 0) console.log(`mutation: ${stale.length} equivalent mutant(s) on record name no site any more (their line changed): review them\n  ${stale.join('\n  ')}`);
  const dirs = Array.from({ length: jobs }, (_, i) => join('/tmp', `iospec-mutant-${process.pid}-${i}`));
  // Interrupted: the running judges (each in its own process group, which a terminal's ^C does not reach) and the copies go too.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      for (const pid of running) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
      process.exit(130);
    });
  }
  for (const d of dirs) {
    makeCopy(d);
    for (const [f, t] of texts) writeFileSync(join(d, f), t);
  }
  const results: Array<Mutant & Verdict & { equivalent?: string }> = [];
  let next = 0;
  const t0 = Date.now();
  await Promise.all(dirs.map(async (dir) => {
    for (;;) {
      const i = next++;
      const m = chosen[i];
      if (m === undefined) return;
      const orig = texts.get(m.file)!;
      writeFileSync(join(dir, m.file), orig.slice(0, m.start) + m.to + orig.slice(m.end));
      const v = await judgeIn(dir, time, 1);
      writeFileSync(join(dir, m.file), orig);
      const eq = equivalent.get(m.key);
      results.push(eq === undefined ? { ...m, ...v } : { ...m, ...v, equivalent: eq });
      // An equivalent mutant is still judged: one that is caught was not equivalent, and its reason is wrong.
      const verdict = v.caught !== null ? `caught by ${v.caught}${eq !== undefined ? ' (ON RECORD AS EQUIVALENT: the reason is wrong)' : ''}` : eq !== undefined ? 'equivalent' : 'NOT CAUGHT';
      console.log(`${String(i + 1).padStart(4)}  ${m.file}:${m.line}  ${JSON.stringify(m.from)} -> ${JSON.stringify(m.to)}  ${verdict} (${(v.ms / 1000).toFixed(1)} s): ${(eq !== undefined && v.caught === null ? eq : v.detail).slice(0, 160)}`);
    }
  }));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  results.sort((a, b) => a.file.localeCompare(b.file) || a.start - b.start);
  const by = (c: Verdict['caught']) => results.filter((r) => r.caught === c).length;
  const eqn = results.filter((r) => r.caught === null && r.equivalent !== undefined).length;
  const caught = results.length - by(null);
  const summary = { mutants: results.length, caughtByCorpus: by('corpus'), caughtByCheck: by('check'), equivalent: eqn, notCaught: by(null) - eqn, minutes: Math.round((Date.now() - t0) / 60000) };
  writeFileSync(outFile, JSON.stringify({ seed, time, summary, results }, null, 1) + '\n');
  const pct = (a: number, b: number): string => `${Math.round((100 * a) / Math.max(1, b))}%`;
  console.log(`\n${summary.mutants} mutants: ${summary.caughtByCorpus} caught by the corpus, ${summary.caughtByCheck} by check, ${summary.equivalent} equivalent, ${summary.notCaught} not caught: ${pct(caught, results.length - eqn)} of the non-equivalent mutants caught (${pct(caught, results.length)} of all), in ${summary.minutes} min; every verdict in ${outFile}`);
}

if (process.argv[1]?.endsWith('mutation.ts') === true) await main();

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
import { rng } from '../kernel/crashes.ts';

const ROOT = join(import.meta.dirname, '..');

export interface Mutant {
  readonly file: string;
  readonly line: number;
  readonly start: number;
  readonly end: number;
  readonly from: string;
  readonly to: string;
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
  const add = (start: number, end: number, to: string): void => {
    out.push({ file, line: sf.getLineAndCharacterOfPosition(start).line + 1, start, end, from: text.slice(start, end), to });
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

export function sample(all: readonly Mutant[], n: number, seed: number): Mutant[] {
  const r = rng(seed);
  const a = all.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
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
  console.log(`mutation: ${all.length} sites in ${files.length} files of model/; ${chosen.length} mutants (seed ${seed}), each judged by the corpus and check --time ${time} (seed 1), ${jobs} at a time`);
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
  const results: Array<Mutant & Verdict> = [];
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
      results.push({ ...m, ...v });
      console.log(`${String(i + 1).padStart(4)}  ${m.file}:${m.line}  ${JSON.stringify(m.from)} -> ${JSON.stringify(m.to)}  ${v.caught === null ? 'NOT CAUGHT' : `caught by ${v.caught}`} (${(v.ms / 1000).toFixed(1)} s): ${v.detail.slice(0, 160)}`);
    }
  }));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  results.sort((a, b) => a.file.localeCompare(b.file) || a.start - b.start);
  const by = (c: Verdict['caught']) => results.filter((r) => r.caught === c).length;
  const summary = { mutants: results.length, caughtByCorpus: by('corpus'), caughtByCheck: by('check'), notCaught: by(null), minutes: Math.round((Date.now() - t0) / 60000) };
  writeFileSync(outFile, JSON.stringify({ seed, time, summary, results }, null, 1) + '\n');
  console.log(`\n${summary.mutants} mutants: ${summary.caughtByCorpus} caught by the corpus, ${summary.caughtByCheck} by check, ${summary.notCaught} not caught (${Math.round((100 * (summary.mutants - summary.notCaught)) / Math.max(1, summary.mutants))}%), in ${summary.minutes} min; every verdict in ${outFile}`);
}

if (process.argv[1]?.endsWith('mutation.ts') === true) await main();

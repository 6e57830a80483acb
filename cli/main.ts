/**
 * iospec command line.
 */
import { ALPHABET, exhaustive } from '../checker/exhaustive.ts';
import { invariantMarkdown, invariantsMarkdown } from '../checker/invariants-doc.ts';
import { toXfsIo } from '../kernel/export.ts';
import { toFsxOps } from '../kernel/export-fsx.ts';
import { fstestsFor } from '../kernel/export-fstests.ts';
import { toC } from '../kernel/export-c.ts';
import { toVitest } from '../kernel/regression.ts';
import { knownFinding, knownFindings } from '../checker/findings.ts';
import { Command, CommanderError } from 'commander';
import { loadScenario, ScenarioError, withVariant } from '../scenario/load.ts';
import type { Step } from '../scenario/schema.ts';
import { printable, runOnModel } from '../scenario/run.ts';
import { runHelpText } from '../scenario/help.ts';
import { check } from '../checker/check.ts';
import type { CheckReport, Progress } from '../checker/check.ts';
import { defaultJobs, NO_SHARD, parseShard, PROGRESS_TAG, runJobs, splitRuns, workerHooks, workerOutput, workerSeed } from '../checker/jobs.ts';
import type { Shard } from '../checker/jobs.ts';
import { counterexampleDoc, NEW_COUNTEREXAMPLES, writeCounterexample } from '../checker/counterexample.ts';
import { describeResult, describeStep, replay } from '../checker/replay.ts';
import { TRACE_LEGEND, traceSteps } from '../checker/trace.ts';
import { traceHtml } from '../checker/trace-html.ts';
import { findInvariant, INVARIANTS } from '../properties/index.ts';
import { findVariant, SYSTEM_HINTS, UPSTREAM, VARIANTS } from '../model/variants.ts';
import { KernelUnavailable, runOnKernel } from '../kernel/runner.ts';
import { compareResults } from '../kernel/compare.ts';
import { diffFuzz, isSubsetCrash, partialCrash, partialCrashJudgement } from '../kernel/difffuzz.ts';
import type { DiffFuzzOptions, DiffFuzzReport, FoundDisagreement } from '../kernel/difffuzz.ts';
import { diffFuzzJobs } from '../kernel/difffuzz-jobs.ts';
import type { SliceProgress } from '../kernel/difffuzz-jobs.ts';
import { modelOnlyStep } from '../kernel/protocol.ts';
import { crashPoint, exploreCrashes } from '../kernel/crashes.ts';
import { explain } from '../kernel/limitations.ts';
import { probeKernel } from '../kernel/probe.ts';
import { fs_types, fsNames, get_fs_type } from '../model/filesystems.ts';
import type { DiffTarget } from '../kernel/diff-target.ts';
import { runBench } from '../bench/bench.ts';
import { formatScenario } from '../checker/counterexample.ts';
import { mkdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { release as osRelease } from 'node:os';
import { join } from 'node:path';

/** Every file system's differential targets, with the file system they run on. */
function diffTargets(): Array<{ readonly fs: string; readonly target: DiffTarget; readonly name: string }> {
  return fs_types().flatMap((t) => t.harness.diffTargets.map((target) => ({ fs: t.name, target, name: target.name })));
}

/** The kernel release the upstream model follows (what the conformance corpus was recorded on). */
const MODELLED_KERNEL = '6.18';

function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  /** Run on this kernel; where it cannot be used here, say why and exit 4 (null). */
  const onKernel = async <T,>(fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof KernelUnavailable)) throw e;
      err(`skipped: cannot run on the kernel here: ${e.message}`);
      code = 4;
      return null;
    }
  };
  const program = new Command();
  program
    .name('iospec')
    .description('Executable specification of the Linux file I/O paths, and a property-based checker for it')
    .version(`iospec ${packageVersion()}, upstream model: Linux ${MODELLED_KERNEL}`, '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('run')
    .description('run a scenario on the model and print one JSON result line per step')
    .argument('<file>', 'scenario file (iospec-scenario/1)')
    .option('-v, --verbose', 'print the resolved system first, and model-only details of each step')
    .option('-k, --kernel', "run on this machine's kernel (root, loop devices) instead of the model")
    .option('--record', "with --kernel: store the kernel's answers in the file's \"expect\" field (conformance corpus)")
    .option('--variant <name>', 'switch this design variant on as well (a finding\'s fix, say); model only')
    .addHelpText('after', () => runHelpText())
    .action(async (file: string, opts: { verbose?: boolean; kernel?: boolean; record?: boolean; variant?: string }) => {
      if (opts.record === true && opts.kernel !== true) throw new UsageError('--record stores the kernel\'s answers: it needs --kernel');
      if (opts.variant !== undefined && opts.kernel === true) throw new UsageError('--variant changes the model: the kernel runs as it is (leave out --kernel)');
      const sc = opts.variant === undefined ? loadScenario(file) : withVariant(loadScenario(file), opts.variant);
      if (opts.verbose === true) out(JSON.stringify({ system: sc.system, variant: sc.doc.variant ?? {} }));
      if (opts.kernel === true) {
        for (const c of kernelCaveats(sc)) err(`note: ${c}`);
        const results = await onKernel(() => runOnKernel(sc.system, sc.doc.steps, { onResult: (r) => out(JSON.stringify(printable(r, false))) }));
        if (results !== null && opts.record === true) {
          const { expect: _old, ...rest } = sc.doc;
          const uname = osRelease();
          writeFileSync(file, formatScenario({ ...rest, expect: results as unknown as Array<Record<string, unknown>>, meta: { ...(sc.doc.meta ?? {}), recordedOn: `Linux ${uname}` } }));
          err(`recorded ${results.length} kernel answers in ${file}`);
        }
        return;
      }
      runOnModel(sc, (r) => out(JSON.stringify(printable(r, opts.verbose === true))));
    });

  program
    .command('diff')
    .description('run a scenario on the model and on this kernel and report the first step where they disagree; with --fuzz, generate scenarios and diff them')
    .argument('[file]', 'scenario file (not with --fuzz)')
    .option('--fuzz', 'differential fuzzing: generated scenarios, run on both')
    .option('--fs <fs>', `with --fuzz: ${diffTargets().map((t) => t.name).join(', ')}, or all`, 'all')
    .option('--count <n>', 'with --fuzz: scenarios per file system', '100')
    .option('--seed <n>', 'with --fuzz: seed', '1')
    .option('--time <seconds>', 'with --fuzz: time budget per file system', '600')
    .option('--max-steps <n>', 'with --fuzz: steps per scenario', '30')
    .option('--out <dir>', 'with --fuzz: where disagreements are saved', `${NEW_COUNTEREXAMPLES}/diff`)
    .option('--jobs <n>', `with --fuzz: worker processes sharing each file system's scenarios (default: the number of cores, ${defaultJobs()} here)`)
    .option('--json', 'with --fuzz: print the report as JSON')
    // A worker of a --jobs run (kernel/difffuzz-jobs.ts): its protocol, not for users.
    .addOption(program.createOption('--worker-slice <i/n>').hideHelp())
    .action(async (file: string | undefined, opts: { fuzz?: boolean; fs: string; count: string; seed: string; time: string; maxSteps: string; out: string; jobs?: string; json?: boolean; workerSlice?: string }) => {
      if (opts.fuzz !== true) {
        for (const o of ['jobs', 'workerSlice'] as const) if (opts[o] !== undefined) throw new UsageError(`--${o === 'jobs' ? 'jobs' : 'worker-slice'} goes with --fuzz`);
      }
      if (opts.fuzz === true) {
        if (file !== undefined) throw new UsageError('diff --fuzz takes no file');
        const jobs = opts.jobs === undefined ? defaultJobs() : positiveIntArg('--jobs', opts.jobs);
        let slice: Shard | null = null;
        if (opts.workerSlice !== undefined) {
          slice = parseShard(opts.workerSlice);
          if (slice === null) throw new UsageError(`--worker-slice: I/N with 1 <= I <= N, not "${opts.workerSlice}"`);
        }
        const all = diffTargets();
        const targets = opts.fs === 'all' ? all : opts.fs.split(',').map((name) => {
          const t = all.find((x) => x.target.name === name);
          if (t === undefined) throw new UsageError(`--fs: ${all.map((x) => x.target.name).join(', ')} or all, not "${name}"`);
          return t;
        });
        for (const t of targets) {
          const probe = probeKernel(t.fs);
          if (!probe.ok) {
            err(`skipped: cannot run on the kernel here: ${probe.missing.join('; ')}`);
            code = 4;
            return;
          }
        }
        if (slice !== null && targets.length !== 1) throw new UsageError('--worker-slice: one file system in --fs');
        const tty = process.stderr.isTTY === true && opts.json !== true;
        const reports = [];
        for (const t of targets) {
          const label = t.target.label;
          let lastLine = 0;
          const o: DiffFuzzOptions = {
            target: t.target,
            count: positiveIntArg('--count', opts.count),
            seed: intArg('--seed', opts.seed),
            timeMs: numArg('--time', opts.time) * 1000,
            maxSteps: intArg('--max-steps', opts.maxSteps),
            // A worker of a run that saves nothing gets --out '' (kernel/difffuzz-jobs.ts).
            out: opts.out === '' ? null : opts.out,
            shrinkBudget: 150,
            onProgress: (done, total, found) => {
              if (slice !== null) {
                writeSync(2, `${PROGRESS_TAG}${JSON.stringify({ done, found } satisfies SliceProgress)}\n`);
                return;
              }
              const line = `diff ${label}: ${done}/${total} scenarios, ${found} disagreements`;
              if (tty) process.stderr.write(`\r\x1b[K${line}`);
              else if (done >= lastLine + 50 && opts.json !== true) {
                lastLine = done - (done % 50);
                err(line);
              }
            },
          };
          // A worker ends when the run that started it is gone (its parent changed), as check's workers do.
          const parent = process.ppid;
          const r = slice !== null ? await diffFuzz({ ...o, slice: { index: slice.index - 1, count: slice.count }, shouldStop: () => process.ppid !== parent })
            : jobs > 1 ? await diffFuzzJobs(o, jobs) : await diffFuzz(o);
          if (tty) process.stderr.write('\r\x1b[K');
          reports.push(r);
          if (opts.json !== true) printDiffReport(r, jobs);
        }
        if (slice !== null) out(JSON.stringify(reports));
        else if (opts.json === true) out(JSON.stringify(reports, null, 2));
        code = reports.some((r) => r.disagreements.length > 0) ? 1 : 0;
        return;
      }
      if (file === undefined) throw new UsageError('diff: give a scenario file, or --fuzz');
      const sc = loadScenario(file);
      for (const c of kernelCaveats(sc)) err(`note: ${c}`);
      // The kernel is upstream: that is what it is compared with, whatever variant the file names.
      const model = runOnModel({ ...sc, knobs: UPSTREAM }).results;
      const kernel = await onKernel(() => runOnKernel(sc.system, sc.doc.steps));
      if (kernel === null) return;
      // Up to a crash that keeps a subset (of the kernel's own writes, not the model's): compared step by step;
      // after it, the kernel's answers are judged by the model's oracle.
      const partial = partialCrash(sc.doc.steps);
      const compared = partial < 0 ? sc.doc.steps.length : partial + 1;
      for (let i = 0; i < compared; i++) {
        const d = compareResults(model[i]!, kernel[i]!);
        if (d === null) continue;
        for (let j = 0; j <= i; j++) out(`${j === i ? '!!' : '  '} ${String(j + 1).padStart(3)}  ${describeStep(sc.doc.steps[j]!).padEnd(48)} -> ${describeResult(kernel[j]!)}`);
        out(`\nfirst disagreement at step ${i + 1} (${sc.doc.steps[i]!.op}), ${d.field}:`);
        out(`  model:  ${JSON.stringify(d.model)}`);
        out(`  kernel: ${JSON.stringify(d.kernel)}`);
        const lim = explain({ system: sc.system, steps: sc.doc.steps, index: i, d, model, kernel });
        if (lim !== null) out(`\nknown limitation ${lim.name}: ${lim.reason}`);
        code = lim !== null ? 0 : 1;
        return;
      }
      const skipped = kernel.filter((r) => r.unsupported !== undefined).length;
      if (skipped > 0 || partial >= 0) for (let j = 0; j < sc.doc.steps.length; j++) out(`   ${String(j + 1).padStart(3)}  ${describeStep(sc.doc.steps[j]!).padEnd(48)} -> ${describeResult(kernel[j]!)}`);
      if (partial < 0) {
        out(`model (upstream) and kernel agree on all ${sc.doc.steps.length} steps${skipped > 0 ? ` (${sc.doc.steps.length - skipped} compared, ${skipped} model-only steps not)` : ''}`);
        return;
      }
      out(`model (upstream) and kernel agree on steps 1 to ${compared}; step ${compared} is a crash that keeps a subset, so the kernel's answers after it are judged by the oracle`);
      const j = partialCrashJudgement(sc.system, sc.doc.system, sc.doc.steps, kernel);
      if (j === null) out('no invariant violated after the crash');
      else out(`\nthe kernel breaks ${j.violation.invariant} at step ${j.violation.step}${j.finding !== null ? `: the known upstream finding ${j.finding.id} (${j.finding.scenarios[0]})` : ''}:\n  ${j.violation.detail}`);
      code = j === null || j.finding !== null ? 0 : 1;
    });

  program
    .command('check')
    .description('fuzz the model against the invariants; exit 1 with a counterexample file when one fails')
    .option('--invariant <id...>', 'check only these invariants (default: all)')
    .option('--variant <name>', 'check a design variant instead of upstream')
    .option('--fs <fs>', `only this file system (${fsNames()})`)
    .option('--systems <kind>', `only systems of this kind: ${SYSTEM_HINTS.join(', ')} (default: the variant's own, if any)`)
    .option('--seed <n>', 'random seed (default: from the clock, printed)')
    .option('--runs <n>', 'maximum number of generated sequences (with --jobs: in all, split evenly between the workers)', '1000000000')
    .option('--max-steps <n>', 'maximum steps per sequence', '40')
    .option('--soak', 'long sequences (--max-steps 10000 unless given, at least half of it each), until --time runs out or something fails')
    .option('--time <seconds>', 'time budget (with --jobs: every worker checks for this long, all at once)', '60')
    .option('--jobs <n>', `worker processes, each with its own seed derived from --seed (default: the number of cores, ${defaultJobs()} here; --exhaustive runs one)`)
    .option('--shard <i/n>', 'make this run shard I (1 to N) of a campaign of N runs: the same settings, seeds distinct from every other shard\'s')
    .option('--job-runs <list>', 'exactly this many sequences for each worker, comma-separated (what a repeat line gives); sets --jobs, and --runs is their sum')
    .option('--out <dir>', 'where counterexamples are written (never over an existing file; the tracked corpus counterexamples/*.json changes only when you move a file there)', NEW_COUNTEREXAMPLES)
    .option('--json', 'print the summary as JSON')
    .option('--exhaustive', 'instead of random sequences, every sequence of up to --depth operations over a small alphabet')
    .option('--depth <k>', 'with --exhaustive: the sequence length', '3')
    // A worker of a --jobs run (checker/jobs.ts): its protocol, not for users.
    .addOption(program.createOption('--worker <dir>').hideHelp())
    .action(async (opts: CheckOpts, cmd: Command) => {
      const invariants = (opts.invariant ?? INVARIANTS.map((i) => i.id)).map((id) => {
        const inv = findInvariant(id);
        if (inv === undefined) throw new UsageError(`--invariant: unknown invariant "${id}" (see \`iospec invariants\`)`);
        return inv;
      });
      const variant = opts.variant === undefined ? null : findVariant(opts.variant);
      if (variant === undefined) throw new UsageError(`--variant: unknown variant "${opts.variant}" (see \`iospec variants\`)`);
      if (opts.fs !== undefined && get_fs_type(opts.fs) === undefined) throw new UsageError(`--fs: ${fsNames()}, not "${opts.fs}"`);
      const systems = SYSTEM_HINTS.find((h) => h === opts.systems);
      if (opts.systems !== undefined && systems === undefined) throw new UsageError(`--systems: one of ${SYSTEM_HINTS.join(', ')}, not "${opts.systems}"`);
      // Combinations that would check nothing of what they name.
      if (variant !== null && variant.fs !== undefined && opts.fs !== undefined && !variant.fs.includes(opts.fs)) {
        throw new UsageError(`--variant ${variant.name} changes ${variant.fs.join(' and ')} code only: on --fs ${opts.fs} nothing it changes would run (use ${variant.fs.map((f) => `--fs ${f}`).join(' or ')}, or leave out --fs)`);
      }
      const hint = systems ?? variant?.systems;
      if (hint !== undefined) {
        const fss = opts.fs !== undefined ? [opts.fs] : (variant?.fs ?? fs_types().map((t) => t.name));
        const able = fss.filter((f) => get_fs_type(f)?.harness.supports(hint) === true);
        if (able.length === 0) {
          const any = fs_types().filter((t) => t.harness.supports(hint)).map((t) => t.name);
          throw new UsageError(`systems of kind ${hint}${systems === undefined ? ` (what --variant ${variant!.name} needs)` : ''}: ${fss.join(', ')} make${fss.length === 1 ? 's' : ''} none (${any.join(', ') || 'no file system'} do${any.length === 1 ? 'es' : ''})`);
        }
      }
      const jobRuns = jobRunsArg(opts, cmd);
      const shard = opts.shard === undefined ? NO_SHARD : parseShard(opts.shard);
      if (shard === null) throw new UsageError(`--shard: I/N, this run being shard I of N (1 <= I <= N), got "${opts.shard}"`);
      if (opts.exhaustive === true) {
        if (opts.jobRuns !== undefined || (jobRuns !== null && jobRuns.length > 1)) throw new UsageError('--exhaustive runs in one process: --jobs 1, or leave out --jobs');
        if (opts.shard !== undefined) throw new UsageError('--exhaustive covers its whole scope in one run: leave out --shard');
        const depth = positiveIntArg('--depth', opts.depth);
        if (depth > 4) throw new UsageError(`--depth: at most 4 (${ALPHABET.length}^depth sequences per file system)`);
        if (opts.json !== true) err(`iospec check --exhaustive: depth ${depth}, ${ALPHABET.length} operations, ${variant === null ? 'upstream' : `variant ${variant.name}`}, ${invariants.length} invariants`);
        const timeMs = Math.round(numArg('--time', opts.time) * 1000);
        const r = exhaustive({ depth, invariants, variant, fs: opts.fs, timeMs, onProgress: (done, total) => { if (opts.json !== true) err(`exhaustive: ${done} of ${total} sequences`); } });
        const file = r.counterexample === null ? null : writeCounterexample(opts.out, counterexampleDoc(r.counterexample.system, variant?.name ?? null, r.counterexample.steps, r.counterexample.results, r.counterexample.violation, 0, r.counterexample.path));
        const covered = r.complete ? '' : `; the --time budget ran out after ${r.runs} of the ${r.total} sequences: NOT the whole scope`;
        if (opts.json === true) out(JSON.stringify({ ...summaryJson(r, variant?.name ?? null, file, null), depth: r.depth, sequences: r.sequences, skippedBySymmetry: r.skippedBySymmetry, complete: r.complete, total: r.total }));
        else {
          out(`exhaustive, depth ${r.depth}: ${r.sequences} sequences run, ${r.skippedBySymmetry} skipped by symmetry (an idempotent operation repeated)${covered}, alphabet: ${ALPHABET.map((l) => l.name).join('; ')}`);
          printSummary(r, variant?.name ?? null, file, null, !r.complete);
        }
        code = verdictCode(r, !r.complete);
        return;
      }
      const seed = opts.seed === undefined ? (Date.now() ^ (process.pid << 16)) >>> 0 : intArg('--seed', opts.seed);
      const timeMs = Math.round(numArg('--time', opts.time) * 1000);
      const maxSteps = opts.soak === true && cmd.getOptionValueSource('maxSteps') === 'default' ? 10_000 : positiveIntArg('--max-steps', opts.maxSteps);
      const perJob = jobRuns ?? splitRuns(positiveIntArg('--runs', opts.runs), defaultJobs());
      const jobs = perJob.length;
      const minSteps = opts.soak === true ? Math.floor(maxSteps / 2) : 0;
      const tty = process.stderr.isTTY === true && opts.json !== true;
      const progress = (p: Progress & { running?: number }): void => {
        const line = `${p.phase === 'search' ? 'checking' : 'shrinking'}: ${p.runs} sequences, ${p.steps} steps, ${Math.round(p.steps / Math.max(1, p.elapsedMs / 1000))} steps/s, ${Math.round(p.elapsedMs / 1000)}s of ${Math.round(timeMs / 1000)}s${p.running !== undefined ? `, ${p.running} of ${jobs} workers running` : ''}`;
        // On a terminal: a bar of the time budget and the time left; elsewhere, plain lines.
        const frac = Math.min(1, p.elapsedMs / Math.max(1, timeMs));
        const bar = `[${'#'.repeat(Math.round(frac * 20)).padEnd(20, '.')}] ${Math.max(0, Math.round((timeMs - p.elapsedMs) / 1000))}s left`;
        if (tty) process.stderr.write(`\r\x1b[K${bar} ${line}`);
        else if (opts.json !== true) err(line);
      };
      const shardText = shard.count > 1 ? `, shard ${shard.index} of ${shard.count}` : '';
      if (opts.json !== true) err(`iospec check${opts.soak === true ? ' --soak' : ''}: seed ${seed}${shardText}, ${jobs === 1 ? '1 worker' : `${jobs} workers`}, ${variant === null ? 'upstream' : `variant ${variant.name}`}, ${invariants.length} invariants, ${minSteps > 0 ? `${minSteps} to ` : 'up to '}${maxSteps} steps per sequence, ${timeMs / 1000}s`);
      let report: CheckReport;
      let workers: Array<{ worker: number; seed: number; runs: number; steps: number; repeatRuns: number; killed?: true }>;
      let failing: { worker: number; seed: number } | null = null;
      if (jobs === 1) {
        // One worker: in this process, with seed --seed itself unless this is a shard.
        const own = workerSeed(seed, shard, 0);
        const hooks = opts.worker !== undefined ? workerHooks(opts.worker) : null;
        report = check({
          invariants, variant, seed: own, runs: perJob[0]!, maxSteps, minSteps, timeMs, fs: opts.fs, systems,
          onProgress: hooks?.onProgress ?? progress,
          progressMs: hooks !== null ? 200 : tty ? 250 : 10000,
          ...(hooks !== null ? { shouldStop: hooks.shouldStop, claimFailure: hooks.claimFailure } : {}),
        });
        if (hooks !== null) {
          out(workerOutput(report));
          code = verdictCode(report, false);
          return;
        }
        workers = [{ worker: 0, seed: own, runs: report.runs, steps: report.steps, repeatRuns: report.repeatRuns }];
        if (report.counterexample !== null) failing = { worker: 0, seed: own };
        // The summary names the run's seed; the worker's own (a shard's) is in its line.
        report = { ...report, seed };
      } else {
        const args = [opts.soak === true ? ['--soak'] : [], ['--max-steps', String(maxSteps)], variant !== null ? ['--variant', variant.name] : [], opts.fs !== undefined ? ['--fs', opts.fs] : [],
          systems !== undefined ? ['--systems', systems] : [], opts.invariant !== undefined ? ['--invariant', ...opts.invariant] : []].flat();
        const j = await runJobs({ seed, shard, jobRuns: perJob, timeMs, args, onProgress: progress, progressMs: tty ? 250 : 10000, onWorkerOutput: (w, line) => err(`worker ${w}: ${line}`) });
        report = j.report;
        workers = j.workers.map((w) => ({ worker: w.worker, seed: w.seed, runs: w.runs, steps: w.steps, repeatRuns: w.report?.repeatRuns ?? 0, ...(w.killed ? { killed: true as const } : {}) }));
        if (j.failing !== null) failing = { worker: j.failing, seed: workers[j.failing]!.seed };
      }
      if (tty) process.stderr.write('\r\x1b[K');
      let file: string | null = null;
      if (report.counterexample !== null) {
        const c = report.counterexample;
        // The seed of the worker that found it: the file says how to find it again on its own.
        const doc = counterexampleDoc(c.system, variant?.name ?? null, c.steps, c.results, c.violation, failing?.seed ?? seed, c.path);
        file = writeCounterexample(opts.out, doc);
      }
      // The command that repeats this run exactly, on any machine: with a counterexample, the failing
      // worker alone (its seed and sequences); otherwise every worker, with the sequences each ran.
      const head = failing !== null ? [`--seed ${failing.seed}`, `--runs ${report.repeatRuns}`, '--jobs 1']
        : [`--seed ${seed}`, `--runs ${report.repeatRuns}`, `--jobs ${jobs}`, jobs > 1 ? `--job-runs ${workers.map((w) => w.repeatRuns).join(',')}` : '', shard.count > 1 ? `--shard ${shard.index}/${shard.count}` : ''];
      const repeat = ['npx iospec check', opts.soak === true ? '--soak' : '', ...head, cmd.getOptionValueSource('maxSteps') === 'default' ? '' : `--max-steps ${maxSteps}`,
        variant !== null ? `--variant ${variant.name}` : '', opts.fs !== undefined ? `--fs ${opts.fs}` : '', systems !== undefined ? `--systems ${systems}` : '',
        opts.invariant !== undefined ? `--invariant ${opts.invariant.join(' ')}` : '', `--time ${Math.max(600, Math.ceil(timeMs / 1000) * 10)}`].filter((x) => x !== '').join(' ');
      const jobsJson = { jobs, ...(shard.count > 1 ? { shard: `${shard.index}/${shard.count}` } : {}), workers, failingWorker: failing };
      if (opts.json === true) out(JSON.stringify({ ...summaryJson(report, variant?.name ?? null, file, repeat), ...jobsJson }));
      else printSummary(report, variant?.name ?? null, file, repeat, false, workerLines(seed, shard, jobs, workers, failing, report));
      code = verdictCode(report, false);
    });

  program
    .command('replay')
    .description('replay a counterexample (or any scenario) with the invariants watching, as a step-by-step trace with what each step changed')
    .argument('<file>', 'scenario or counterexample file')
    .option('--brief', 'only the step lines (the form to paste into a mail)')
    .option('--html <out>', 'also write the trace as a self-contained HTML page')
    .option('--variant <name>', 'switch this design variant on as well: a finding\'s scenario with its fix says "no invariant violated"')
    .action((file: string, opts: { brief?: boolean; html?: string; variant?: string }) => {
      const sc = opts.variant === undefined ? loadScenario(file) : withVariant(loadScenario(file), opts.variant);
      const r = replay(sc);
      const lines: string[] = [];
      const title = `${sc.doc.name ?? file} — ${sc.system.fs}, ${sc.system.blockSize}-byte blocks, ${sc.doc.variant !== undefined && Object.keys(sc.doc.variant).length > 0 ? `variant ${Object.keys(sc.doc.variant).join(',')}` : 'upstream'}`;
      lines.push(title);
      const traces = opts.brief === true ? null : traceSteps(sc, r.run.steps);
      r.run.steps.forEach((s, i) => {
        const res = r.run.results[i]!;
        const mark = r.run.violation?.step === i + 1 ? '!!' : '  ';
        lines.push(`${mark} ${String(i + 1).padStart(3)}  ${describeStep(s).padEnd(48)} -> ${describeResult(res)}`);
        for (const l of traces?.[i]?.lines ?? []) lines.push(`       ${l}`);
      });
      if (traces !== null) lines.push(`\n(${TRACE_LEGEND})`);
      if (r.run.violation !== null) {
        lines.push(`\nviolation of ${r.run.violation.invariant} at step ${r.run.violation.step}:\n  ${r.run.violation.detail}`);
        const inv = findInvariant(r.run.violation.invariant);
        if (inv !== undefined) lines.push(`\n${inv.id}: ${inv.statement}\n  source: ${inv.source}`);
        // On upstream, say when the violation is a known upstream finding (counted by the checker, not reported again).
        const upstream = sc.doc.variant === undefined || Object.keys(sc.doc.variant).length === 0;
        const known = upstream ? knownFinding(sc.doc.system, r.run.steps, r.run.results, r.run.violation) : null;
        if (known !== null) lines.push(`\nthe known upstream finding ${known.id} (${known.scenarios[0]}${known.confirmed ? `; report docs/findings/${known.id}.md` : ''})`);
      } else {
        lines.push('\nno invariant violated');
      }
      if (r.other !== null) lines.push(`\nalso violated, with every invariant watching: ${r.other.invariant} at step ${r.other.step}:\n  ${r.other.detail}`);
      if (r.expected !== null) {
        lines.push(r.reproduced ? `\nreproduced: ${r.expected.invariant} at step ${r.expected.step}, as recorded` : `\nNOT reproduced: the file records ${r.expected.invariant} at step ${r.expected.step}`);
        code = r.reproduced ? 1 : 3;
      } else {
        code = r.run.violation === null ? 0 : 1;
      }
      for (const l of lines) out(l);
      if (opts.html !== undefined) {
        writeFileSync(opts.html, traceHtml(title, lines.flatMap((l) => l.split('\n')), { sc, report: r }));
        err(`trace written to ${opts.html}`);
      }
    });

  program
    .command('export')
    .description('export a scenario or counterexample as a reproducer for a real machine')
    .argument('<file>', 'scenario or counterexample file')
    .option('--xfs-io', 'as a bash script of xfs_io commands (the default)')
    .option('--fsx', 'as an fsx operations file for fsx --replay-ops (the first file\'s operations)')
    .option('--c', 'as a small C program making the same system calls and checking every read')
    .option('--vitest', 'as a vitest regression test (for test/regressions/): the recorded violation must still happen, and not on upstream')
    .option('--fstests', 'as an fstests test (for tests/<fs>/ of fstests): prints the test script, its golden output as comments after _exit; with --dir, writes DIR/SEQ and DIR/SEQ.out')
    .option('--dir <dir>', 'with --fstests: the directory to write the test SEQ and its golden output SEQ.out into')
    .option('--seq <n>', 'with --fstests: the test number', '999')
    .action((file: string, opts: { xfsIo?: boolean; fsx?: boolean; c?: boolean; vitest?: boolean; fstests?: boolean; dir?: string; seq: string }) => {
      const chosen = [opts.xfsIo, opts.fsx, opts.c, opts.vitest, opts.fstests].filter((x) => x === true).length;
      if (chosen > 1) throw new UsageError('--xfs-io, --fsx, --c, --vitest and --fstests: choose one');
      if (opts.fstests !== true && opts.dir !== undefined) throw new UsageError('--dir goes with --fstests');
      if (!/^[0-9]+$/.test(opts.seq)) throw new UsageError(`--seq: a test number, not "${opts.seq}"`);
      const sc = loadScenario(file);
      if (opts.vitest === true) {
        process.stdout.write(toVitest(sc.doc, file));
        return;
      }
      if (opts.fstests === true) {
        const t = fstestsFor(sc, opts.seq);
        if (opts.dir !== undefined) {
          writeFileSync(join(opts.dir, t.seq), t.script, { mode: 0o755 });
          writeFileSync(join(opts.dir, `${t.seq}.out`), t.golden);
          err(`wrote ${join(opts.dir, t.seq)} and ${t.seq}.out (for ${t.dir}/ of fstests)`);
        } else process.stdout.write(`${t.script}\n# The golden output, ${t.dir}/${t.seq}.out:\n${t.golden.split('\n').filter((l) => l !== '').map((l) => `# ${l}`).join('\n')}\n`);
        return;
      }
      // The comments give what upstream answers: the kernel the reproducer runs on.
      const upstream = runOnModel({ ...sc, knobs: UPSTREAM }).results;
      if (opts.fsx === true) process.stdout.write(toFsxOps(sc.doc, upstream));
      else if (opts.c === true) process.stdout.write(toC(sc.doc, sc.system, upstream));
      else process.stdout.write(toXfsIo(sc.doc, sc.system, upstream));
    });

  program
    .command('invariants')
    .description('list the invariants (id, statement, source), or one of them with its witnesses (to paste into a review)')
    .argument('[id]', 'one invariant, e.g. atomic/no-torn-write')
    .option('--json', 'as JSON')
    .option('--markdown', 'as INVARIANTS.md, with witnesses from counterexamples/')
    .action((id: string | undefined, opts: { json?: boolean; markdown?: boolean }) => {
      if (opts.markdown === true && opts.json === true) throw new UsageError('--markdown and --json: choose one');
      if (id !== undefined) {
        const inv = findInvariant(id);
        if (inv === undefined) throw new UsageError(`unknown invariant "${id}" (see \`iospec invariants\`)`);
        if (opts.markdown === true) throw new UsageError('--markdown writes all of INVARIANTS.md: leave out the id');
        if (opts.json === true) out(JSON.stringify({ id: inv.id, statement: inv.statement, source: inv.source, brokenBy: VARIANTS.filter((v) => v.breaks.includes(inv.id)).map((v) => v.name) }, null, 2));
        else out(invariantMarkdown(join(import.meta.dirname, '..'), inv));
        return;
      }
      if (opts.markdown === true) {
        process.stdout.write(invariantsMarkdown(join(import.meta.dirname, '..')));
        return;
      }
      const rows = INVARIANTS.map((i) => ({ id: i.id, statement: i.statement, source: i.source, brokenBy: VARIANTS.filter((v) => v.breaks.includes(i.id)).map((v) => v.name) }));
      if (opts.json === true) out(JSON.stringify(rows, null, 2));
      else for (const r of rows) out(`${r.id}\n  ${r.statement}\n  source: ${r.source}\n  caught on: ${r.brokenBy.join(', ') || '(no variant yet)'}\n`);
    });

  program
    .command('variants')
    .description('list the design variants (name, description, source, invariants they break)')
    .option('--json', 'as JSON')
    .action((opts: { json?: boolean }) => {
      const rows = VARIANTS.map((v) => ({ name: v.name, description: v.description, source: v.source, breaks: v.breaks, fs: v.fs ?? fs_types().map((t) => t.name) }));
      if (opts.json === true) out(JSON.stringify(rows, null, 2));
      else for (const r of rows) out(`${r.name}\n  ${r.description}\n  source: ${r.source}\n  breaks: ${r.breaks.join(', ')}\n`);
    });

  program
    .command('crashes')
    .description('bounded crash exploration on this kernel (root, FUSE): the crash states of the first crash (none, all, in-order prefixes, subsets of the writes not flushed), each mounted and the rest of the scenario judged by the oracle')
    .argument('<file>', 'a scenario with a crash step followed by a remount')
    .option('--max <n>', 'crash states to try at most', '100')
    .option('--seed <n>', 'seed of the random subsets', '1')
    .option('--out <dir>', 'where a state that breaks an invariant is written, as a scenario `run --kernel` replays', `${NEW_COUNTEREXAMPLES}/crashes`)
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: { max: string; seed: string; out: string; json?: boolean }) => {
      const max = positiveIntArg('--max', opts.max);
      const seed = intArg('--seed', opts.seed);
      const sc = loadScenario(file);
      const c = crashPoint(sc.doc.steps);
      if (typeof c === 'string') throw new UsageError(`${file}: ${c}`);
      const tty = process.stderr.isTTY === true && opts.json !== true;
      const report = await onKernel(() =>
        exploreCrashes(sc, {
          max,
          seed,
          onState: (d, t) => {
            if (tty) process.stderr.write(`\r\x1b[Kcrash states: ${d} of ${t}`);
            else if (d % 25 === 0 && opts.json !== true) err(`crash states: ${d} of ${t}`);
          },
        }),
      );
      if (report === null) return;
      if (tty) process.stderr.write('\r\x1b[K');
      const broken = report.states.filter((s) => s.violation !== null && s.known === null);
      const known = new Map<string, number>();
      for (const s of report.states) if (s.known !== null) known.set(s.known, (known.get(s.known) ?? 0) + 1);
      const written: string[] = [];
      broken.forEach((s, k) => {
        mkdirSync(opts.out, { recursive: true });
        const at = join(opts.out, `crash-${sc.system.fs}-${seed}-${k + 1}.json`);
        const keep = typeof s.state.keep === 'string' ? s.state.keep : s.state.keep.map(([a, b, n]): [number, number, number] => [a, b, n]);
        const steps = sc.doc.steps.map((st, i): Step => (i === report.crashStep - 1 ? { op: 'crash', keep } : st));
        const { expect: _e, violates: _v, ...rest } = sc.doc;
        writeFileSync(at, formatScenario({ ...rest, name: `${sc.doc.name ?? file}: crash state "${s.state.name}"`, description: `Found by iospec crashes on Linux ${osRelease()}: at the crash of step ${report.crashStep}, this state of the ${report.writes.length} write(s) not flushed (the crash's keep names the FUSE recorder's log of this kernel's writes) breaks ${s.violation!.invariant}: ${s.violation!.detail}`, steps }));
        written.push(at);
      });
      if (opts.json === true) {
        out(JSON.stringify({ crashStep: report.crashStep, writes: report.writes, states: report.states.map((s) => ({ state: s.state, violation: s.violation, known: s.known })), written, elapsedMs: report.elapsedMs }, null, 2));
      } else {
        const sectors = report.writes.reduce((n, w) => n + Math.ceil(w.len / 512), 0);
        out(`crash at step ${report.crashStep}: ${report.writes.length} write(s) not flushed (${sectors} sectors); ${report.states.length} crash states tried in ${(report.elapsedMs / 1000).toFixed(1)}s, each judged by the oracle's invariants`);
        for (const [id, n] of known) out(`  known upstream finding ${id}: ${n} state(s) ran into it (docs/findings/${id}.md), not reported again`);
        broken.forEach((s, k) => out(`  state "${s.state.name}": ${s.violation!.invariant} at step ${s.violation!.step}: ${s.violation!.detail}\n    written to ${written[k]}; replay on the kernel with: npx iospec run --kernel ${written[k]}`));
        out(broken.length === 0 ? 'no crash state broke an invariant' : `${broken.length} crash state(s) broke an invariant`);
      }
      code = broken.length === 0 ? 0 : 1;
    });

  program
    .command('findings')
    .description('list the known upstream findings: kernel bugs the model mirrors, with their scenarios, report and proposed fix')
    .option('--json', 'as JSON')
    .action((opts: { json?: boolean }) => {
      const rows = knownFindings().map((f) => ({
        id: f.id,
        fs: loadScenario(join(import.meta.dirname, '..', f.scenarios[0])).system.fs,
        confirmed: f.confirmed,
        invariants: f.invariants,
        scenarios: f.scenarios,
        report: f.confirmed ? `docs/findings/${f.id}.md` : null,
        fix: f.fix ?? null,
        summary: f.summary,
      }));
      if (opts.json === true) out(JSON.stringify(rows, null, 2));
      else {
        for (const r of rows) {
          out(`${r.id} (${r.fs}; ${r.confirmed ? 'confirmed on Linux 6.18' : 'from the source, not confirmed on hardware'})\n  ${r.summary}\n  breaks: ${r.invariants.join(', ')}`);
          for (const s of r.scenarios) out(`  scenario: ${s}`);
          if (r.report !== null) out(`  report: ${r.report}`);
          if (r.fix !== null) out(`  proposed fix (checked clean): iospec check --variant ${r.fix}`);
          out('');
        }
      }
    });

  program
    .command('filesystems')
    .description('list the file systems the model knows: features, kernel runner, differential targets')
    .option('--json', 'as JSON')
    .action((opts: { json?: boolean }) => {
      const rows = fs_types().map((t) => ({
        name: t.name,
        description: t.description,
        features: t.features,
        kernel: t.harness.kernel === null ? null : { mkfs: t.harness.kernel.tools.map((x) => x.cmd), packages: t.harness.kernel.tools.map((x) => x.pkg), crash: t.harness.kernel.crash },
        diffTargets: t.harness.diffTargets.map((d) => d.name),
        findings: t.harness.findings.map((f) => f.id),
      }));
      if (opts.json === true) out(JSON.stringify(rows, null, 2));
      else {
        for (const r of rows) {
          out(`${r.name}\n  ${r.description}`);
          for (const [f, what] of Object.entries(r.features)) out(`  feature ${f}: ${what}`);
          out(r.kernel === null ? '  kernel: model only' : `  kernel: ${r.kernel.mkfs.join(', ')}; crash by ${r.kernel.crash === 'shutdown' ? 'the shutdown ioctl' : 'copying the image'}; diff --fuzz --fs ${r.diffTargets.join('|')}`);
          if (r.findings.length > 0) out(`  known upstream findings: ${r.findings.join(', ')}`);
          out('');
        }
      }
    });

  program
    .command('bench')
    .description('print model and checker speed figures (a benchmark, not a test)')
    .option('--steps <n>', 'length of the random sequences', '20000')
    .option('--seed <n>', 'seed of the generated sequences', '1')
    .option('--json', 'as JSON')
    .option('--no-variants', 'skip the time-to-counterexample figures of every variant (several minutes)')
    .option('--soak <steps>', 'also time a soak of this many model steps per file system (the target: 1000000 in 15 s)', '0')
    .option('--kernel', 'also run the conformance corpus on the model and on this kernel, and print the ratio')
    .action(async (opts: { steps: string; seed: string; json?: boolean; variants: boolean; soak: string; kernel?: boolean }) => {
      const figs = await runBench({ steps: intArg('--steps', opts.steps), seed: intArg('--seed', opts.seed), variants: opts.variants, soak: intArg('--soak', opts.soak), kernel: opts.kernel === true });
      if (opts.json === true) out(JSON.stringify(figs, null, 2));
      else for (const f of figs) out(`${f.name.padEnd(34)} ${String(f.value).padStart(10)} ${f.unit.padEnd(8)} ${f.detail}`);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      code = e.exitCode === 0 ? 0 : 2;
    } else if (e instanceof UsageError) {
      err(`error: ${e.message}`);
      code = 2;
    } else if (e instanceof ScenarioError) {
      err(`error: ${e.message}`);
      code = 2;
    } else if (e instanceof Error && 'code' in e && 'path' in e && typeof e.path === 'string') {
      // A file the user named (--html, --out, an export) that cannot be written or read.
      err(`error: ${e.path}: ${String(e.code)} (${e.message.split(',')[0]})`);
      code = 2;
    } else {
      throw e;
    }
  }
  return code;
}

class UsageError extends Error {}

/** What the kernel runner cannot do of a scenario, said before it runs. */
function kernelCaveats(sc: ReturnType<typeof loadScenario>): string[] {
  const out: string[] = [];
  const variants = Object.keys(sc.doc.variant ?? {}).filter((k) => sc.doc.variant?.[k] === true);
  if (variants.length > 0) out.push(`the file's variant ${variants.join(', ')} is not run: the kernel is upstream, and the model side is upstream too`);
  sc.doc.steps.forEach((s, i) => {
    // "all" and "none" mean the same on both sides; a subset names writes of the model's crash report,
    // which the kernel runner applies to the recorder's own log of the kernel's writes.
    if (isSubsetCrash(s)) out.push(`step ${i + 1}: this crash keeps a subset of the writes not yet durable; on the kernel the FUSE recorder applies it to its own log of the kernel's writes, which are not the model's: diff compares the steps up to it, and judges the kernel's answers after it by the oracle`);
  });
  const modelOnly = sc.doc.steps.filter(modelOnlyStep).length;
  if (modelOnly > 0) out.push(`${modelOnly} model-only step(s): the kernel answers them "unsupported" and they are not compared`);
  return out;
}

/** An integer of at least 1: a count of 0 would check nothing and still look like a verdict. */
/**
 * One file system's part of a `diff --fuzz` report: the totals, the named
 * limitations met, and the disagreements grouped by the operation (and the
 * field) of their first differing step, so that 30 scenarios that are one
 * model bug read as one line with their files.
 */
function printDiffReport(r: DiffFuzzReport, jobs: number): void {
  out(`${r.fs}: ${r.scenarios} scenarios, ${r.steps} steps, ${r.agreed} agree, ${r.disagreements.length} disagree, in ${(r.elapsedMs / 1000).toFixed(1)}s${jobs > 1 ? ` (${jobs} workers)` : ''}`);
  if (r.crashSubsets > 0) out(`  ${r.crashSubsets} with a crash keeping a subset of the writes not flushed: compared up to it, judged by the oracle after it`);
  for (const [name, n] of Object.entries(r.limitations)) out(`  known limitation ${name}: ${n} scenario(s)`);
  const groups = new Map<string, FoundDisagreement[]>();
  for (const d of r.disagreements) {
    const key = `${d.op}, ${d.field}`;
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  for (const [key, ds] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
    out(`  DISAGREE first at ${key}: ${ds.length} scenario(s)`);
    for (const d of ds) out(`    scenario ${d.scenario}, step ${d.step} of ${d.steps}: model ${JSON.stringify(d.model)}, kernel ${JSON.stringify(d.kernel)}${d.file !== null ? ` — ${d.file}` : ''}`);
  }
}

function positiveIntArg(name: string, v: string): number {
  const n = Number(v);
  if (n === 0) throw new UsageError(`${name}: at least 1 (0 would check nothing), got "${v}"`);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name}: expected a positive integer, got "${v}"`);
  return n;
}

function intArg(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name}: expected a non-negative integer, got "${v}"`);
  return n;
}

function numArg(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name}: expected a positive number, got "${v}"`);
  return n;
}

/** The options of `iospec check`, as commander gives them. */
interface CheckOpts {
  invariant?: string[]; variant?: string; fs?: string; systems?: string; seed?: string; runs: string; maxSteps: string; soak?: boolean; time: string; out: string; json?: boolean;
  exhaustive?: boolean; depth: string; jobs?: string; shard?: string; jobRuns?: string; worker?: string;
}

/**
 * The sequences of each worker, from --job-runs (exact, as a repeat line
 * gives them) or --runs split between --jobs workers; null when neither
 * --jobs nor --job-runs is given (the default: --runs over the cores).
 */
function jobRunsArg(opts: CheckOpts, cmd: Command): number[] | null {
  const jobs = opts.jobs === undefined ? undefined : positiveIntArg('--jobs', opts.jobs);
  if (opts.jobRuns === undefined) return jobs === undefined ? null : splitRuns(positiveIntArg('--runs', opts.runs), jobs);
  const list = opts.jobRuns.split(',').map((x) => {
    if (!/^\d+$/.test(x.trim())) throw new UsageError(`--job-runs: comma-separated numbers of sequences, one per worker, got "${opts.jobRuns}"`);
    return Number(x);
  });
  if (jobs !== undefined && jobs !== list.length) throw new UsageError(`--job-runs: ${list.length} number${list.length === 1 ? '' : 's'} for --jobs ${jobs}: give one per worker`);
  const sum = list.reduce((a, b) => a + b, 0);
  if (sum === 0) throw new UsageError('--job-runs: at least 1 sequence in all (0 would check nothing)');
  if (cmd.getOptionValueSource('runs') !== 'default' && intArg('--runs', opts.runs) !== sum) throw new UsageError(`--runs ${opts.runs} with --job-runs ${opts.jobRuns}: --runs must be their sum, ${sum} (or leave it out)`);
  return list;
}

/** What the summary says of the workers and the shard. */
function workerLines(seed: number, shard: Shard, jobs: number, workers: ReadonlyArray<{ worker: number; seed: number; runs: number; steps: number; killed?: true }>, failing: { worker: number; seed: number } | null, r: CheckReport): string[] {
  const lines: string[] = [];
  if (shard.count > 1) lines.push(`shard ${shard.index} of ${shard.count}: the seeds of its workers are derived from ${seed} and the shard, distinct from every other shard's`);
  if (jobs > 1) lines.push(`${jobs} workers: ${workers.map((w) => `worker ${w.worker} (seed ${w.seed}) ${w.runs} sequence${w.runs === 1 ? '' : 's'}, ${w.steps} steps${w.killed === true ? ' (stopped by force: counts from its last progress report)' : ''}`).join('; ')}`);
  else if (shard.count > 1) lines.push(`1 worker: seed ${workers[0]?.seed ?? seed}`);
  if (failing !== null && jobs > 1) lines.push(`worker ${failing.worker} (seed ${failing.seed}) failed at its sequence ${r.repeatRuns} (its other sequences were shrinking); the other workers stopped there`);
  return lines;
}

/**
 * The exit status of a check: 1 with a counterexample; 5 when nothing was
 * checked that the verdict would be about (no sequence ran, or none reached
 * the variant's changed code, or the budget cut an exhaustive scope short);
 * 0 only for a clean run that checked what it names.
 */
function verdictCode(r: CheckReport, incomplete: boolean): number {
  if (r.counterexample !== null) return 1;
  return noVerdict(r, incomplete) !== null ? 5 : 0;
}

function noVerdict(r: CheckReport, incomplete: boolean): string | null {
  if (r.runs === 0) return 'no sequence ran';
  if (r.variantSequences === 0) return `the variant's changed code ran in none of the ${r.runs} sequences`;
  if (incomplete) return 'the time budget ran out before the scope was covered';
  return null;
}

function summaryJson(r: CheckReport, variant: string | null, file: string | null, repeat: string | null) {
  return {
    seed: r.seed,
    variant: variant ?? 'upstream',
    ...(r.variantSequences !== null ? { variantSequences: r.variantSequences } : {}),
    ...(repeat !== null ? { repeat, repeatRuns: r.repeatRuns } : {}),
    ...(r.cutShort !== undefined && r.cutShort > 0 ? { cutShort: r.cutShort } : {}),
    runs: r.runs,
    steps: r.steps,
    elapsedMs: r.elapsedMs,
    stepsPerSecond: Math.round(r.steps / Math.max(0.001, r.elapsedMs / 1000)),
    ops: r.ops,
    errnos: r.errnos,
    reached: r.reached,
    coverage: r.coverage,
    findings: r.findings,
    counterexample:
      r.counterexample === null
        ? null
        : { file, invariant: r.counterexample.violation.invariant, step: r.counterexample.violation.step, detail: r.counterexample.violation.detail, steps: r.counterexample.steps.length, shrunkFrom: r.counterexample.originalSteps },
  };
}

/** The coverage points a run reached, and the first of those it never did (every count in --json). */
export function coverageLine(coverage: Readonly<Record<string, number>>): string {
  const all = Object.entries(coverage);
  const never = all.filter(([, n]) => n === 0).map(([p]) => p);
  const head = `coverage: ${all.length - never.length} of ${all.length} points reached`;
  if (never.length === 0) return head;
  const shown = never.slice(0, 6);
  return `${head}; never: ${shown.join('; ')}${never.length > shown.length ? `; ... (${never.length - shown.length} more in --json)` : ''}`;
}

function printSummary(r: CheckReport, variant: string | null, file: string | null, repeat: string | null, incomplete = false, workers: readonly string[] = []): void {
  const secs = r.elapsedMs / 1000;
  out(`${r.runs} sequences, ${r.steps} steps in ${secs.toFixed(1)}s (${Math.round(r.steps / Math.max(0.001, secs))} steps/s) on ${variant ?? 'upstream'}, seed ${r.seed}`);
  for (const l of workers) out(l);
  if (r.variantSequences !== null) out(`variant ${variant}: its changed code ran in ${r.variantSequences} of ${r.runs} sequences`);
  if (r.cutShort !== undefined && r.cutShort > 0) {
    // Each worker has at most one sequence running when the budget ends.
    out(r.cutShort === 1 ? 'the time budget cut 1 sequence short (checked as far as it ran; the repeat command leaves it out)'
      : `the time budget cut 1 sequence short in each of ${r.cutShort} workers (checked as far as they ran; the repeat command leaves them out)`);
  }
  if (repeat !== null) out(`repeat: ${repeat}`);
  const ops = Object.entries(r.ops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  out(`ops: ${ops}`);
  const errs = Object.entries(r.errnos).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  if (errs !== '') out(`errors returned: ${errs}`);
  // The top of each count on a screen; all of it in --json.
  const top = (m: Record<string, number>, n: number): string => {
    const all = Object.entries(m).sort((a, b) => b[1] - a[1]);
    return all.slice(0, n).map(([k, v]) => `${k} ${v}`).join(', ') + (all.length > n ? `, ... (${all.length - n} more in --json)` : '');
  };
  const reached = top(r.reached, 12);
  if (reached !== '') out(`reached: ${reached}`);
  out(coverageLine(r.coverage));
  for (const [id, n] of Object.entries(r.findings)) {
    const f = knownFindings().find((x) => x.id === id);
    out(`known upstream finding ${id}: ${n} sequence(s) ran into it (${f === undefined ? '' : f.scenarios[0]}${f?.confirmed === true ? `; report docs/findings/${id}.md` : ''}), not reported again`);
  }
  if (r.counterexample === null) {
    const why = noVerdict(r, incomplete);
    out(why === null ? 'no invariant violated' : `NO VERDICT: ${why} (exit 5)`);
    return;
  }
  const c = r.counterexample;
  out(`\nCOUNTEREXAMPLE: ${c.violation.invariant} violated at step ${c.violation.step} (shrunk from ${c.originalSteps} to ${c.steps.length} steps)`);
  out(`  ${c.violation.detail}`);
  c.steps.forEach((s, i) => out(`  ${String(i + 1).padStart(3)}  ${describeStep(s).padEnd(48)} -> ${describeResult(c.results[i]!)}`));
  // A finding's pattern is matched on the sequence as generated; a long one may hide it behind unrelated steps.
  const shrunkKnown = variant === null ? knownFinding(c.system, c.steps, c.results, c.violation) : null;
  if (shrunkKnown !== null) out(`\nthe shrunk counterexample is the known upstream finding ${shrunkKnown.id} (${shrunkKnown.scenarios[0] ?? ''}): the sequence as generated did not show its pattern, the shrunk one does`);
  if (file !== null) out(`\nwritten to ${file}; replay with: npx iospec replay ${file}`);
}

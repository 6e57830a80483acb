/**
 * `iospec diff --fuzz --jobs N`: one file system's scenarios shared between
 * N worker processes, each `iospec diff --fuzz --worker-slice I/N` with the
 * run's settings.  Every worker draws the same inputs from the seed and
 * runs the scenarios whose number is I mod N, so a scenario's number, its
 * saved file and its outcome do not depend on N.  The kernel runner waits
 * on mkfs, mount and the helper much of the time, so the workers overlap
 * well even on few cores.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BIN, PROGRESS_TAG } from '../checker/jobs.ts';
import type { DiffFuzzOptions, DiffFuzzReport } from './difffuzz.ts';

/** A worker's progress line (after PROGRESS_TAG on its stderr). */
export interface SliceProgress {
  readonly done: number;
  readonly found: number;
}

/** The reports of a run's workers added up (disagreements in scenario order). */
export function mergeDiffReports(parts: readonly DiffFuzzReport[], elapsedMs: number): DiffFuzzReport {
  const limitations: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.limitations)) limitations[k] = (limitations[k] ?? 0) + v;
  const sum = (f: (r: DiffFuzzReport) => number): number => parts.reduce((n, r) => n + f(r), 0);
  return {
    fs: parts[0]?.fs ?? '',
    scenarios: sum((r) => r.scenarios),
    steps: sum((r) => r.steps),
    agreed: sum((r) => r.agreed),
    disagreements: parts.flatMap((r) => r.disagreements).sort((a, b) => a.scenario - b.scenario),
    limitations,
    crashSubsets: sum((r) => r.crashSubsets),
    elapsedMs,
  };
}

/** Run one target's scenarios on `jobs` worker processes and add up their reports. */
export async function diffFuzzJobs(o: Omit<DiffFuzzOptions, 'slice'>, jobs: number): Promise<DiffFuzzReport> {
  const t0 = Date.now();
  const done = new Array<SliceProgress>(jobs).fill({ done: 0, found: 0 });
  const children = Array.from({ length: jobs }, (_, index) => {
    const args = [BIN, 'diff', '--fuzz', '--fs', o.target.name, '--count', String(o.count), '--seed', String(o.seed), '--time', String(o.timeMs / 1000),
      '--max-steps', String(o.maxSteps), '--out', o.out ?? '', '--json', '--worker-slice', `${index + 1}/${jobs}`];
    return spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  });
  const stopAll = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  try {
    const parts = await Promise.all(children.map((child, index) => new Promise<DiffFuzzReport>((resolve, reject) => {
      let stdout = '';
      const errLines: string[] = [];
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (s: string) => {
        stdout += s;
      });
      createInterface({ input: child.stderr! }).on('line', (line) => {
        if (!line.startsWith(PROGRESS_TAG)) {
          errLines.push(line);
          return;
        }
        done[index] = JSON.parse(line.slice(PROGRESS_TAG.length)) as SliceProgress;
        o.onProgress?.(done.reduce((n, p) => n + p.done, 0), o.count, done.reduce((n, p) => n + p.found, 0));
      });
      child.on('error', (e) => reject(new Error(`diff worker ${index + 1}/${jobs} could not run: ${e.message}`)));
      child.on('close', (code, signal) => {
        // A worker exits 1 when it found a disagreement: its report is still the last line.
        const last = stdout.trim().split('\n').pop() ?? '';
        if ((code === 0 || code === 1) && last.startsWith('[')) {
          const reports = JSON.parse(last) as DiffFuzzReport[];
          if (reports.length === 1) return resolve(reports[0]!);
        }
        reject(new Error(`diff worker ${index + 1}/${jobs} ended with ${signal ?? `exit status ${code}`}: ${errLines.slice(-5).join(' / ') || 'no output'}`));
      });
    }).catch((e: unknown) => {
      stopAll();
      throw e;
    })));
    return mergeDiffReports(parts, Date.now() - t0);
  } finally {
    stopAll();
  }
}

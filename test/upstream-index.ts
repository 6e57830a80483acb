/**
 * Upstream's exhaustive small scope, run once for the whole test run and
 * shared: every sequence of up to SMALL_SCOPE operations on every scope,
 * with every invariant watching, noting which variants' knobs each run
 * consulted (checker/exhaustive.ts, `probe`).  test/upstream.test.ts checks
 * that it is clean; the variant tests search a variant's small scope with
 * it, running again only the sequences where upstream consulted one of the
 * variant's knobs (the others run the same on the variant, step for step).
 *
 * The runs are saved under node_modules/.cache/iospec, named by a hash of
 * every source file they depend on, one file per scope: the test workers
 * divide the scopes between them (a lock directory per scope says who makes
 * it), and a later test run on the same sources reads them back (the same
 * computation on the same sources, like a build cache).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allScopes, exhaustive } from '../checker/exhaustive.ts';
import type { SequenceRecord, UpstreamIndex } from '../checker/exhaustive.ts';
import { INVARIANTS } from '../properties/index.ts';
import { SMALL_SCOPE } from './helpers.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** What upstream's runs depend on. */
const SOURCE_DIRS = ['model', 'checker', 'properties', 'oracle', 'scenario'];

/** Upstream's run of one scope. */
export interface ScopeRun {
  readonly scope: string;
  readonly fs: string;
  readonly sequences: number;
  readonly complete: boolean;
  readonly findings: Record<string, number>;
  /** A violation no known finding explains (upstream is then not clean), where it happened. */
  readonly violation: { readonly invariant: string; readonly detail: string; readonly path: string } | null;
  readonly records: SequenceRecord[];
}

function sourceHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir)).sort()) {
      const rel = join(dir, name);
      if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.ts')) h.update(rel).update('\0').update(readFileSync(join(ROOT, rel))).update('\0');
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  h.update(`depth ${SMALL_SCOPE}; ${INVARIANTS.map((i) => i.id).join(',')}`);
  return h.digest('hex').slice(0, 16);
}

function runScope(scope: string, fs: string): ScopeRun {
  const r = exhaustive({ depth: SMALL_SCOPE, invariants: INVARIANTS, variant: null, scope, probe: true });
  const c = r.counterexample;
  return {
    scope, fs, sequences: r.sequences, complete: r.complete, findings: r.findings,
    violation: c === null ? null : { invariant: c.violation.invariant, detail: c.violation.detail, path: c.path },
    records: r.index?.[scope] ?? [],
  };
}

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** Is the process that took this lock gone (or did it never say who it is, long ago)? */
function staleLock(lock: string): boolean {
  try {
    const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    process.kill(pid, 0);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPERM') return false;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      const st = statSync(lock, { throwIfNoEntry: false });
      return st !== undefined && Date.now() - st.mtimeMs > 60_000;
    }
    return true;
  }
}

let memo: { readonly index: UpstreamIndex; readonly runs: readonly ScopeRun[] } | null = null;

/** Upstream's runs of every scope and the index the variant searches reuse them through. */
export function upstreamRuns(): { readonly index: UpstreamIndex; readonly runs: readonly ScopeRun[] } {
  if (memo !== null) return memo;
  const cache = join(ROOT, 'node_modules', '.cache', 'iospec');
  const dir = join(cache, `upstream-${sourceHash()}`);
  mkdirSync(dir, { recursive: true });
  // Runs of other sources, a day old: gone.
  for (const old of readdirSync(cache)) {
    const p = join(cache, old);
    if (old.startsWith('upstream-') && p !== dir && Date.now() - statSync(p).mtimeMs > 86_400_000) rmSync(p, { recursive: true, force: true });
  }
  const scopes = allScopes();
  const done = new Map<string, ScopeRun>();
  const deadline = Date.now() + 20 * 60_000;
  while (done.size < scopes.length) {
    let progress = false;
    for (const s of scopes) {
      if (done.has(s.name)) continue;
      const file = join(dir, `${s.name.replace(/[^a-z0-9]+/gi, '-')}.json`);
      if (existsSync(file)) {
        done.set(s.name, JSON.parse(readFileSync(file, 'utf8')) as ScopeRun);
        progress = true;
        continue;
      }
      const lock = `${file}.lock`;
      try {
        mkdirSync(lock);
      } catch {
        if (staleLock(lock)) rmSync(lock, { recursive: true, force: true });
        continue;
      }
      try {
        writeFileSync(join(lock, 'pid'), String(process.pid));
        const run = runScope(s.name, s.system.fs);
        writeFileSync(`${file}.${process.pid}`, JSON.stringify(run));
        renameSync(`${file}.${process.pid}`, file);
        done.set(s.name, run);
        progress = true;
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
    }
    if (done.size < scopes.length && !progress) {
      if (Date.now() > deadline) throw new Error(`upstream's small scope: still waiting for ${scopes.filter((s) => !done.has(s.name)).map((s) => s.name).join(', ')} in ${dir}`);
      sleep(200);
    }
  }
  const runs = scopes.map((s) => done.get(s.name)!);
  memo = {
    runs,
    index: { depth: SMALL_SCOPE, invariants: INVARIANTS.map((i) => i.id), scopes: Object.fromEntries(runs.map((r) => [r.scope, r.records])) },
  };
  return memo;
}

/**
 * The judge of one model mutant (bench/mutation.ts runs it in a copy of the
 * repository whose model/ holds the mutant): the corpus first — the
 * conformance scenarios and the model-only ones (the model must give the
 * recorded answers, no invariant may fire except a scenario's known
 * finding) and the saved counterexamples (each must still fail as it
 * records, with its variant) — then `check` on upstream for the given
 * time.  Prints one JSON line: what caught the mutant, or that nothing did.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../scenario/load.ts';
import { runOnModel } from '../scenario/run.ts';
import { compareResults } from '../kernel/compare.ts';
import type { StepResult } from '../model/system.ts';
import { replay } from '../checker/replay.ts';
import { knownFindings } from '../checker/findings.ts';
import { check } from '../checker/check.ts';
import { INVARIANTS } from '../properties/index.ts';

export interface Verdict {
  readonly caught: 'corpus' | 'check' | null;
  readonly detail: string;
  readonly ms: number;
}

/** The first scenario of the corpus the model no longer passes, or null. */
function corpusFailure(): string | null {
  for (const sub of ['conformance', 'scenarios']) {
    const dir = join(import.meta.dirname, '..', 'test', sub);
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
      try {
        const sc = loadScenario(join(dir, f));
        const want = sc.doc.expect as unknown as StepResult[] | undefined;
        if (want === undefined) continue;
        const got = runOnModel(sc).results;
        for (let i = 0; i < Math.max(got.length, want.length); i++) {
          const a = got[i];
          const b = want[i];
          if (a === undefined || b === undefined) return `test/${sub}/${f}: step ${i + 1} missing`;
          const d = compareResults(a, b);
          if (d !== null) return `test/${sub}/${f}: step ${i + 1} ${d.field}: model ${JSON.stringify(d.model)}, recorded ${JSON.stringify(d.kernel)}`;
        }
        const r = replay(sc);
        const known = knownFindings().find((k) => k.scenarios.includes(`test/${sub}/${f}`));
        const ok = known === undefined ? r.run.violation === null : r.run.violation !== null && known.matches(sc.doc.system, r.run.steps, r.run.results, r.run.violation);
        if (!ok) return `test/${sub}/${f}: ${r.run.violation === null ? `no longer shows ${known?.id}` : `${r.run.violation.invariant} fires: ${r.run.violation.detail}`}`;
      } catch (e) {
        return `test/${sub}/${f}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
      }
    }
  }
  const cx = join(import.meta.dirname, '..', 'counterexamples');
  for (const f of readdirSync(cx).filter((x) => x.endsWith('.json')).sort()) {
    try {
      if (!replay(loadScenario(join(cx, f))).reproduced) return `counterexamples/${f} no longer fails as it records`;
    } catch (e) {
      return `counterexamples/${f}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    }
  }
  return null;
}

export function judge(timeMs: number, seed: number): Verdict {
  const t0 = Date.now();
  const c = corpusFailure();
  if (c !== null) return { caught: 'corpus', detail: c, ms: Date.now() - t0 };
  try {
    const r = check({ invariants: INVARIANTS, variant: null, seed, runs: 1_000_000_000, maxSteps: 40, timeMs });
    if (r.counterexample !== null) return { caught: 'check', detail: `${r.counterexample.violation.invariant}: ${r.counterexample.violation.detail.split('\n')[0]}`, ms: Date.now() - t0 };
    return { caught: null, detail: `${r.runs} sequences, ${r.steps} steps`, ms: Date.now() - t0 };
  } catch (e) {
    return { caught: 'check', detail: `the checker itself failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, ms: Date.now() - t0 };
  }
}

if (process.argv[1]?.endsWith('mutant-judge.ts') === true) {
  const time = Number(process.argv[2] ?? '15');
  const seed = Number(process.argv[3] ?? '1');
  console.log(JSON.stringify(judge(time * 1000, seed)));
}

/**
 * Teeth, both ways, in one search per variant:
 *
 * - every variant breaks an invariant it claims to break: the checker finds
 *   a counterexample on the variant, shrunk to a short sequence, and finds
 *   none on upstream over the same space: every sequence of up to 3
 *   operations (exhaustive small scope; upstream's side is
 *   test/upstream.test.ts, run once for all variants, and the variant's
 *   search runs again only the sequences where upstream consulted its
 *   knobs: test/upstream-index.ts) or, when that is not enough, the same
 *   seed and the same number of random sequences.  Where the small scope
 *   misses a variant, test/variant-witnesses.json names the seed and the
 *   number of random sequences that catch it (found by
 *   test/find-witnesses.ts), so the test does not search for a seed;
 *   a witness that no longer catches it (the model changed) falls back to
 *   the search and says so;
 * - every invariant catches a variant, watching that invariant alone.  Where
 *   a variant's counterexample above violates it, that counterexample run
 *   watching the invariant alone is the proof (the generated sequences do not
 *   depend on the invariants watched, and the shrunk steps were shrunk
 *   watching the violated invariant alone), so the search is not made twice;
 *   otherwise the invariant gets its own search, as for a variant.
 *
 * The tests are split over files (test/variants-1.test.ts, ...) so that
 * vitest runs them on every worker at once; an invariant is tested in the
 * file of its first claimant, after that file's variants.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../checker/check.ts';
import { INVARIANTS } from '../properties/index.ts';
import { VARIANTS } from '../model/variants.ts';
import { replay } from '../checker/replay.ts';
import { parseScenario } from '../scenario/load.ts';
import { counterexampleDoc } from '../checker/counterexample.ts';
import { exhaustive } from '../checker/exhaustive.ts';
import { knownFindings } from '../checker/findings.ts';
import { SMALL_SCOPE } from './helpers.ts';
import { knobsOf } from '../checker/check.ts';
import { runChecked } from '../checker/execute.ts';
import { resolveSystem } from '../scenario/resolve.ts';
import type { Step, SystemDoc } from '../scenario/schema.ts';
import type { SystemHint, VariantInfo } from '../model/variants.ts';
import type { Counterexample } from '../checker/check.ts';
import { readFileSync } from 'node:fs';
import { upstreamRuns } from './upstream-index.ts';

/** The counterexample each variant's test found in this file (the invariant tests reuse them). */
const found = new Map<string, { readonly system: SystemDoc; readonly steps: Step[]; readonly invariant: string }>();

/** Seeds tried in order; the run budget per seed. */
const SEEDS = [1, 2, 3, 4, 5];
const BUDGETS = [25_000, 250_000];

/**
 * Random sequences a design claimed clean must pass after its exhaustive
 * small scope: 5,000 in the suite, more in a campaign
 * (`npm run test:campaign` sets IOSPEC_TEETH_RUNS=150000).
 */
const CLEAN_RUNS = ((): number => {
  const v = process.env['IOSPEC_TEETH_RUNS'] ?? '5000';
  if (!/^[1-9][0-9]*$/.test(v)) throw new Error(`IOSPEC_TEETH_RUNS must be a positive whole number of sequences, not ${JSON.stringify(v)}`);
  return Number(v);
})();

/** A seed and the number of random sequences after which the checker has caught a variant (or, for an invariant, a claimant). */
interface Witness {
  readonly seed: number;
  readonly runs: number;
  readonly variant?: string;
}
/** For a variant random search does not reach: a counterexample in counterexamples/ that shows it (a hand-written sequence, replayed). */
interface WrittenWitness {
  readonly counterexample: string;
}
const WITNESSES = JSON.parse(readFileSync(new URL('./variant-witnesses.json', import.meta.url), 'utf8')) as {
  readonly variants: Readonly<Record<string, Witness | WrittenWitness>>;
  readonly invariants: Readonly<Record<string, Witness>>;
};

/** A variant's hand-written counterexample (variant-witnesses.json names the file), loaded; null when it has none. */
function writtenWitness(v: VariantInfo): { readonly system: SystemDoc; readonly steps: Step[] } | null {
  const w = WITNESSES.variants[v.name];
  if (w === undefined || !('counterexample' in w)) return null;
  const sc = parseScenario(JSON.parse(readFileSync(new URL(`../${w.counterexample}`, import.meta.url), 'utf8')));
  return { system: sc.doc.system, steps: sc.doc.steps };
}

/** Random sequences on variant v, at its witness's seed or searching seeds and budgets; the first counterexample and where. */
function randomSearch(
  key: string, witness: Witness | undefined, claimants: readonly VariantInfo[], invariants: Parameters<typeof check>[0]['invariants'], seeds: readonly number[], budgets: readonly number[],
): { c: Counterexample; v: VariantInfo; seed: number; runs: number } | null {
  if (witness !== undefined) {
    const v = claimants.find((x) => x.name === (witness.variant ?? x.name));
    if (v !== undefined) {
      const r = check({ invariants, variant: v, seed: witness.seed, runs: witness.runs, maxSteps: 40, timeMs: 600_000 });
      if (r.counterexample !== null) return { c: r.counterexample, v, seed: witness.seed, runs: r.runsToFailure ?? witness.runs };
    }
    console.warn(`${key}: its witness in test/variant-witnesses.json (${JSON.stringify(witness)}) no longer catches it; searching (npx tsx test/find-witnesses.ts finds a new one)`);
  }
  // Cheap attempts first: every seed (and claimant) with a small budget, then the full one.
  for (const budget of budgets) {
    for (const seed of seeds) for (const v of claimants) {
      const r = check({ invariants, variant: v, seed, runs: budget, maxSteps: 40, timeMs: 600_000 });
      if (r.counterexample === null) continue;
      const runs = r.runsToFailure ?? budget;
      console.warn(`${key}: caught with seed ${seed} after ${runs} sequences; record it in test/variant-witnesses.json (npx tsx test/find-witnesses.ts)`);
      return { c: r.counterexample, v, seed, runs };
    }
  }
  return null;
}

/**
 * The tests for the variants whose index in VARIANTS is `part` modulo
 * `parts`: the variants are split over test files so that vitest runs them
 * on every worker at once (test/variants-1.test.ts, ...).
 */
export function describeVariants(part: number, parts: number): void {
  describe(`each variant is caught, upstream is not (part ${part + 1} of ${parts})`, () => {
    for (const v of VARIANTS.filter((_v, i) => i % parts === part)) {
      if (v.breaks.length === 0) {
        // A design the checker finds no fault in (an RFC as posted): it must stay clean like upstream.
        it(`${v.name} (claims to break nothing)`, () => {
          const ex = exhaustive({ depth: SMALL_SCOPE, invariants: INVARIANTS, variant: v, upstream: upstreamRuns().index });
          expect(ex.complete).toBe(true);
          expect(ex.counterexample?.violation ?? null).toBeNull();
          const r = check({ invariants: INVARIANTS, variant: v, seed: 1, runs: CLEAN_RUNS, maxSteps: 40, timeMs: 600_000 });
          expect(r.counterexample?.violation ?? null).toBeNull();
          expect(r.runs).toBe(CLEAN_RUNS);
          // A proposed fix: the sequences that run into its finding upstream no longer do.
          const fixed = knownFindings().find((f) => f.fix === v.name);
          if (fixed !== undefined) expect([ex.findings[fixed.id] ?? 0, r.findings[fixed.id] ?? 0]).toEqual([0, 0]);
        });
        continue;
      }
      it(v.name, () => {
        const written = writtenWitness(v);
        if (written !== null) {
          // Replayed on the variant it breaks a claimed invariant; on upstream and on the design it refines, nothing.
          const sys = resolveSystem(written.system);
          const r = runChecked(sys, knobsOf(v), written.steps, INVARIANTS);
          expect(v.breaks).toContain(r.violation?.invariant);
          expect(written.steps.length).toBeLessThanOrEqual(12);
          for (const base of [null, ...(v.implies ?? []).map((n) => VARIANTS.find((x) => x.name === n)!)]) {
            expect(runChecked(sys, knobsOf(base), written.steps, INVARIANTS).violation ?? null).toBeNull();
          }
          found.set(v.name, { system: written.system, steps: written.steps, invariant: r.violation!.invariant });
          return;
        }
        // Exhaustive small scope first (every sequence of up to 3 operations): when it finds
        // the variant, upstream is clean over the same whole space (test/upstream.test.ts).
        // A variant with a witness is one the small scope misses: straight to its random sequences.
        const w = WITNESSES.variants[v.name];
        const witness = w !== undefined && !('counterexample' in w) ? w : undefined;
        const ex = witness === undefined ? exhaustive({ depth: SMALL_SCOPE, invariants: INVARIANTS, variant: v, upstream: upstreamRuns().index }) : null;
        if (ex !== null && ex.counterexample !== null) {
          const c = ex.counterexample;
          expect(v.breaks).toContain(c.violation.invariant);
          expect(c.steps.length).toBeLessThanOrEqual(12);
          const doc = counterexampleDoc(c.system, v.name, c.steps, c.results, c.violation, 0, c.path);
          expect(replay(parseScenario(JSON.parse(JSON.stringify(doc)))).reproduced).toBe(true);
          found.set(v.name, { system: c.system, steps: c.steps, invariant: c.violation.invariant });
          return;
        }
        const hit = randomSearch(v.name, witness, [v], INVARIANTS, SEEDS, BUDGETS);
        expect(hit, `${v.name}: no counterexample with seeds ${SEEDS.join(',')}`).not.toBeNull();
        const { c, seed, runs } = hit!;
        expect(v.breaks).toContain(c.violation.invariant);
        expect(c.steps.length).toBeLessThanOrEqual(12);
        // The saved counterexample replays to the same violation at the same step.
        const doc = counterexampleDoc(c.system, v.name, c.steps, c.results, c.violation, seed, c.path);
        const rep = replay(parseScenario(JSON.parse(JSON.stringify(doc))));
        expect(rep.reproduced).toBe(true);
        // Upstream, same seed, same budget, same kind of systems: nothing.
        const up = check({ invariants: INVARIANTS, variant: null, seed, runs, maxSteps: 40, timeMs: 600_000, systems: v.systems });
        expect(up.counterexample?.violation ?? null).toBeNull();
        found.set(v.name, { system: c.system, steps: c.steps, invariant: c.violation.invariant });
      });
    }
  });
}

/** Seeds and budgets of an invariant's own search (when no variant counterexample of this file violates it). */
const INV_SEEDS = [1, 2, 3];
const INV_BUDGETS = [20_000, 150_000];

/**
 * The tests of the invariants whose first claimant is a variant of this
 * part; call after describeVariants(part, parts) in the same file.
 */
export function describeInvariants(part: number, parts: number): void {
  const mine = INVARIANTS.filter((inv) => {
    const first = VARIANTS.findIndex((v) => v.breaks.includes(inv.id));
    return first < 0 ? part === 0 : first % parts === part;
  });
  describe(`every invariant catches a variant, watching it alone (part ${part + 1} of ${parts})`, () => {
    for (const inv of mine) {
      it(inv.id, () => {
        const claimants = VARIANTS.filter((v) => v.breaks.includes(inv.id));
        expect(claimants.map((v) => v.name), `${inv.id}: no variant claims to break it`).not.toEqual([]);
        // A claimant's counterexample from the variant tests (or its hand-written one), run watching this invariant alone.
        for (const v of claimants) {
          const c = found.get(v.name);
          if (c !== undefined && c.invariant === inv.id) {
            const r = runChecked(resolveSystem(c.system), knobsOf(v), c.steps, [inv]);
            expect(r.violation?.invariant).toBe(inv.id);
            return;
          }
          const written = writtenWitness(v);
          if (written !== null && runChecked(resolveSystem(written.system), knobsOf(v), written.steps, [inv]).violation?.invariant === inv.id) return;
        }
        // Exhaustive small scope: a claimant caught there (upstream is clean over the same space: test/upstream.test.ts).
        // An invariant with a witness is one the small scope misses: straight to its random sequences.
        const witness = WITNESSES.invariants[inv.id];
        for (const v of witness === undefined ? claimants : []) {
          const ex = exhaustive({ depth: SMALL_SCOPE, invariants: [inv], variant: v, upstream: upstreamRuns().index });
          if (ex.counterexample === null) continue;
          expect(ex.counterexample.violation.invariant).toBe(inv.id);
          return;
        }
        const hit = randomSearch(inv.id, witness, claimants, [inv], INV_SEEDS, INV_BUDGETS);
        expect(hit, `${inv.id}: none of ${claimants.map((v) => v.name).join(', ')} was caught`).not.toBeNull();
        expect(hit!.c.violation.invariant).toBe(inv.id);
        const caught: { seed: number; runs: number; fs: string | undefined; systems: SystemHint | undefined } = {
          seed: hit!.seed, runs: hit!.runs, fs: hit!.v.fs?.length === 1 ? hit!.v.fs[0] : undefined, systems: hit!.v.systems,
        };
        // Upstream, on the same file systems, same seed and budget: nothing.
        const up = check({ invariants: [inv], variant: null, seed: caught.seed, runs: caught.runs, maxSteps: 40, timeMs: 600_000, fs: caught.fs, systems: caught.systems });
        expect(up.counterexample?.violation ?? null).toBeNull();
      });
    }
  });
}

/**
 * `npx tsx test/find-witnesses.ts [--seeds N]`: write test/variant-witnesses.json,
 * the seeds with which the variant and invariant tests (test/variants-teeth.ts)
 * catch what the exhaustive small scope misses, each the seed among 1..N (20)
 * that catches it after the fewest random sequences (the file as committed
 * was searched over seeds 1..120 for the three slowest: ext4-no-dioread-
 * nolock, ext4-atomic-no-force-commit, crypto-dio-without-engine).  Run it when a test
 * says a witness no longer catches its variant (a change to the model or
 * the generator changes the sequences a seed makes).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { check } from '../checker/check.ts';
import type { Counterexample } from '../checker/check.ts';
import { exhaustive } from '../checker/exhaustive.ts';
import { INVARIANTS } from '../properties/index.ts';
import type { Invariant } from '../properties/index.ts';
import { VARIANTS } from '../model/variants.ts';
import type { VariantInfo } from '../model/variants.ts';
import '../model/filesystems.ts';
import { SMALL_SCOPE } from './helpers.ts';
import { upstreamRuns } from './upstream-index.ts';

const argSeeds = process.argv.indexOf('--seeds');
const SEEDS = argSeeds > 0 ? Number(process.argv[argSeeds + 1]) : 20;
if (!Number.isInteger(SEEDS) || SEEDS < 1) {
  console.error(`find-witnesses: --seeds needs a positive whole number, not ${JSON.stringify(process.argv[argSeeds + 1] ?? '')}`);
  process.exit(2);
}
const BUDGET = 250_000;

interface Witness { seed: number; runs: number; variant?: string }

/** The seed catching one of `claimants` watching `invariants` after the fewest sequences. */
function bestSeed(claimants: readonly VariantInfo[], invariants: readonly Invariant[]): (Witness & { c: Counterexample }) | null {
  let best: (Witness & { c: Counterexample }) | null = null;
  for (let seed = 1; seed <= SEEDS; seed++) {
    for (const v of claimants) {
      const r = check({ invariants, variant: v, seed, runs: best?.runs ?? BUDGET, maxSteps: 40, timeMs: 600_000 });
      if (r.counterexample === null || r.runsToFailure === null) continue;
      if (best === null || r.runsToFailure < best.runs) best = { seed, runs: r.runsToFailure, ...(claimants.length > 1 ? { variant: v.name } : {}), c: r.counterexample };
    }
  }
  return best;
}

const index = upstreamRuns().index;
// Hand-written witnesses (a counterexample file, for what random search does not reach) are kept as they are.
const before = JSON.parse(readFileSync(new URL('./variant-witnesses.json', import.meta.url), 'utf8')) as { variants: Record<string, Witness | { counterexample: string }> };
const variants: Record<string, Witness | { counterexample: string }> = {};
for (const v of VARIANTS) {
  if (v.breaks.length === 0) continue;
  const kept = before.variants[v.name];
  if (kept !== undefined && 'counterexample' in kept) {
    variants[v.name] = kept;
    continue;
  }
  const ex = exhaustive({ depth: SMALL_SCOPE, invariants: INVARIANTS, variant: v, upstream: index });
  if (ex.counterexample !== null) {
    continue;
  }
  const w = bestSeed([v], INVARIANTS);
  if (w === null) {
    console.error(`${v.name}: not caught by seeds 1..${SEEDS} within ${BUDGET} sequences`);
    continue;
  }
  variants[v.name] = { seed: w.seed, runs: w.runs };
  console.error(`${v.name}: seed ${w.seed}, ${w.runs} sequences`);
}
const invariants: Record<string, Witness> = {};
for (const inv of INVARIANTS) {
  const claimants = VARIANTS.filter((v) => v.breaks.includes(inv.id));
  // Claimed only by variants with a hand-written witness: the invariant test replays that counterexample.
  if (claimants.every((v) => { const w = before.variants[v.name]; return w !== undefined && 'counterexample' in w; })) continue;
  // Caught by the small scope watching it alone: no witness needed (a claimant's own counterexample
  // proves it only in the test file of that claimant, so it is not relied on here).
  if (claimants.some((v) => exhaustive({ depth: SMALL_SCOPE, invariants: [inv], variant: v }).counterexample !== null)) continue;
  const w = bestSeed(claimants, [inv]);
  if (w === null) {
    console.error(`${inv.id}: none of its claimants caught by seeds 1..${SEEDS}`);
    continue;
  }
  invariants[inv.id] = { seed: w.seed, runs: w.runs, variant: w.variant ?? claimants[0]!.name };
  console.error(`${inv.id}: ${invariants[inv.id]!.variant}, seed ${w.seed}, ${w.runs} sequences`);
}
writeFileSync(new URL('./variant-witnesses.json', import.meta.url), `${JSON.stringify({ variants, invariants }, null, 2)}\n`);

/**
 * The invariant ids, as a type: the ids of the declared invariants
 * (properties/index.ts) and the model's own.  Variants, findings and
 * counterexamples name invariants by these.
 */
import type { DECLARED_INVARIANTS, MODEL_INTERNAL } from './index.ts';

export type InvariantId = (typeof DECLARED_INVARIANTS)[number]['id'] | (typeof MODEL_INTERNAL)['id'];

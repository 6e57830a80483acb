/**
 * The oracle reports facts; invariants decide them (properties/*.ts:
 * `decides`).  Every kind of fact, with every qualifier it can carry, is
 * decided by exactly one invariant — so nothing the oracle observes goes
 * unreported, and nothing is reported twice.
 */
import { describe, expect, it } from 'vitest';
import type { OracleFact, OracleFactKind } from '../oracle/facts.ts';
import { INVARIANTS } from '../properties/index.ts';

const detail = 'test';
/** One entry per kind (the Record type makes a new kind a compile error here), with each qualifier. */
const FACTS: Record<OracleFactKind, OracleFact[]> = {
  'file-missing': (['none', 'fsync', 'dsync'] as const).map((promise) => ({ kind: 'file-missing', promise, detail })),
  'append-offset': [{ kind: 'append-offset', detail }],
  size: (['none', 'fsync'] as const).map((promise) => ({ kind: 'size', promise, detail })),
  'read-length': (['none', 'fsync', 'dsync'] as const).map((promise) => ({ kind: 'read-length', promise, detail })),
  'durable-bytes-lost': (['fsync', 'dsync'] as const).map((promise) => ({ kind: 'durable-bytes-lost', promise, detail })),
  'read-bytes': (['shared-zeroed', 'lost-write', 'none'] as const).map((cause) => ({ kind: 'read-bytes', cause, detail })),
  'stale-bytes': [{ kind: 'stale-bytes', detail }],
  'clone-leak': [{ kind: 'clone-leak', detail }],
  'torn-atomic-write': [{ kind: 'torn-atomic-write', detail }],
  'read-error': [{ kind: 'read-error', detail }],
  'unreported-writeback-error': [{ kind: 'unreported-writeback-error', detail }],
  'spurious-writeback-error': [{ kind: 'spurious-writeback-error', detail }],
};

describe('every oracle fact is decided by exactly one invariant', () => {
  for (const f of Object.values(FACTS).flat()) {
    it(JSON.stringify({ ...f, detail: undefined }), () => {
      const deciders = INVARIANTS.filter((i) => i.kind === 'oracle' && i.decides(f)).map((i) => i.id);
      expect(deciders).toHaveLength(1);
    });
  }
  it('every oracle invariant decides some fact', () => {
    for (const i of INVARIANTS) if (i.kind === 'oracle') expect(Object.values(FACTS).flat().some((f) => i.decides(f)), i.id).toBe(true);
  });
});

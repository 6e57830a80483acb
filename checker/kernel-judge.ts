/**
 * Judging a run on the real kernel with the model's oracle (`iospec
 * crashes`): the model executes the same steps, for the sources of each
 * write and for its own answers before step `from`; from step `from` on the
 * oracle observes the kernel's answers instead, its reads resolved to the
 * oracle's spans by byte value (Oracle.resolveRead).  Only the oracle's
 * invariants judge: the state invariants look inside the model, which is
 * not the kernel.
 */
import type { StepOutcome, StepResult } from '../model/system.ts';
import { System } from '../model/system.ts';
import { UPSTREAM } from '../model/variants.ts';
import { Oracle } from '../oracle/oracle.ts';
import type { Invariant, OracleInvariant } from '../properties/invariant.ts';
import type { InvariantId } from '../properties/ids.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import type { Step } from '../scenario/schema.ts';
import type { Violation } from './execute.ts';
import { newSources } from './execute.ts';

export function judgeKernelRun(system: ResolvedSystem, steps: readonly Step[], kernel: readonly StepResult[], from: number, invariants: readonly Invariant[]): Violation | null {
  const watched = invariants.filter((i): i is OracleInvariant<InvariantId> => i.kind === 'oracle');
  const sys = new System(system, UPSTREAM, { recording: false });
  const oracle = new Oracle((id) => sys.sources.get(id));
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const n = i + 1;
    const before = sys.sources.count;
    const model = sys.exec(step, n);
    let out: StepOutcome = model;
    if (n >= from) {
      const k = kernel[i];
      // A step the kernel runner cannot do (model-only) is not judged; the model's answer stands.
      if (k === undefined || k.unsupported !== undefined) continue;
      // An append whose position the oracle cannot know (the size is uncertain after the crash, and the kernel
      // does not say where it wrote): the oracle could only guess, so the judging ends here, with no violation.
      if (k.errno === undefined && (k.ret ?? 0) > 0 && oracle.appendPositionUnknown(step)) return null;
      const read = step.op === 'pread' && k.errno === undefined && k.data !== undefined ? oracle.resolveRead(step.fd, step.offset, k.data) : null;
      out = { result: k, read, writePos: -1, crashReport: null, ioErrors: [] };
    }
    for (const f of oracle.observe(step, n, out, newSources(sys, before))) {
      const inv = watched.find((x) => x.decides(f));
      if (inv !== undefined) return { invariant: inv.id, step: n, detail: f.detail };
    }
  }
  return null;
}

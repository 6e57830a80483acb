/**
 * Known upstream findings: behaviour of the kernel this model mirrors that
 * breaks an invariant.  They are bugs to report, not variants; the checker
 * counts the sequences that run into one (and reports them in its summary)
 * instead of stopping at them, so that a long run on upstream goes on
 * looking for something new.  Each has a scenario that shows it.  Those of
 * one file system are in its harness (model/<fs>/harness.ts); those of the
 * generic code, which every file system inherits, are here.
 */
import type { StepResult } from '../model/system.ts';
import type { Step, SystemDoc } from '../scenario/schema.ts';
import type { Violation } from './execute.ts';
import type { KnownFinding } from './finding.ts';
import { appendingWrite, breaks } from './finding.ts';
import { fs_types, get_fs_type } from '../model/filesystems.ts';
import { runChecked } from './execute.ts';
import { UPSTREAM, findVariant, variantKnobs } from '../model/variants.ts';
import type { Knobs } from '../model/variants.ts';
import { INVARIANTS } from '../properties/index.ts';
import { resolveSystem } from '../scenario/resolve.ts';

export type { KnownFinding } from './finding.ts';

/** Findings in the generic (VFS) code. */
const GENERIC_FINDINGS: readonly KnownFinding[] = [
  {
    id: 'atomic-append-unaligned',
    summary:
      'An RWF_ATOMIC direct write through O_APPEND (or with RWF_APPEND) is validated at the offset the caller passed (generic_atomic_write_valid, the file systems\' alignment checks), then moved to EOF (generic_write_checks_count), which need not be aligned. On XFS the software atomic path then writes the whole EOF block out of place without the bytes before the write, which read back as zeroes: data loss, fsynced data included (confirmed on Linux 6.18). On ext4 with hardware atomic writes the REQ_ATOMIC bio is not naturally aligned to its size, and with bigalloc the write\'s blocks straddle two clusters, so they are allocated misaligned (and the write fails with ENOSPC after allocating) (model only: this machine has no such device).',
    scenarios: ['test/conformance/xfs-atomic-append-unaligned.json', 'test/conformance/xfs-atomic-append-unaligned-used-disk.json'],
    fix: 'fix-atomic-append-revalidate',
    confirmed: true,
    invariants: ['data/read-your-writes', 'data/no-stale-exposure', 'atomic/single-unsplit-bio', 'alloc/aligned-when-required'],
    matches(_system, steps, results, v) {
      return breaks(this, v) && appendingWrite(steps, results, v.step, 'atomic');
    },
  },
];

/** Every known finding: each registered file system's, then the generic ones. */
export function knownFindings(): KnownFinding[] {
  return [...fs_types().flatMap((t) => t.harness.findings), ...GENERIC_FINDINGS];
}

/** The known finding a violation on this system comes from, or null. */
export function knownFinding(system: SystemDoc, steps: readonly Step[], results: readonly StepResult[], v: Violation): KnownFinding | null {
  const is = (f: KnownFinding): boolean =>
    f.matches(system, steps, results, v) &&
    (f.confirmByFix !== true || confirmedByFix(f, system, steps, v)) &&
    // The same steps without the finding's trigger leave the invariant alone.
    (f.cleanWithout === undefined || brokenBy(f.cleanWithout(system), UPSTREAM, steps) !== v.invariant);
  const own = get_fs_type(system.fs)?.harness.findings ?? [];
  for (const f of own) if (is(f)) return f;
  return GENERIC_FINDINGS.find(is) ?? null;
}

/** The invariant the steps break on this system with these knobs, if any. */
function brokenBy(system: SystemDoc, knobs: Knobs, steps: readonly Step[]): string | null {
  return runChecked(resolveSystem(system), knobs, steps, INVARIANTS).violation?.invariant ?? null;
}

/** Do the steps break the violation's invariant on upstream, and nothing with the finding's fix? */
function confirmedByFix(f: KnownFinding, system: SystemDoc, steps: readonly Step[], v: Violation): boolean {
  const fix = f.fix === undefined ? undefined : findVariant(f.fix);
  if (fix === undefined) return false;
  return brokenBy(system, UPSTREAM, steps) === v.invariant && brokenBy(system, variantKnobs(fix), steps) === null;
}

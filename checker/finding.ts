/**
 * What a known upstream finding is (each file system's harness lists its
 * own, model/fs/registry.ts), and the step-pattern matchers they share.
 * Known findings are bugs of the kernel this model mirrors: the checker
 * counts the sequences that run into one instead of stopping at them.
 */
import type { StepResult } from '../model/system.ts';
import type { Step, SystemDoc } from '../scenario/schema.ts';
import type { InvariantId } from '../properties/ids.ts';
import type { Violation } from './execute.ts';

export interface KnownFinding {
  readonly id: string;
  readonly summary: string;
  /** The scenario that shows it (test/conformance/ when confirmed on this machine's kernel). */
  readonly scenario: string;
  /** Confirmed on the kernel (Linux 6.18 here), or read from the source only. */
  readonly confirmed: boolean;
  /** The invariants it breaks. */
  readonly invariants: readonly InvariantId[];
  /** Does this violation, on a system of the finding's file system, come from it? */
  matches(system: SystemDoc, steps: readonly Step[], results: readonly StepResult[], violation: Violation): boolean;
}

/**
 * Did a step up to the violation write through an O_APPEND file (or with
 * RWF_APPEND) — atomically (an attempt is enough: ext4 allocates before it
 * fails), or directly (O_DIRECT) and successfully, as asked?
 */
export function appendingWrite(steps: readonly Step[], results: readonly StepResult[], upTo: number, kind: 'atomic' | 'direct'): boolean {
  const files = new Map<string, readonly string[]>();
  for (let i = 0; i < upTo && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'open') files.set(s.fd, s.flags);
    if (s.op !== 'pwrite' || (kind === 'direct' && (results[i]?.ret ?? 0) <= 0)) continue;
    // A file system without atomic writes refuses the flag before anything happens.
    if (kind === 'atomic' && results[i]?.errno === 'EOPNOTSUPP') continue;
    const rwf = s.flags ?? [];
    const flags = files.get(s.fd) ?? [];
    const append = (flags.includes('O_APPEND') || rwf.includes('RWF_APPEND')) && !rwf.includes('RWF_NOAPPEND');
    if (!append) continue;
    if (kind === 'atomic' ? rwf.includes('RWF_ATOMIC') : flags.includes('O_DIRECT') && !rwf.includes('RWF_ATOMIC')) return true;
  }
  return false;
}

/** Did a direct write (an O_DIRECT file, not atomic) succeed after a crash, before the violation? */
export function directWriteAfterCrash(steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
  const crash = steps.findIndex((s) => s.op === 'crash');
  if (crash < 0 || crash >= upTo) return false;
  const files = new Map<string, readonly string[]>();
  for (let i = crash + 1; i < upTo && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'open') files.set(s.fd, s.flags);
    if (s.op === 'pwrite' && (results[i]?.ret ?? 0) > 0 && (files.get(s.fd) ?? []).includes('O_DIRECT')) return true;
  }
  return false;
}

/** Is the violation one of the invariants the finding breaks? */
export function breaks(f: KnownFinding, v: Violation): boolean {
  return f.invariants.includes(v.invariant);
}

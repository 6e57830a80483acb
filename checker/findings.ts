/**
 * Known upstream findings: behaviour of the kernel this model mirrors that
 * breaks an invariant.  They are bugs to report, not variants; the checker
 * counts the sequences that run into one (and reports them in its summary)
 * instead of stopping at them, so that a long run on upstream goes on
 * looking for something new.  Each has a scenario that shows it.
 */
import type { StepResult } from '../model/system.ts';
import type { Step, SystemDoc } from '../scenario/schema.ts';
import type { Violation } from './execute.ts';

export interface KnownFinding {
  readonly id: string;
  readonly summary: string;
  /** The scenario that shows it (test/conformance/ when confirmed on this machine's kernel). */
  readonly scenario: string;
  /** Confirmed on the kernel (Linux 6.18 here), or read from the source only. */
  readonly confirmed: boolean;
  /** The invariants it breaks. */
  readonly invariants: readonly string[];
  matches(system: SystemDoc, steps: readonly Step[], results: readonly StepResult[], violation: Violation): boolean;
}

/**
 * Did a step up to the violation write through an O_APPEND file (or with
 * RWF_APPEND) — atomically (an attempt is enough: ext4 allocates before it
 * fails), or directly (O_DIRECT) and successfully, as asked?
 */
function appendingWrite(steps: readonly Step[], results: readonly StepResult[], upTo: number, kind: 'atomic' | 'direct'): boolean {
  const files = new Map<string, readonly string[]>();
  for (let i = 0; i < upTo && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'open') files.set(s.fd, s.flags);
    if (s.op !== 'pwrite' || (kind === 'direct' && (results[i]?.ret ?? 0) <= 0)) continue;
    const rwf = s.flags ?? [];
    const flags = files.get(s.fd) ?? [];
    const append = (flags.includes('O_APPEND') || rwf.includes('RWF_APPEND')) && !rwf.includes('RWF_NOAPPEND');
    if (!append) continue;
    if (kind === 'atomic' ? rwf.includes('RWF_ATOMIC') : flags.includes('O_DIRECT') && !rwf.includes('RWF_ATOMIC')) return true;
  }
  return false;
}

/** Did a direct write (an O_DIRECT file, not atomic) succeed after a crash, before the violation? */
function directWriteAfterCrash(steps: readonly Step[], results: readonly StepResult[], upTo: number): boolean {
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

/** Is the violation on this file system and one of the finding's invariants? */
function on(f: KnownFinding, fs: 'ext4' | 'xfs', system: SystemDoc, v: Violation): boolean {
  return system.fs === fs && f.invariants.includes(v.invariant);
}

export const KNOWN_FINDINGS: readonly KnownFinding[] = [
  {
    id: 'ext4-dio-extend-stale-tail',
    summary:
      'ext4: a direct write that extends a file does not zero the tail of the old EOF block (XFS does, in xfs_file_write_checks). When a crash lost the size update of an earlier write whose data reached the disk, the bytes it wrote beyond the recovered EOF reappear inside the file, where the gap must read as zeroes. Found by the checker; confirmed on Linux 6.18 (XFS zeroes the gap in the same scenario).',
    scenario: 'test/conformance/ext4-dio-extend-after-crash-stale-tail.json',
    confirmed: true,
    invariants: ['data/read-your-writes'],
    matches(system, steps, results, v) {
      return on(this, 'ext4', system, v) && directWriteAfterCrash(steps, results, v.step);
    },
  },
  {
    id: 'xfs-atomic-cow-ondisk-size',
    summary:
      'XFS: an RWF_ATOMIC direct write done by the software (COW) path that ends below the in-core size but past the on-disk size (a buffered write beyond it has not been written back yet) never moves the on-disk size: xfs_dio_write_end_io updates it only for a write past the in-core size or through unwritten conversion, and xfs_reflink_end_atomic_cow does not. With O_SYNC (or fsync of its range) the write returns success, and after a crash the file is shorter than the write: its bytes cannot be read. Found by the checker; confirmed on Linux 6.18.',
    scenario: 'test/conformance/xfs-atomic-sync-ondisk-size.json',
    confirmed: true,
    invariants: ['sync/dsync-durable', 'durability/fsync'],
    matches(system, steps, results, v) {
      return on(this, 'xfs', system, v) && steps.some((s, i) => i < v.step && s.op === 'pwrite' && (s.flags ?? []).includes('RWF_ATOMIC') && (results[i]?.ret ?? 0) > 0);
    },
  },
  {
    id: 'atomic-append-unaligned',
    summary:
      'An RWF_ATOMIC direct write through O_APPEND (or with RWF_APPEND) is validated at the offset the caller passed (generic_atomic_write_valid, the file systems\' alignment checks), then moved to EOF (generic_write_checks_count), which need not be aligned. On XFS the software atomic path then writes the whole EOF block out of place without the bytes before the write, which read back as zeroes: data loss, fsynced data included (confirmed on Linux 6.18). On ext4 with hardware atomic writes the REQ_ATOMIC bio is not naturally aligned to its size, and with bigalloc the write\'s blocks straddle two clusters, so they are allocated misaligned (and the write fails with ENOSPC after allocating) (model only: this machine has no such device).',
    scenario: 'test/conformance/xfs-atomic-append-unaligned.json',
    confirmed: true,
    invariants: ['data/read-your-writes', 'data/no-stale-exposure', 'atomic/single-unsplit-bio', 'alloc/aligned-when-required'],
    matches: (_system, steps, results, v) => appendingWrite(steps, results, v.step, 'atomic'),
  },
  {
    id: 'xfs-dio-append-unaligned-cow',
    summary:
      'XFS: an appending direct write (O_APPEND or RWF_APPEND) to a reflinked file is checked for block alignment at the offset the caller passed (xfs_file_dio_write), then moved to EOF (xfs_file_write_checks -> generic_write_checks_count), which need not be block aligned. Taking the aligned path, it writes part of a fresh COW staging block without reading or zeroing the rest, and the completion remaps the whole block: the bytes the EOF block shared with the clone source are replaced by whatever the staging block held (zeroes on a fresh loop device, stale data on a used disk), durably. An unaligned write at the same explicit offset is bounced to the page cache (-ENOTBLK) and is fine. Found by the checker; confirmed on Linux 6.18.',
    scenario: 'test/conformance/xfs-dio-append-reflink-unaligned.json',
    confirmed: true,
    invariants: ['data/read-your-writes', 'data/no-stale-exposure', 'cow/partial-block-preserved', 'durability/fsync'],
    matches(system, steps, results, v) {
      return on(this, 'xfs', system, v) && appendingWrite(steps, results, v.step, 'direct');
    },
  },
  {
    id: 'ext4-atomic-encrypted-buffered',
    summary:
      'ext4: an RWF_ATOMIC direct write to an encrypted file that cannot do direct I/O (no inline encryption) falls back to a buffered write (ext4_dio_write_iter: !ext4_should_use_dio), because ext4_inode_can_atomic_write does not look at encryption; the atomic guarantee is lost. Needs a device with hardware atomic writes: read from the source, not confirmed on hardware.',
    scenario: 'test/scenarios/ext4-atomic-encrypted-buffered.json',
    confirmed: false,
    invariants: ['atomic/no-buffered-fallback', 'atomic/no-torn-write'],
    matches(system, _steps, _results, v) {
      return on(this, 'ext4', system, v) && (system.features ?? []).includes('encrypt');
    },
  },
  {
    id: 'ext4-dio-no-bounce',
    summary:
      'ext4 sends direct I/O straight from the user\'s pages even when the device needs stable pages (it checksums what it receives, T10 PI style): XFS bounce buffers direct I/O there (IOMAP_DIO_BOUNCE when mapping_stable_writes), ext4 does not. A thread that changes its buffer while its direct write is in flight makes the protection information generated at submission stale, and the device fails the write with a guard tag error (EILSEQ). Read from the source (ext4 never passes IOMAP_DIO_BOUNCE); this machine has no device with protection information.',
    scenario: 'test/scenarios/ext4-dio-no-bounce-stable.json',
    confirmed: false,
    invariants: ['integrity/checksum-matches-data'],
    matches(system, _steps, _results, v) {
      return on(this, 'ext4', system, v) && system.device?.stableWrites === true;
    },
  },
];

export function knownFinding(system: SystemDoc, steps: readonly Step[], results: readonly StepResult[], v: Violation): KnownFinding | null {
  return KNOWN_FINDINGS.find((f) => f.matches(system, steps, results, v)) ?? null;
}

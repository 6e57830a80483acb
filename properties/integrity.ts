/**
 * Stable pages and protection information (T10 PI style): a device that
 * checksums each sector needs the data of a write to stay unchanged from
 * the moment the checksum is generated (at submission) until the device
 * has transferred it.
 */
import type { CheckContext } from './invariant.ts';
import { invariant } from './invariant.ts';

export const checksumMatchesData = invariant({
  id: 'integrity/checksum-matches-data',
  statement:
    'On a device that requires stable writes and keeps a protection checksum per sector, every write reaches the device with exactly the data its checksum was computed over when the bio was submitted: nothing — a buffered write, a store through a mapping, a user thread changing the buffer of its own direct write — changes the pages of a write between submission and transfer. Buffered I/O gets this from folio_wait_stable and write-protection during writeback; direct I/O from bounce buffers. A violation is a write the device rejects (a guard tag error, EILSEQ) or, on a device that does not verify, a sector whose checksum does not match its data.',
  source: 'block/bio-integrity-auto.c: bio_integrity_prep (protection information generated at submission); include/linux/pagemap.h: folio_wait_stable (AS_STABLE_WRITES); fs/iomap/direct-io.c: IOMAP_DIO_BOUNCE; seed 001 (iomap: add a flag to bounce buffer direct I/O)',
  kind: 'state',
  events: ['bio-complete'],
  check(ctx: CheckContext): string | null {
    for (const e of ctx.sys.events) {
      if (e.t !== 'bio-complete' || !e.bio.piMismatch) continue;
      const b = e.bio;
      return `step ${ctx.n}: the ${b.origin.kind} write bio ${b.id} (${b.size} bytes at sector ${b.sector}, file offset ${b.origin.pos + b.relOff}) reached the device with data changed after its protection checksum was computed at submission (guard tag error, EILSEQ)`;
    }
    return null;
  },
});

export const noFalseChecksumError = invariant({
  id: 'integrity/no-false-checksum-error',
  statement:
    'A read fails with an I/O error only where the device failed: a file system that checksums data (btrfs) reports a checksum error only when the device really holds other bytes than the checksum was computed over because the device lost or corrupted them — never because the file system computed the checksum over bytes other than the ones it sent (a user buffer changed during a zero-copy direct write), or looked up the wrong checksum. With no failed sector and the file system up, every read of data a write put there succeeds.',
  source: 'fs/btrfs/direct-io.c: btrfs_direct_write ("btrfs: always fallback to buffered write if the inode requires checksum": "a user buffer changed during DIO gave false csum mismatches"); fs/btrfs/bio.c: btrfs_csum_one_bio; fs/btrfs/inode.c: btrfs_data_csum_ok; seed 001',
  kind: 'oracle',
  decides: (f) => f.kind === 'read-error',
});

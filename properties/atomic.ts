/**
 * Atomic writes (RWF_ATOMIC): all or nothing, never through the page cache,
 * and on the hardware path one REQ_ATOMIC bio that the block layer never
 * splits.
 */
import type { CheckContext } from './invariant.ts';
import { invariant } from './invariant.ts';
import { REQ_ATOMIC } from '../model/block/bio.ts';
import { IOMAP_DIRECT, IOMAP_WRITE } from '../model/iomap/iomap.ts';

/** The step is an RWF_ATOMIC pwrite that the model accepted (wrote something). */
function atomicWriteDone(ctx: CheckContext): boolean {
  const s = ctx.step;
  return s.op === 'pwrite' && (s.flags ?? []).includes('RWF_ATOMIC') && (ctx.out.result.ret ?? 0) > 0;
}

export const noTornWrite = invariant({
  id: 'atomic/no-torn-write',
  statement:
    'After any crash and recovery, the range of every RWF_ATOMIC write that returned success (or was in flight) reads either entirely as it was before the write or entirely as the write left it — never a mix of old and new bytes. The file size is not part of the guarantee: the size update of a write that extends the file commits after its data (ext4_handle_inode_extension, xfs_dio_write_end_io), so after a crash the part of the write inside the recovered size may read new while the rest is past EOF (durability of the size is what fsync and O_DSYNC promise, checked by sync/dsync-durable). The rule of fstests generic/778 (and the atomic-write group): the block layer may not split a REQ_ATOMIC bio, the device writes it whole, and a software (out-of-place) atomic write is remapped in one transaction.',
  source: 'Documentation/filesystems/ext4/atomic_writes.rst; fs/xfs/xfs_reflink.c: xfs_reflink_end_atomic_cow; block/blk-merge.c: bio_split_rw_at (REQ_ATOMIC); seed 004 (ext4 atomic direct writes: "fail the atomic write rather than fall back to buffered I/O or tear it")',
  kind: 'oracle',
  decides: (f) => f.kind === 'torn-atomic-write',
});

export const noBufferedFallback = invariant({
  id: 'atomic/no-buffered-fallback',
  statement:
    'An RWF_ATOMIC write either fails or is done as direct I/O: it never falls back to a buffered write (whose writeback could split it into several bios, or write part of it), whatever made the direct path impossible — a failed page-cache invalidation gives -EAGAIN, a file system that cannot do it says so with an error.',
  source: 'fs/iomap/direct-io.c: __iomap_dio_rw ("iomap: Don\'t fall back to buffered write if the write is atomic"); fs/ext4/inode.c: ext4_want_directio_fallback ("atomic writes are all-or-nothing"); fs/read_write.c: generic_atomic_write_valid (IOCB_DIRECT); seed 004',
  kind: 'state',
  events: ['mapping'],
  check(ctx: CheckContext): string | null {
    if (!atomicWriteDone(ctx)) return null;
    for (const e of ctx.sys.events) {
      if (e.t === 'mapping' && (e.flags & IOMAP_WRITE) !== 0 && (e.flags & IOMAP_DIRECT) === 0) {
        return `step ${ctx.n}: the RWF_ATOMIC write of ${ctx.out.result.ret} bytes went through the page cache (${e.ops} mapped ${e.pos} for a buffered write)`;
      }
    }
    return null;
  },
});

export const singleUnsplitBio = invariant({
  id: 'atomic/single-unsplit-bio',
  statement:
    'An atomic write done by the hardware (a mapping flagged IOMAP_F_ATOMIC_BIO) is exactly one REQ_ATOMIC bio covering the whole write, physically contiguous and naturally aligned to its size on the device, and the block layer never splits a REQ_ATOMIC bio (it fails it with EINVAL instead).',
  source: 'fs/iomap/direct-io.c: iomap_dio_bio_iter (IOMAP_F_ATOMIC_BIO: the mapping covers the write, one bio); block/blk-merge.c: bio_split_rw_at; block/blk-core.c: blk_validate_atomic_write_op_size; fs/xfs/xfs_iomap.c: xfs_bmap_hw_atomic_write_possible',
  kind: 'state',
  events: ['bio-split', 'bio-queue'],
  check(ctx: CheckContext): string | null {
    for (const e of ctx.sys.events) {
      if (e.t === 'bio-split' && (e.front.opf & REQ_ATOMIC) !== 0) {
        return `step ${ctx.n}: the REQ_ATOMIC bio at sector ${e.front.sector} was split after ${e.front.size} bytes: the rest goes to the device as another bio`;
      }
    }
    if (!atomicWriteDone(ctx)) return null;
    const len = ctx.out.result.ret ?? 0;
    const atomic = ctx.sys.events.flatMap((e) => (e.t === 'bio-queue' && (e.bio.opf & REQ_ATOMIC) !== 0 ? [e.bio] : []));
    if (atomic.length === 0) return null;
    if (atomic.length > 1) return `step ${ctx.n}: the atomic write of ${len} bytes was sent as ${atomic.length} REQ_ATOMIC bios (sectors ${atomic.map((b) => b.sector).join(', ')})`;
    const b = atomic[0]!;
    if (b.size !== len) return `step ${ctx.n}: the atomic write of ${len} bytes was sent as a REQ_ATOMIC bio of ${b.size} bytes`;
    if ((b.sector * 512) % len !== 0) return `step ${ctx.n}: the REQ_ATOMIC bio of ${len} bytes starts at device byte ${b.sector * 512}, not aligned to its size`;
    return null;
  },
});

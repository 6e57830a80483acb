/**
 * The iomap contract: what a file system's ->iomap_begin may return.
 */
import type { CheckContext } from './invariant.ts';
import { invariant } from './invariant.ts';
import type { ModelEvent } from '../model/kernel.ts';
import { IOMAP_DIRECT, IOMAP_F_NEW, IOMAP_F_SHARED, IOMAP_F_STALE, IOMAP_NULL_ADDR, IOMAP_UNSHARE, IOMAP_WRITE, IOMAP_ZERO, describeIomap } from '../model/iomap/iomap.ts';

type MappingEvent = Extract<ModelEvent, { t: 'mapping' }>;

/** The first rule the mapping breaks, or null. */
export function mappingProblem(e: MappingEvent): string | null {
  const { iomap, srcmap } = e.pair;
  const pos = e.pos;
  // iomap_iter_done
  if (iomap.length <= 0) return 'a mapping of length 0';
  if (iomap.offset > pos || iomap.offset + iomap.length <= pos) return `a mapping that does not cover the position asked for (${pos})`;
  if ((iomap.flags & IOMAP_F_STALE) !== 0) return 'IOMAP_F_STALE set by the file system';
  // Addresses and types that go together.
  const noAddr = iomap.type === 'hole' || iomap.type === 'delalloc';
  if (noAddr && iomap.addr !== IOMAP_NULL_ADDR) return `a ${iomap.type} mapping with a disk address`;
  if (!noAddr && iomap.addr < 0) return `a ${iomap.type} mapping without a disk address`;
  if (iomap.type === 'hole' && (iomap.flags & (IOMAP_F_NEW | IOMAP_F_SHARED)) !== 0) return 'a hole flagged NEW or SHARED';
  if (srcmap.type !== 'hole' && (srcmap.offset > pos || srcmap.offset + srcmap.length <= pos)) return `a source map that does not cover the position (${pos})`;
  // Copy-on-write: a write over a shared block must go out of place; a
  // buffered one must say so (IOMAP_F_SHARED) and read what it does not
  // cover from the shared block.  A direct write is block aligned and needs
  // only the other block (btrfs_dio_iomap_begin sets no flags on its new extent).
  const writes = (e.flags & (IOMAP_WRITE | IOMAP_ZERO | IOMAP_UNSHARE)) !== 0;
  if (writes && e.data !== null && e.data.shared) {
    if (iomap.addr >= 0 && iomap.addr + (pos - iomap.offset) === e.data.addr) return `a write mapped onto the shared block itself (disk byte ${e.data.addr}): the other files sharing it would change`;
    if ((e.flags & IOMAP_DIRECT) === 0) {
      if ((iomap.flags & IOMAP_F_SHARED) === 0) return `a buffered write over a shared block (disk byte ${e.data.addr}) that is not a COW mapping (IOMAP_F_SHARED)`;
      if (srcmap.type !== 'mapped' || srcmap.addr + (pos - srcmap.offset) !== e.data.addr) {
        return `a COW mapping over a shared block whose source map (${srcmap.type}) is not the shared block: partial blocks would not be read from it`;
      }
    }
  }
  return null;
}

export const validMapping = invariant({
  id: 'iomap/valid-mapping',
  statement:
    "Every mapping a file system's ->iomap_begin returns is one the iomap core can use: it covers the position asked for with a non-zero length and no STALE flag (iomap_iter_done); holes and delalloc have no disk address while written and unwritten extents have one; a hole is never NEW or SHARED; a source map covers the position; and a write, zeroing or unshare over a block that other files share is mapped to another block — for buffered I/O as a copy-on-write mapping (IOMAP_F_SHARED) with the shared block as its source map, so that partial blocks are read from it.",
  source: 'fs/iomap/iter.c: iomap_iter_done; include/linux/iomap.h: iomap_iter_srcmap, iomap_want_unshare_iter; seed 002 (Btrfs iomap review: Darrick J. Wong and Dave Chinner ask for asserts on the mappings ->iomap_begin returns and on invalid type/flag combinations)',
  kind: 'state',
  events: ['mapping'],
  check(ctx: CheckContext): string | null {
    for (const e of ctx.sys.events) {
      if (e.t !== 'mapping') continue;
      const p = mappingProblem(e);
      if (p !== null) return `step ${ctx.n}: ${e.ops} returned ${describeIomap(e.pair)} for ${e.pos} (inode ${e.ino}): ${p}`;
    }
    return null;
  },
});

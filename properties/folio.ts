/**
 * Folio state invariants (include/linux/page-flags.h, fs/iomap/buffered-io.c).
 */
import type { CheckContext, Invariant } from './invariant.ts';

export const dirtyIffDirtyBlocks: Invariant = {
  id: 'folio/dirty-iff-dirty-blocks',
  statement:
    'Between operations, a folio inside EOF with per-block state (iomap_folio_state) is marked dirty if and only if at least one of its blocks is marked dirty: a dirty folio whose blocks are all clean would be "written back" without writing anything, and a clean folio with dirty blocks would never be written back. (Writeback skips folios wholly beyond EOF, which wait for truncation, without touching their blocks.)',
  source: 'fs/iomap/buffered-io.c: __iomap_write_end, iomap_dirty_folio, iomap_writeback_folio (ifs_find_dirty_range, iomap_clear_range_dirty)',
  oracle: false,
  events: false,
  check(ctx: CheckContext): string | null {
    if (ctx.sys.crashed) return null;
    for (const inode of ctx.sys.sb.inodes.values()) {
      for (const f of inode.mapping.allFolios()) {
        if (f.ifs === null || f.pos >= inode.i_size) continue;
        const anyDirty = f.ifs.dirty.some((b) => b === 1);
        if (f.dirty !== anyDirty) {
          return `step ${ctx.n}: folio at ${f.pos} of inode ${inode.ino} is ${f.dirty ? 'dirty' : 'clean'} but its blocks are ${anyDirty ? `dirty (${[...f.ifs.dirty].map((b) => (b === 1 ? 'D' : '.')).join('')})` : 'all clean'}`;
        }
      }
    }
    return null;
  },
};

export const writebackIffIoInFlight: Invariant = {
  id: 'folio/writeback-iff-io-in-flight',
  statement:
    'A folio is under writeback (PG_writeback) exactly while write I/O for it is in flight: writeback starts before its bios are submitted and ends only when the last of them completes, so waiting for writeback (fsync, truncate, stable pages) really waits for the I/O.',
  source: 'mm/page-writeback.c: __folio_start_writeback; mm/filemap.c: folio_end_writeback; fs/iomap/ioend.c: iomap_finish_ioend_buffered',
  oracle: false,
  events: false,
  check(ctx: CheckContext): string | null {
    if (ctx.sys.crashed) return null;
    const inflight = new Set<number>();
    for (const b of ctx.sys.disk.inflight) if (b.op === 'write') inflight.add(b.req);
    for (const inode of ctx.sys.sb.inodes.values()) {
      for (const f of inode.mapping.allFolios()) {
        const io = f.wbReqs.some((r) => inflight.has(r));
        if (f.writeback && !io) return `step ${ctx.n}: folio at ${f.pos} of inode ${inode.ino} is under writeback with no write I/O in flight`;
        if (!f.writeback && io) return `step ${ctx.n}: folio at ${f.pos} of inode ${inode.ino} has write I/O in flight (ioend ${f.wbReqs.join(',')}) but is not under writeback`;
      }
    }
    return null;
  },
};

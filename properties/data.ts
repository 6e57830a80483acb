/**
 * Data invariants: what reads return.  Decided by the oracle.
 */
import { invariant } from './invariant.ts';

export const readYourWrites = invariant({
  id: 'data/read-your-writes',
  statement:
    'Every read — buffered or direct, through any file descriptor — returns exactly the bytes the file holds according to the successful writes, truncates and fallocates before it, with the byte count that the file size implies (short at EOF, 0 at or past it; a RWF_NOWAIT read may also stop early, at a folio it would have to wait for); after a crash, every byte it returns is one the file may hold after that crash, and the size is one the file had since it was last made durable.',
  source: 'POSIX read/write semantics; mm/filemap.c: filemap_read; fs/iomap/direct-io.c: iomap_dio_complete (short read at EOF); fstests fsx',
  kind: 'oracle',
  decides: (f) => (f.kind === 'file-missing' || f.kind === 'size' || f.kind === 'read-length') ? f.promise === 'none' : f.kind === 'append-offset' || (f.kind === 'read-bytes' && f.cause === 'none'),
});

export const noStaleExposure = invariant({
  id: 'data/no-stale-exposure',
  statement:
    'A read never returns bytes that were not written to that file at that offset: every byte returned is either a zero the file system produced (a hole, an unwritten extent, sub-block zeroing) or a byte some write put at exactly that offset of that file — never the old contents of a freed block, never device bytes nobody wrote, never data shifted from another offset. This holds across crashes.',
  source: 'fs/iomap/direct-io.c: iomap_dio_bio_iter (sub-block zeroing), fs/iomap/buffered-io.c: iomap_block_needs_zeroing; unwritten extents and ordered data (fs/ext4/inode.c: mpage_map_one_extent, fs/xfs/xfs_bmap.c: xfs_bmapi_convert_delalloc "to avoid exposing stale disk contents if we crash")',
  kind: 'oracle',
  decides: (f) => f.kind === 'stale-bytes',
});

export const durabilityFsync = invariant({
  id: 'durability/fsync',
  statement:
    'What fsync, fdatasync, sync, an O_DSYNC/RWF_DSYNC write or a clean unmount acknowledged survives a crash: after the crash and log recovery the file exists, its size is the durable size unless it changed after the sync, and every byte made durable and not overwritten since reads back exactly.',
  source: 'fsync(2); fs/ext4/fsync.c: ext4_sync_file; fs/xfs/xfs_file.c: xfs_file_fsync; block/blk-flush.c: blkdev_issue_flush',
  kind: 'oracle',
  decides: (f) => (f.kind === 'file-missing' || f.kind === 'size' || f.kind === 'read-length' || f.kind === 'durable-bytes-lost') && f.promise === 'fsync',
});

export const cowSourceUnchanged = invariant({
  id: 'cow/source-unchanged',
  statement:
    'Writing one file of a clone pair never changes what the other reads: after FICLONERANGE the two files share blocks, and a write, zeroing, truncate or unshare of either goes out of place (copy-on-write), so bytes written to one never appear at the corresponding offset of the other — before or after a crash.',
  source: 'fs/xfs/xfs_reflink.c: xfs_reflink_allocate_cow, xfs_reflink_end_cow; fs/xfs/xfs_iomap.c: xfs_buffered_write_iomap_begin (COW fork); ioctl_ficlonerange(2)',
  kind: 'oracle',
  decides: (f) => f.kind === 'clone-leak',
});

export const cowPartialBlockPreserved = invariant({
  id: 'cow/partial-block-preserved',
  statement:
    'Bytes a file shares with another through a clone keep their contents until something writes them: in particular, when a write covers part of a shared block, the rest of that block is read from the shared source block (the srcmap) before the block is copied, never zeroed.',
  source: 'fs/iomap/buffered-io.c: __iomap_write_begin, iomap_block_needs_zeroing (iomap_iter_srcmap); include/linux/iomap.h: iomap_iter_srcmap; seed 002 (review of patch 05: "IOMAP_COW will never be seen by the iomap infrastructure")',
  kind: 'oracle',
  decides: (f) => f.kind === 'read-bytes' && f.cause === 'shared-zeroed',
});

export const dsyncDurable = invariant({
  id: 'sync/dsync-durable',
  statement:
    'A write through an O_DSYNC or O_SYNC file, or with RWF_DSYNC/RWF_SYNC, returns only once its data and the metadata needed to read it back (allocation, unwritten conversion, size, the file itself) are durable: after a crash the bytes it wrote read back (unless overwritten since) and the file is at least that long. The same holds for buffered and direct writes.',
  source: 'include/linux/fs.h: generic_write_sync; fs/iomap/direct-io.c: iomap_dio_complete (IOMAP_DIO_NEED_SYNC); open(2) O_DSYNC; seed 002 (review of patch 04: "Looks like it fails to handle O_[D]SYNC writes")',
  kind: 'oracle',
  decides: (f) => (f.kind === 'file-missing' || f.kind === 'read-length' || f.kind === 'durable-bytes-lost') && f.promise === 'dsync',
});

export const noLostWrite = invariant({
  id: 'data/no-lost-write',
  statement:
    'Without a crash, nothing the caller was told is written is lost: a byte written by a successful write (or stored through a shared mapping) reads back until something overwrites it, also after its folio has been written back and dropped from the page cache (memory-pressure reclaim, a clean unmount). Only a failed writeback — a device error, which fsync then reports — may lose it. A read that returns an older version of the byte after the cache was emptied is a lost write: a folio was marked clean with data the disk never received.',
  source: 'mm/vmscan.c: shrink_folio_list (only clean folios are dropped); mm/page-writeback.c: folio_clear_dirty_for_io; fs/iomap/buffered-io.c: iomap_writeback_folio; seed 003 (RFC RWF_WRITETHROUGH: "not clear the folio dirty bit unless there are no dirty blocks in the folio")',
  kind: 'oracle',
  decides: (f) => f.kind === 'read-bytes' && f.cause === 'lost-write',
});

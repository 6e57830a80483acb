/**
 * Data invariants: what reads return.  Decided by the oracle.
 */
import type { Invariant } from './invariant.ts';

export const readYourWrites: Invariant = {
  id: 'data/read-your-writes',
  statement:
    'Every read — buffered or direct, through any file descriptor — returns exactly the bytes the file holds according to the successful writes, truncates and fallocates before it, with the byte count that the file size implies (short at EOF, 0 at or past it; a RWF_NOWAIT read may also stop early, at a folio it would have to wait for); after a crash, every byte it returns is one the file may hold after that crash, and the size is one the file had since it was last made durable.',
  source: 'POSIX read/write semantics; mm/filemap.c: filemap_read; fs/iomap/direct-io.c: iomap_dio_complete (short read at EOF); fstests fsx',
  oracle: true,
  events: false,
  check: null,
};

export const noStaleExposure: Invariant = {
  id: 'data/no-stale-exposure',
  statement:
    'A read never returns bytes that were not written to that file at that offset: every byte returned is either a zero the file system produced (a hole, an unwritten extent, sub-block zeroing) or a byte some write put at exactly that offset of that file — never the old contents of a freed block, never device bytes nobody wrote, never data shifted from another offset. This holds across crashes.',
  source: 'fs/iomap/direct-io.c: iomap_dio_bio_iter (sub-block zeroing), fs/iomap/buffered-io.c: iomap_block_needs_zeroing; unwritten extents and ordered data (fs/ext4/inode.c: mpage_map_one_extent, fs/xfs/xfs_bmap.c: xfs_bmapi_convert_delalloc "to avoid exposing stale disk contents if we crash")',
  oracle: true,
  events: false,
  check: null,
};

export const durabilityFsync: Invariant = {
  id: 'durability/fsync',
  statement:
    'What fsync, fdatasync, sync, an O_DSYNC/RWF_DSYNC write or a clean unmount acknowledged survives a crash: after the crash and log recovery the file exists, its size is the durable size unless it changed after the sync, and every byte made durable and not overwritten since reads back exactly.',
  source: 'fsync(2); fs/ext4/fsync.c: ext4_sync_file; fs/xfs/xfs_file.c: xfs_file_fsync; block/blk-flush.c: blkdev_issue_flush',
  oracle: true,
  events: false,
  check: null,
};

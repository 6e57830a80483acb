/**
 * FS_IOC_FIEMAP as iomap_fiemap reports it (fs/iomap/fiemap.c): one extent
 * per mapping of the data fork, delalloc with physical 0 and
 * DELALLOC|UNKNOWN, unwritten as UNWRITTEN, and LAST on the final extent.
 * With a reference count map (XFS reflink), written extents are split where
 * sharing starts or stops and shared runs are SHARED
 * (xfs_read_iomap_begin -> xfs_reflink_trim_around_shared).
 */
import type { Inode } from './inode.ts';
import type { FiemapExtent } from './super.ts';
import type { RefcountMap } from './refcount.ts';
import { refcountRuns } from './refcount.ts';

export function iomap_fiemap(inode: Inode, start: number, len: number, refcount: RefcountMap | null): FiemapExtent[] {
  const bs = inode.blockSize;
  const first = Math.floor(start / bs);
  const last = len <= 0 ? Number.MAX_SAFE_INTEGER : Math.ceil((start + len) / bs);
  const out: FiemapExtent[] = [];
  const push = (lblk: number, n: number, physical: number, flags: string[]) => out.push({ logical: lblk * bs, physical: physical * bs, length: n * bs, flags });
  for (const e of inode.extents.overlapping(first, last)) {
    const n = e.end - e.start;
    if (e.v.type === 'delalloc') {
      push(e.start, n, 0, ['FIEMAP_EXTENT_UNKNOWN', 'FIEMAP_EXTENT_DELALLOC']);
      continue;
    }
    if (e.v.type === 'unwritten') {
      push(e.start, n, e.v.pblk, ['FIEMAP_EXTENT_UNWRITTEN']);
      continue;
    }
    if (refcount === null) {
      push(e.start, n, e.v.pblk, []);
      continue;
    }
    // Split at sharing boundaries: runs of shared and of unshared blocks.
    let runStart = e.v.pblk;
    let runShared: boolean | null = null;
    for (const [a, , c] of refcountRuns(refcount, e.v.pblk, n)) {
      const shared = c > 1;
      if (runShared !== null && shared !== runShared) {
        push(e.start + (runStart - e.v.pblk), a - runStart, runStart, runShared ? ['FIEMAP_EXTENT_SHARED'] : []);
        runStart = a;
      }
      runShared = shared;
    }
    push(e.start + (runStart - e.v.pblk), e.v.pblk + n - runStart, runStart, runShared === true ? ['FIEMAP_EXTENT_SHARED'] : []);
  }
  const tail = out[out.length - 1];
  if (tail !== undefined) tail.flags.unshift('FIEMAP_EXTENT_LAST');
  return out;
}

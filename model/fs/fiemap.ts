/**
 * FS_IOC_FIEMAP as iomap_fiemap reports it (fs/iomap/fiemap.c): one extent
 * per mapping of the data fork, delalloc with physical 0 and
 * DELALLOC|UNKNOWN, unwritten as UNWRITTEN, shared as SHARED, and LAST on
 * the final extent.
 */
import type { Inode } from './inode.ts';
import type { FiemapExtent } from './super.ts';

export function iomap_fiemap(inode: Inode, start: number, len: number, shared: (lblk: number, n: number) => boolean): FiemapExtent[] {
  const bs = inode.blockSize;
  const first = Math.floor(start / bs);
  const last = len <= 0 ? Number.MAX_SAFE_INTEGER : Math.ceil((start + len) / bs);
  const out: FiemapExtent[] = [];
  for (const e of inode.extents.overlapping(first, last)) {
    const flags: string[] = [];
    if (e.v.type === 'delalloc') flags.push('FIEMAP_EXTENT_UNKNOWN', 'FIEMAP_EXTENT_DELALLOC');
    if (e.v.type === 'unwritten') flags.push('FIEMAP_EXTENT_UNWRITTEN');
    if (e.v.type !== 'delalloc' && shared(e.start, e.end - e.start)) flags.push('FIEMAP_EXTENT_SHARED');
    out.push({
      logical: e.start * bs,
      physical: e.v.type === 'delalloc' ? 0 : e.v.pblk * bs,
      length: (e.end - e.start) * bs,
      flags,
    });
  }
  const tail = out[out.length - 1];
  if (tail !== undefined) tail.flags.unshift('FIEMAP_EXTENT_LAST');
  return out;
}

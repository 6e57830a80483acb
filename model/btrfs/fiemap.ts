/**
 * fs/btrfs/fiemap.c: btrfs_fiemap, with FIEMAP_FLAG_SYNC (dirty data is
 * written out and ordered extents completed first).  An inline extent is
 * {0, physical 0, one block, NOT_ALIGNED|DATA_INLINE}; a regular extent's
 * physical address is its btrfs logical address; a preallocated one is
 * UNWRITTEN; SHARED is per disk extent: set when any other file, or this
 * file at another offset, references the same disk extent
 * (btrfs_is_data_extent_shared) — so a clone source stays SHARED over all
 * of an extent of which one block was rewritten in the clone.  Entries that
 * are logically and physically contiguous with the same flags are merged
 * (emit_fiemap_extent).
 */
import type { Inode } from '../fs/inode.ts';
import type { FiemapExtent } from '../fs/super.ts';
import { EIO } from '../lib/errno.ts';
import { BTRFS_I } from './btrfs_inode.ts';
import { btrfs_sb } from './fs.ts';
import { btrfs_is_data_extent_shared } from './backref.ts';
import { btrfs_wait_ordered_range } from './ordered-data.ts';

/** The flags in the order of their bits (FIEMAP_EXTENT_*), as the kernel reports them. */
const FLAG_ORDER = ['FIEMAP_EXTENT_LAST', 'FIEMAP_EXTENT_NOT_ALIGNED', 'FIEMAP_EXTENT_DATA_INLINE', 'FIEMAP_EXTENT_UNWRITTEN', 'FIEMAP_EXTENT_SHARED'];

function sortFlags(f: string[]): string[] {
  return FLAG_ORDER.filter((x) => f.includes(x));
}

export function btrfs_fiemap(inode: Inode, start: number, len: number): FiemapExtent[] | number {
  if (inode.sb.shutdown) return -EIO;
  const werr = btrfs_wait_ordered_range(inode, 0, Number.MAX_SAFE_INTEGER);
  if (werr < 0) return werr;
  const bs = inode.blockSize;
  const info = btrfs_sb(inode.sb);
  const first = Math.floor(start / bs);
  const last = len <= 0 ? Number.MAX_SAFE_INTEGER : Math.ceil((start + len) / bs);
  const out: FiemapExtent[] = [];
  const emit = (logical: number, physical: number, length: number, flags: string[]): void => {
    const prev = out[out.length - 1];
    if (prev !== undefined && physical !== 0 && prev.logical + prev.length === logical && prev.physical + prev.length === physical && prev.flags.join() === flags.join()) {
      prev.length += length;
      return;
    }
    out.push({ logical, physical, length, flags });
  };
  if (BTRFS_I(inode).inline !== null && first === 0) emit(0, 0, bs, ['FIEMAP_EXTENT_NOT_ALIGNED', 'FIEMAP_EXTENT_DATA_INLINE']);
  for (const e of inode.extents.overlapping(first, last)) {
    if (e.v.pblk < 0) continue;
    const base = e.v.type === 'unwritten' ? ['FIEMAP_EXTENT_UNWRITTEN'] : [];
    // Pieces of the mapping in each disk extent.
    let l = e.start;
    while (l < e.end) {
      const p = e.v.pblk + (l - e.start);
      const d = info.extents.find(p);
      const dStart = d?.v ?? p;
      const runEnd = d === undefined ? e.end : Math.min(e.end, l + (d.end - p));
      const shared = btrfs_is_data_extent_shared(inode, dStart, inode.ino, l - (p - dStart));
      emit(l * bs, p * bs, (runEnd - l) * bs, shared ? [...base, 'FIEMAP_EXTENT_SHARED'] : base);
      l = runEnd;
    }
  }
  const tail = out[out.length - 1];
  if (tail !== undefined) tail.flags.unshift('FIEMAP_EXTENT_LAST');
  for (const x of out) x.flags = sortFlags(x.flags);
  return out;
}

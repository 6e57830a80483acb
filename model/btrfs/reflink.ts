/**
 * fs/btrfs/reflink.c: FICLONERANGE (btrfs_remap_file_range).  Files with
 * and without data checksums cannot share extents (EINVAL, before the
 * generic range checks); a range that ends at the source's EOF shares the
 * whole EOF block; extents (regular and preallocated) are shared with one
 * more reference, holes become holes, an inline extent is copied (as an
 * inline item into an empty file at 0, else through the page cache); the
 * destination grows to cover the requested length.  Either file O_(D)SYNC:
 * both are fsynced.
 */
import type { SuperBlock } from '../fs/super.ts';
import { iomap_file_buffered_write } from '../iomap/buffered-io.ts';
import { dataLen, zeroData } from '../lib/content.ts';
import { EINVAL, EIO } from '../lib/errno.ts';
import { roundDown, roundUp } from '../lib/math.ts';
import { filemap_fdatawrite_range, folioWrite } from '../mm/filemap.ts';
import { truncate_inode_pages_range } from '../mm/truncate.ts';
import { O_DSYNC } from '../vfs/fcntl.ts';
import type { RemapRequest } from '../vfs/remap_range.ts';
import { IovIter } from '../vfs/uio.ts';
import { BTRFS_I, btrfs_has_csums } from './btrfs_inode.ts';
import { btrfs_sync_file } from './file.ts';
import { btrfs_disk } from './fs.ts';
import { btrfs_wait_ordered_range } from './ordered-data.ts';
import { btrfs_buffered_write_iomap_ops, btrfs_clear_delalloc, btrfs_clone_extent, btrfs_cont_expand, btrfs_drop_extents, btrfs_drop_inline, btrfs_get_extent } from './inode.ts';

function shutdown(sb: SuperBlock): boolean {
  return sb.shutdown;
}

export const btrfs_remap_file_range = {
  /**
   * btrfs_remap_file_range_prep, before generic_remap_file_range_prep:
   * NODATASUM must match on both sides; then the source is flushed
   * (filemap_flush) and both ranges written back and their ordered extents
   * waited for — even when the generic range checks then refuse the clone.
   */
  checks(r: RemapRequest): number {
    const src = r.src.inode;
    const dst = r.dst.inode;
    if (shutdown(src.sb)) return -EIO;
    if (btrfs_has_csums(src) !== btrfs_has_csums(dst)) return -EINVAL;
    const bs = src.blockSize;
    const wbLen = r.len === 0 ? roundUp(src.i_size, bs) - roundDown(r.posIn, bs) : roundUp(r.len, bs);
    filemap_fdatawrite_range(src.mapping, 0, Number.MAX_SAFE_INTEGER, 'none');
    if (wbLen <= 0) return 0;
    const e = btrfs_wait_ordered_range(src, roundDown(r.posIn, bs), roundDown(r.posIn, bs) + wbLen - 1);
    if (e < 0) return e;
    return btrfs_wait_ordered_range(dst, roundDown(r.posOut, bs), roundDown(r.posOut, bs) + wbLen - 1);
  },
  /** btrfs_clone_files -> btrfs_clone */
  remap(r: RemapRequest): number {
    const src = r.src.inode;
    const dst = r.dst.inode;
    const sb = dst.sb;
    const bs = dst.blockSize;
    const olen = r.len;
    const len = r.posIn + r.len === src.i_size ? roundUp(src.i_size, bs) - r.posIn : r.len;
    if (r.posOut > dst.i_size) {
      const e = btrfs_cont_expand(dst, dst.i_size);
      if (e < 0) return e;
      const werr = btrfs_wait_ordered_range(dst, roundDown(dst.i_size, bs), r.posOut - 1);
      if (werr < 0) return werr;
    }
    const first = r.posIn / bs;
    const n = Math.ceil(len / bs);
    const delta = r.posOut / bs - first;
    const sbi = BTRFS_I(src);
    let lblk = first;
    while (lblk < first + n) {
      const d = lblk + delta;
      if (lblk === 0 && sbi.inline !== null) {
        const data = sbi.inline;
        const dbi = BTRFS_I(dst);
        if (d === 0 && dst.i_size <= dataLen(data) && dst.extents.find(0) === undefined) {
          // The inline item is copied.
          btrfs_clear_delalloc(dst, 0, 1);
          dbi.inline = data;
          const ino = dst.ino;
          sb.log(dst, (img) => btrfs_disk(img).inline.set(ino, data));
        } else {
          // copy_inline_to_page: the bytes go into the destination's page cache (an ordinary extent at writeback).
          const iter = new IovIter('write', [{ addr: 0, len: dataLen(data), data }]);
          const w = iomap_file_buffered_write(sb.k, dst, d * bs, iter, btrfs_buffered_write_iomap_ops(dst), 0);
          if (w < 0) return w;
          // "the remaining of the block/page is equivalent to zeroes": folio_zero_range(folio, datal,
          // block_size - datal), counted from the start of the folio, not of the block: the rest of the
          // block while a folio is one block; with a larger folio, bytes of an earlier block, and the
          // rest of this one keeps what it held (finding btrfs-clone-inline-zeroes-folio-start).
          const datal = dataLen(data);
          const folio = dst.mapping.folioAt(d * bs);
          if (datal < bs && folio !== undefined) folioWrite(folio, folio.pos + datal, zeroData(bs - datal));
          // btrfs_clone_files waits for the destination range before dropping its page cache.
          const werr = btrfs_wait_ordered_range(dst, d * bs, d * bs + w - 1);
          if (werr < 0) return werr;
        }
        lblk = 1;
        continue;
      }
      const look = btrfs_get_extent(src, lblk, first + n);
      const cnt = look.end - lblk;
      btrfs_clear_delalloc(dst, d, d + cnt);
      btrfs_drop_extents(dst, d, d + cnt);
      if (d === 0) btrfs_drop_inline(dst);
      if (look.e !== undefined && look.e.pblk >= 0) btrfs_clone_extent(dst, d, cnt, { type: look.e.type, pblk: look.e.pblk });
      lblk = look.end;
    }
    truncate_inode_pages_range(dst.mapping, r.posOut, r.posOut + len - 1);
    const newSize = Math.max(dst.i_size, r.posOut + olen);
    if (newSize > dst.i_size) dst.i_size = newSize;
    if (dst.i_size > dst.disksize) sb.setDisksize(dst, dst.i_size);
    if (((r.src.f_flags | r.dst.f_flags) & O_DSYNC) !== 0) {
      const e = btrfs_sync_file(r.src);
      if (e < 0) return e;
      return btrfs_sync_file(r.dst);
    }
    return 0;
  },
};

/**
 * fs/ext4/super.c and the ext4 operation tables (ext4_file_operations,
 * ext4_file_inode_operations, ext4_da_aops).
 */
import type { FsOps, SuperBlock } from '../fs/super.ts';
import { makeAops } from '../fs/aops.ts';
import { iomap_fiemap } from '../fs/fiemap.ts';
import { iomap_page_mkwrite } from '../iomap/buffered-io.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';
import { EIO } from '../lib/errno.ts';
import { ext4_fallocate } from './extents.ts';
import { ext4_file_open, ext4_file_read_iter, ext4_file_write_iter, ext4_release_file } from './file.ts';
import { ext4_sync_file } from './fsync.ts';
import { ext4_orphan_cleanup } from './orphan.ts';
import {
  ext4_da_iomap_ops,
  ext4_end_io_end,
  ext4_getattr,
  ext4_read_iomap_begin,
  ext4_setattr_size,
  ext4_writepages_map,
} from './inode.ts';

/**
 * ext4_fill_super, the parts the model needs: the maximum file size
 * (ext4_max_size for extent files: 2^32 - 1 blocks) and the atomic write
 * unit limits (ext4_atomic_write_init).
 */
function ext4_fill_super(sb: SuperBlock): void {
  sb.info['maxbytes'] = (2 ** 32 - 1) * sb.blockSize;
  const lim = sb.k.disk.limits;
  let min = 0;
  let max = 0;
  if (lim.atomic_write_unit_min > 0) {
    const cluster = sb.hasFeature('bigalloc') ? sb.cfg.clusterSize : sb.blockSize;
    min = Math.max(sb.blockSize, lim.atomic_write_unit_min);
    // Variant ext4-atomic-aligned-alloc-rfc: without bigalloc, up to the device's unit (aligned allocation gives the extent).
    const rfc = sb.k.v.ext4AtomicAlignedAlloc && !sb.hasFeature('bigalloc');
    max = Math.min(rfc ? Infinity : cluster, lim.atomic_write_unit_max);
    if (min > max) {
      min = 0;
      max = 0;
    }
  }
  sb.info['awu_min'] = min;
  sb.info['awu_max'] = max;
}

export const ext4_ops: FsOps = {
  name: 'ext4',
  fill_super: ext4_fill_super,
  // ext4_should_enable_large_folio: not with data=journal, verity or the encrypt feature.
  large_folios: (sb) => !sb.hasFeature('encrypt'),
  recover: ext4_orphan_cleanup,
  open: ext4_file_open,
  write_iter: ext4_file_write_iter,
  read_iter: ext4_file_read_iter,
  fsync: ext4_sync_file,
  fallocate: ext4_fallocate,
  setattr_size(file, size) {
    if (file.inode.sb.shutdown) return -EIO;
    return ext4_setattr_size(file, size);
  },
  getattr: ext4_getattr,
  fiemap(inode, start, len) {
    if (inode.sb.shutdown) return -EIO;
    filemap_write_and_wait_range(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
    return iomap_fiemap(inode, start, len, null);
  },
  page_mkwrite(inode, folio, pos) {
    return iomap_page_mkwrite(inode.sb.k, inode, folio, ext4_da_iomap_ops(inode), pos);
  },
  sync_fs(sb) {
    sb.journal.commit();
  },
  release: ext4_release_file,
  evict() {},
  aops: makeAops(() => ext4_ops, true),
  map_blocks: ext4_writepages_map,
  end_ioend: ext4_end_io_end,
  read_iomap_begin: (inode, pos, len) => ext4_read_iomap_begin(inode, pos, len),
};

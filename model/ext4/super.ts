/**
 * fs/ext4/super.c: ext4_fill_super, the file system type (ext4_fs_type)
 * and the operation tables (ext4_file_operations,
 * ext4_file_inode_operations, ext4_da_aops).
 */
import type { FsOps, SuperBlock } from '../fs/super.ts';
import type { FileSystemType } from '../fs/registry.ts';
import { makeAops } from '../fs/aops.ts';
import { iomap_fiemap } from '../fs/fiemap.ts';
import { iomap_page_mkwrite } from '../iomap/buffered-io.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';
import { EIO, ENOENT, EOPNOTSUPP } from '../lib/errno.ts';
import { FOP_DONTCACHE, FS_NOCOW_FL } from '../vfs/fcntl.ts';
import { Ext4SbInfo } from './ext4.ts';
import { ext4_journal_submit_inode_data_buffers } from './ext4_jbd2.ts';
import { ext4_ext_map_new_blocks, ext4_fallocate } from './extents.ts';
import { ext4_file_open, ext4_file_read_iter, ext4_file_write_iter, ext4_release_file } from './file.ts';
import { ext4_sync_file } from './fsync.ts';
import { ext4_orphan_cleanup } from './orphan.ts';
import { ext4_harness } from './harness.ts';
import { mke2fs_layout } from './mke2fs.ts';
import { ext4_preallocations } from './mballoc.ts';
import {
  ext4_da_iomap_ops,
  ext4_end_io_end,
  ext4_getattr,
  ext4_read_iomap_begin,
  ext4_setattr_size,
  ext4_writepages_map,
} from './inode.ts';

/**
 * ext4_fill_super, the parts the model needs: the private super block, the
 * maximum file size (ext4_max_size for extent files: 2^32 - 1 blocks), the
 * atomic write unit limits (ext4_atomic_write_init) and the journal's
 * ordered data (data=ordered).
 */
function ext4_fill_super(sb: SuperBlock): void {
  const sbi = new Ext4SbInfo();
  sb.s_fs_info = sbi;
  sb.s_maxbytes = (2 ** 32 - 1) * sb.blockSize;
  const lim = sb.k.disk.limits;
  let min = 0;
  let max = 0;
  if (lim.atomic_write_unit_min > 0) {
    const cluster = sb.hasFeature('bigalloc') ? sb.cfg.clusterSize : sb.blockSize;
    min = Math.max(sb.blockSize, lim.atomic_write_unit_min);
    // Variant ext4-atomic-aligned-alloc-rfc: without bigalloc, up to the device's unit (aligned allocation gives the extent).
    const rfc = sb.k.v.on('ext4-atomic-aligned-alloc-rfc') && !sb.hasFeature('bigalloc');
    max = Math.min(rfc ? Infinity : cluster, lim.atomic_write_unit_max);
    if (min > max) {
      min = 0;
      max = 0;
    }
  }
  sbi.awu_min = min;
  sbi.awu_max = max;
  sb.journal.beforeCommit.push(() => ext4_journal_submit_inode_data_buffers(sb));
}

export const ext4_ops: FsOps = {
  fill_super: ext4_fill_super,
  // ext4_should_enable_large_folio: not with data=journal, verity or the encrypt feature.
  large_folios: (sb) => !sb.hasFeature('encrypt'),
  recover: ext4_orphan_cleanup,
  open: ext4_file_open,
  // ext4_dir_open: no shutdown check (only fscrypt's readdir preparation).
  open_dir: () => 0,
  // ext4_lookup reads directory blocks through the buffer cache, which a shutdown does not stop.
  lookup: () => -ENOENT,
  // ext4_file_mmap_prepare: a shut-down file system refuses the mapping itself.
  mmap: (file) => (file.inode.sb.shutdown ? -EIO : 0),
  write_iter: ext4_file_write_iter,
  read_iter: ext4_file_read_iter,
  fsync: ext4_sync_file,
  fallocate: ext4_fallocate,
  // ext4_fileattr_set: a flag outside EXT4_FL_USER_VISIBLE (FS_NOCOW_FL) is EOPNOTSUPP, checked before
  // ext4_ioctl_setflags sees a shut-down file system (EIO).  Observed on Linux 6.18.
  fileattr_set: (file, flags) => ((flags & FS_NOCOW_FL) !== 0 ? -EOPNOTSUPP : file.inode.sb.shutdown ? -EIO : 0),
  setattr_size(file, size) {
    if (file.inode.sb.shutdown) return -EIO;
    return ext4_setattr_size(file, size);
  },
  getattr: ext4_getattr,
  /**
   * ext4_fiemap: FIEMAP_FLAG_SYNC writes dirty data back first; shut down,
   * that fails when there is any, and otherwise the in-core extent tree is
   * reported as it is.
   */
  fiemap(inode, start, len) {
    if (inode.sb.shutdown) {
      if (inode.mapping.hasDirty()) return -EIO;
    } else {
      filemap_write_and_wait_range(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
    }
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
  fop_flags: () => FOP_DONTCACHE,
  s_cop: true,
  held: ext4_preallocations,
  // ext4_init_new_dir -> ext4_append: the directory's first block, from mballoc without the data
  // hints (no preallocation, goal: the inode's flex group's first group, where directories go).
  mkdir(dir) {
    const got = ext4_ext_map_new_blocks(dir, 0, 1, 'mapped');
    return typeof got === 'number' ? got : 0;
  },
};

/** ext4_fs_type */
export const ext4_fs_type: FileSystemType = {
  name: 'ext4',
  description: 'ext4 with extents, delayed allocation, dioread_nolock and data=ordered; bigalloc, fscrypt (inline or file-system encryption), atomic writes',
  ops: ext4_ops,
  features: {
    encrypt: 'fscrypt (mkfs -O encrypt); files under an encrypt_dir directory are encrypted',
    stable_inodes: 'mkfs -O stable_inodes, needed by IV_INO_LBLK_64/32 policies',
    bigalloc: 'mkfs -O bigalloc: allocation in clusters of clusterSize bytes',
  },
  mkfsDefaults: (features, blockSize) => ({ features: [...features], clusterSize: features.includes('bigalloc') ? blockSize * 16 : blockSize }),
  checkGeometry(g) {
    if (g.blockSize > 4096) return { field: 'system.blockSize', message: 'ext4 on this kernel mounts block sizes up to the page size (4096)' };
    if (g.features.includes('bigalloc')) {
      if (g.clusterSize <= g.blockSize || g.clusterSize % g.blockSize !== 0)
        return { field: 'system.clusterSize', message: `clusterSize ${g.clusterSize} must be a multiple of blockSize ${g.blockSize} larger than it` };
    } else if (g.clusterSize !== g.blockSize) {
      return { field: 'system.clusterSize', message: 'clusterSize is only meaningful with the bigalloc feature' };
    }
    return null;
  },
  // s_first_data_block; the superblocks, group descriptors, bitmaps, inode tables and the journal are where mke2fs puts them.
  metadataBlocks: (g, total) => mke2fs_layout(total, g.blockSize, ext4_fs_type.allocUnit(g)).firstDataBlock,
  mkfsUsed: (g, total) => mke2fs_layout(total, g.blockSize, ext4_fs_type.allocUnit(g)).used,
  allocUnit: (g) => (g.features.includes('bigalloc') ? g.clusterSize / g.blockSize : 1),
  harness: ext4_harness,
};


/**
 * fs/xfs/xfs_super.c: xfs_fs_fill_super, the file system type (xfs_fs_type)
 * and the XFS operation tables.
 */
import { xfs_alloc_search } from './xfs_alloc.ts';
import type { FsOps, SuperBlock } from '../fs/super.ts';
import type { FileSystemType } from '../fs/registry.ts';
import { makeAops } from '../fs/aops.ts';
import { iomap_fiemap } from '../fs/fiemap.ts';
import { iomap_page_mkwrite } from '../iomap/buffered-io.ts';
import { EIO, ENOENT, EOPNOTSUPP } from '../lib/errno.ts';
import { FOP_DONTCACHE, FOP_WRITETHROUGH, FS_NOCOW_FL } from '../vfs/fcntl.ts';
import { xfs_harness } from './harness.ts';
import { xfs_cow_fork } from './xfs_inode.ts';
import { XfsMount } from './xfs_mount.ts';
import { xfs_refcount_recover_cow_leftovers } from './xfs_refcount.ts';
import { filemap_write_and_wait_range } from '../mm/filemap.ts';
import { xfs_end_ioend, xfs_map_blocks } from './xfs_aops.ts';
import {
  xfs_evict,
  xfs_file_fallocate,
  xfs_remap_file_range,
  xfs_file_fsync,
  xfs_file_open,
  xfs_file_read_iter,
  xfs_file_release,
  xfs_file_write_iter,
} from './xfs_file.ts';
import { xfs_buffered_write_iomap_ops, xfs_read_iomap_begin } from './xfs_iomap.ts';
import { xfs_setattr_size, xfs_vn_getattr } from './xfs_iops.ts';

/**
 * The per-AG software atomic write limit (m_groups[XG_TYPE_AG].awu_max),
 * which the kernel derives from the AG size and the log reservation at
 * mount.  These are the values this machine's kernel reports for the
 * default mkfs geometry (see docs/kernel/xfs.md §7).
 */
function xfs_awu_max_blocks(sb: SuperBlock, sizeMiB: number): number {
  if (sb.blockSize <= 1024) return 128;
  return sizeMiB >= 4096 ? 512 : 256;
}

/** xfs_fs_fill_super: the mount structure and the atomic write limit. */
function xfs_fs_fill_super(sb: SuperBlock): void {
  const mp = new XfsMount();
  sb.s_fs_info = mp;
  sb.s_maxbytes = Number.MAX_SAFE_INTEGER;
  const sizeMiB = sb.k.disk.sizeBytes / (1024 * 1024);
  mp.awu_max = xfs_awu_max_blocks(sb, sizeMiB) * sb.blockSize;
}

/** An inode without a COW fork has no other fork (one array for all). */
const NO_FORKS: ReturnType<NonNullable<FsOps['extra_forks']>> = [];

export const xfs_ops: FsOps = {
  alloc_search: xfs_alloc_search,
  large_folios: () => true,
  replay: xfs_refcount_recover_cow_leftovers,
  fill_super: xfs_fs_fill_super,
  recover() {},
  open: xfs_file_open,
  // xfs_dir_open: a shut-down file system refuses.
  open_dir: (sb) => (sb.shutdown ? -EIO : 0),
  // xfs_vn_lookup -> xfs_lookup: a shut-down file system cannot read its directories.
  lookup: (sb) => (sb.shutdown ? -EIO : -ENOENT),
  // xfs_file_mmap_prepare maps whatever the state; a write fault on a shut-down file system is SIGBUS.
  mmap: () => 0,
  write_iter: xfs_file_write_iter,
  read_iter: xfs_file_read_iter,
  fsync: xfs_file_fsync,
  fallocate: xfs_file_fallocate,
  remap_file_range: xfs_remap_file_range,
  // xfs_fileattr_set: FS_IOC_SETFLAGS knows no FS_NOCOW_FL (EOPNOTSUPP) before it starts a transaction
  // on a shut-down file system (EIO).  Observed on Linux 6.18.
  fileattr_set: (file, flags) => ((flags & FS_NOCOW_FL) !== 0 ? -EOPNOTSUPP : file.inode.sb.shutdown ? -EIO : 0),
  setattr_size(file, size) {
    if (file.inode.sb.shutdown) return -EIO;
    return xfs_setattr_size(file.inode, size);
  },
  getattr: xfs_vn_getattr,
  fiemap(inode, start, len) {
    if (inode.sb.shutdown) return -EIO;
    filemap_write_and_wait_range(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
    return iomap_fiemap(inode, start, len, inode.sb.refcount);
  },
  page_mkwrite(inode, folio, pos) {
    return iomap_page_mkwrite(inode.sb.k, inode, folio, xfs_buffered_write_iomap_ops(inode), pos);
  },
  sync_fs(sb) {
    sb.journal.commit();
  },
  release: xfs_file_release,
  evict: xfs_evict,
  aops: makeAops(() => xfs_ops, false),
  map_blocks: xfs_map_blocks,
  end_ioend: xfs_end_ioend,
  read_iomap_begin: (inode, pos, len) => xfs_read_iomap_begin(inode, pos, len),
  // FOP_WRITETHROUGH: the RWF_WRITETHROUGH RFC wired up in XFS (variant writethrough-rfc).
  fop_flags: (sb) => FOP_DONTCACHE | (sb.k.v.on('writethrough-rfc') ? FOP_WRITETHROUGH : 0),
  s_cop: false,
  extra_forks(inode) {
    const cow = xfs_cow_fork(inode);
    return cow === null ? NO_FORKS : [{ name: 'cow', map: cow }];
  },
};

/** mkfs.xfs (xfsprogs 6.1) refuses file systems smaller than 300 MiB. */
const XFS_MIN_SIZE_MIB = 300;

/** xfs_fs_type */
export const xfs_fs_type: FileSystemType = {
  name: 'xfs',
  description: 'XFS with delayed allocation and speculative preallocation, reflink and the COW fork, software and hardware atomic writes',
  ops: xfs_ops,
  features: {
    reflink: 'mkfs.xfs -m reflink=1 (the default): FICLONERANGE, copy-on-write, software atomic writes',
    noreflink: 'mkfs.xfs -m reflink=0',
  },
  mkfsDefaults(features, blockSize) {
    const f = [...features];
    if (!f.includes('noreflink') && !f.includes('reflink')) f.push('reflink');
    return { features: f, clusterSize: blockSize };
  },
  checkGeometry(g) {
    if (g.device.sizeMiB < XFS_MIN_SIZE_MIB) return { field: 'system.device.sizeMiB', message: `mkfs.xfs refuses file systems under ${XFS_MIN_SIZE_MIB} MiB` };
    if (g.features.includes('reflink') && g.features.includes('noreflink')) return { field: 'system.features', message: 'reflink and noreflink contradict each other' };
    if (g.clusterSize !== g.blockSize) return { field: 'system.clusterSize', message: 'clusterSize is only meaningful with ext4 bigalloc' };
    return null;
  },
  // Superblocks, AG headers and btree roots, the internal log.
  metadataBlocks: (_g, total) => Math.max(64, Math.floor(total / 30)),
  allocUnit: () => 1,
  harness: xfs_harness,
};

/**
 * fs/btrfs/super.c and disk-io.c: mounting (open_ctree: log replay,
 * btrfs_fill_super), the file system type (btrfs_fs_type) and the
 * operation tables (btrfs_file_operations, btrfs_file_inode_operations,
 * btrfs_aops).
 *
 * 6.18's btrfs has no shutdown: after a power cut the model's dead file
 * system answers EIO (the kernel runner cannot compare those steps: it
 * crashes btrfs by copying the device, see the harness).
 */
import type { FsOps, SuperBlock } from '../fs/super.ts';
import type { Inode } from '../fs/inode.ts';
import type { FileSystemType } from '../fs/registry.ts';
import { VM_READAHEAD_PAGES } from '../mm/backing-dev.ts';
import { PAGE_SIZE } from '../block/blk-settings.ts';
import { EIO, ENOENT } from '../lib/errno.ts';
import { BTRFS_I } from './btrfs_inode.ts';
import { btrfs_aops } from './extent_io.ts';
import { btrfs_fiemap } from './fiemap.ts';
import { btrfs_fallocate, btrfs_file_open, btrfs_file_read_iter, btrfs_file_write_iter, btrfs_release_file, btrfs_sync_file } from './file.ts';
import { BtrfsFsInfo, btrfs_disk } from './fs.ts';
import { btrfs_harness } from './harness.ts';
import { btrfs_end_ioend, btrfs_get_extent, btrfs_getattr, btrfs_page_mkwrite, btrfs_setsize, btrfs_writepages_map } from './inode.ts';
import { btrfs_fileattr_set, btrfs_update_inode_mapping_flags } from './ioctl.ts';
import { btrfs_remap_file_range } from './reflink.ts';
import { btrfs_free_log, btrfs_recover_log_trees } from './tree-log.ts';
import { iomapHole } from '../iomap/iomap.ts';

/** btrfs_fill_super: the in-core checksums and extent boundaries come from the trees; a commit makes the log obsolete. */
function btrfs_fill_super(sb: SuperBlock): void {
  const info = new BtrfsFsInfo();
  sb.s_fs_info = info;
  // MAX_LFS_FILESIZE
  sb.s_maxbytes = Number.MAX_SAFE_INTEGER;
  // open_ctree: btrfs's own bdi (super_setup_bdi: VM_READAHEAD_PAGES) times the devices (one here), at least 4 MiB.
  sb.s_bdi = { ra_pages: Math.max(VM_READAHEAD_PAGES * 1, (4 << 20) / PAGE_SIZE) };
  info.maxInline = Math.min(info.maxInline, sb.blockSize);
  const disk = btrfs_disk(sb.image);
  for (const [p, c] of disk.csums) info.csums.set(p, c);
  for (const e of disk.extents.entries()) info.extents.set(e.start, e.end, e.v);
  sb.journal.afterCommit.push(() => btrfs_free_log(sb.image));
}

/**
 * btrfs_new_inode / btrfs_read_locked_inode: the inline item, the flags a
 * new file inherits from its directory (btrfs_inherit_iflags: NODATACOW,
 * with NODATASUM for a regular file), and stable pages for checksummed
 * files.
 */
function btrfs_inode_init(inode: Inode, parent: Inode | undefined): void {
  const sb = inode.sb;
  BTRFS_I(inode).inline = btrfs_disk(sb.image).inline.get(inode.ino) ?? null;
  if (parent !== undefined && parent.flags.has('nodatacow')) {
    sb.setInodeFlag(inode, 'nodatacow');
    if (inode.kind === 'reg') sb.setInodeFlag(inode, 'nodatasum');
  }
  btrfs_update_inode_mapping_flags(inode);
}

export const btrfs_ops: FsOps = {
  replay: btrfs_recover_log_trees,
  fill_super: btrfs_fill_super,
  inode_init: btrfs_inode_init,
  // btrfs_set_inode_mapping_order: large folios only with CONFIG_BTRFS_EXPERIMENTAL in 6.18.
  large_folios: () => false,
  recover() {},
  open: btrfs_file_open,
  open_dir: (sb) => (sb.shutdown ? -EIO : 0),
  lookup: (sb) => (sb.shutdown ? -EIO : -ENOENT),
  mmap: (file) => (file.inode.sb.shutdown ? -EIO : 0),
  write_iter: btrfs_file_write_iter,
  read_iter: btrfs_file_read_iter,
  fsync: (file) => btrfs_sync_file(file),
  fallocate: btrfs_fallocate,
  remap_file_range: btrfs_remap_file_range,
  fileattr_set: btrfs_fileattr_set,
  setattr_size: btrfs_setsize,
  getattr: btrfs_getattr,
  fiemap: btrfs_fiemap,
  page_mkwrite: btrfs_page_mkwrite,
  sync_fs(sb) {
    sb.journal.commit();
  },
  release: btrfs_release_file,
  evict() {},
  aops: btrfs_aops,
  map_blocks: btrfs_writepages_map,
  end_ioend: btrfs_end_ioend,
  read_iomap_begin(inode, pos, len) {
    const bs = inode.blockSize;
    const lblk = Math.floor(pos / bs);
    const look = btrfs_get_extent(inode, lblk, Math.max(lblk + 1, Math.ceil((pos + len) / bs)));
    if (look.e === undefined || look.e.pblk < 0) return iomapHole(lblk * bs, (look.end - lblk) * bs);
    return { addr: look.e.pblk * bs, offset: lblk * bs, length: (look.end - lblk) * bs, type: look.e.type, flags: 0 };
  },
  // No FOP_DONTCACHE in 6.18 ("btrfs: disable uncached writes for now").
  fop_flags: () => 0,
  s_cop: false,
  inline_data: (inode) => BTRFS_I(inode).inline,
  extra_forks: (inode) => [
    { name: 'ordered', map: BTRFS_I(inode).ordered },
    { name: 'delalloc', map: BTRFS_I(inode).delalloc },
  ],
};

/** mkfs.btrfs refuses devices under 114294784 bytes. */
const BTRFS_MIN_DEVICE_BYTES = 114294784;

/** btrfs_fs_type */
export const btrfs_fs_type: FileSystemType = {
  name: 'btrfs',
  description: 'btrfs: copy-on-write data with ordered extents, data checksums, NODATACOW files, inline extents, the log tree for fsync, reflink; direct I/O through iomap with its buffered fallbacks',
  ops: btrfs_ops,
  features: {},
  mkfsDefaults: (features, blockSize) => ({ features: [...features], clusterSize: blockSize }),
  checkGeometry(g) {
    if (g.blockSize !== 4096) return { field: 'system.blockSize', message: 'btrfs on this kernel supports a sector size of 4096 only (supported_sectorsizes)' };
    if (g.device.sizeMiB * 1024 * 1024 < BTRFS_MIN_DEVICE_BYTES) return { field: 'system.device.sizeMiB', message: `mkfs.btrfs refuses devices under ${BTRFS_MIN_DEVICE_BYTES} bytes (109 MiB)` };
    if (g.clusterSize !== g.blockSize) return { field: 'system.clusterSize', message: 'clusterSize is only meaningful with ext4 bigalloc' };
    return null;
  },
  // The superblock copies, the chunk tree and the DUP metadata chunks at the start.
  metadataBlocks: (_g, total) => Math.max(64, Math.floor(total / 16)),
  allocUnit: () => 1,
  harness: btrfs_harness,
};

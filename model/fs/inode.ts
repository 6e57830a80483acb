/**
 * The in-core inode: struct inode plus what every file system of the model
 * keeps the same way (the block map, the on-disk size, delayed blocks, the
 * transaction ids fsync waits for).  What only one file system keeps (the
 * XFS COW fork, ext4's orphan state) is its private part, `i_private`
 * (EXT4_I(), XFS_I()).
 */
import type { AddressSpaceOps, MappingHost } from '../mm/filemap.ts';
import { AddressSpace } from '../mm/filemap.ts';
import type { Folio } from '../mm/folio.ts';
import type { ExtentMap } from './extent.ts';
import { newExtentMap } from './extent.ts';
import type { SuperBlock } from './super.ts';
import type { FscryptPolicy } from '../crypto/policy.ts';

export class Inode implements MappingHost {
  readonly ino: number;
  readonly sb: SuperBlock;
  readonly kind: 'reg' | 'dir';
  /** i_size: the size the VFS sees. */
  i_size = 0;
  /** The size the file system has logged or will log (ext4 i_disksize, XFS i_disk_size). */
  disksize = 0;
  /** The data fork / extent status tree, in file blocks. */
  readonly extents: ExtentMap;
  readonly mapping: AddressSpace;
  /** Blocks reserved for delayed allocation, speculative preallocation included (XFS i_delayed_blks, ext4 i_reserved_data_blocks). */
  delayed = 0;
  /** The last transaction that changed this inode (ext4 i_sync_tid, XFS ili_commit_seq). */
  syncTid = 0;
  /** The last transaction fdatasync must make durable (ext4 i_datasync_tid). */
  datasyncTid = 0;
  /** Persistent inode flags ('reflink', 'encrypted', ...). */
  readonly flags = new Set<string>();
  /** The file system's private part of the inode (container_of in the kernel: EXT4_I, XFS_I, BTRFS_I). */
  i_private: object | null = null;
  /** The fscrypt policy of an encrypted inode (inherited from its directory). */
  crypt: FscryptPolicy | null = null;
  /** Direct I/O in flight (inode_dio_begin/end). */
  dioCount = 0;

  constructor(sb: SuperBlock, ino: number, kind: 'reg' | 'dir', aops: AddressSpaceOps, folioSize: number, extents?: ExtentMap) {
    this.sb = sb;
    this.ino = ino;
    this.kind = kind;
    this.extents = extents ?? newExtentMap();
    this.mapping = new AddressSpace(this, aops, folioSize);
    // mapping_set_stable_writes: the block device needs stable pages (SB_I_STABLE_WRITES).
    this.mapping.stableWrites = sb.k.disk.limits.stable_writes;
  }

  get blockSize(): number {
    return this.sb.blockSize;
  }

  get blkbits(): number {
    return this.sb.blkbits;
  }

  isize(): number {
    return this.i_size;
  }

  /** inode->i_sb->s_bdi->ra_pages (file_ra_state_init) */
  ra_pages(): number {
    return this.sb.s_bdi.ra_pages;
  }

  waitWriteback(folio: Folio): void {
    this.sb.waitFolioWriteback(folio);
  }

  /** Data-fork blocks with a real block (not delalloc). */
  allocatedBlocks(): number {
    let n = 0;
    for (const e of this.extents.entries()) if (e.v.type !== 'delalloc') n += e.end - e.start;
    return n;
  }
}

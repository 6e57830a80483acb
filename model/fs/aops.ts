/**
 * The address_space_operations both personalities build from the iomap
 * engine (ext4_da_aops and xfs_address_space_operations, as far as the
 * modelled paths go).
 */
import type { AddressSpaceOps } from '../mm/filemap.ts';
import type { Inode } from './inode.ts';
import type { FsOps } from './super.ts';
import { iomap_invalidate_folio, iomap_read_folio, iomap_release_folio, iomap_writepages } from '../iomap/buffered-io.ts';

export function makeAops(ops: () => FsOps): AddressSpaceOps {
  return {
    writepages(mapping, wbc) {
      const inode = mapping.host as Inode;
      const fs = ops();
      return iomap_writepages(inode.sb.k, inode, wbc, {
        map_blocks: (pos, len) => fs.map_blocks(inode, pos, len),
        end_ioend: (io) => fs.end_ioend(inode, io),
      });
    },
    read_folio(mapping, folio, noio = false) {
      const inode = mapping.host as Inode;
      const fs = ops();
      return iomap_read_folio(inode.sb.k, inode, folio, (pos, len) => fs.read_iomap_begin(inode, pos, len, 0), noio);
    },
    release_folio: iomap_release_folio,
    invalidate_folio: iomap_invalidate_folio,
  };
}

/**
 * The address_space_operations both personalities build from the iomap
 * engine (ext4_da_aops and xfs_address_space_operations, as far as the
 * modelled paths go).
 */
import type { AddressSpaceOps } from '../mm/filemap.ts';
import type { Inode } from './inode.ts';
import type { FsOps } from './super.ts';
import {
  block_invalidate_folio,
  block_is_partially_uptodate,
  iomap_invalidate_folio,
  iomap_is_partially_uptodate,
  iomap_read_folio,
  iomap_readahead,
  iomap_release_folio,
  iomap_writepages,
} from '../iomap/buffered-io.ts';

/**
 * `bufferHeads`: ext4 keeps per-block state in buffer heads
 * (block_is_partially_uptodate, ext4_bio_write_folio); XFS in
 * iomap_folio_state.
 */
export function makeAops(ops: () => FsOps, bufferHeads: boolean): AddressSpaceOps {
  return {
    writepages(mapping, wbc) {
      const inode = mapping.host as Inode;
      const fs = ops();
      return iomap_writepages(inode.sb.k, inode, wbc, {
        map_blocks: (pos, len, rangeEnd) => fs.map_blocks(inode, pos, len, rangeEnd),
        end_ioend: (io) => fs.end_ioend(inode, io),
        bufferHeads,
      });
    },
    read_folio(mapping, folio, noio = false) {
      const inode = mapping.host as Inode;
      const fs = ops();
      return iomap_read_folio(inode.sb.k, inode, folio, (pos, len) => fs.read_iomap_begin(inode, pos, len, 0), noio);
    },
    readahead(mapping, folios) {
      const inode = mapping.host as Inode;
      const fs = ops();
      iomap_readahead(inode.sb.k, inode, folios, (pos, len) => fs.read_iomap_begin(inode, pos, len, 0));
    },
    release_folio: iomap_release_folio,
    invalidate_folio(mapping, folio, offset, len) {
      if (bufferHeads) block_invalidate_folio(mapping.host as Inode, folio, offset, len);
      else iomap_invalidate_folio(folio, offset, len);
    },
    is_partially_uptodate(mapping, folio, from, count) {
      const inode = mapping.host as Inode;
      return bufferHeads ? block_is_partially_uptodate(inode, folio, from, count) : iomap_is_partially_uptodate(inode, folio, from, count);
    },
  };
}

/**
 * fs/ext4/ext4_jbd2.c and jbd2's ordered data (data=ordered, the default):
 * byte ranges the running transaction orders are written out before it
 * commits (jbd2 journal_submit_data_buffers).
 */
import type { Inode } from '../fs/inode.ts';
import type { SuperBlock } from '../fs/super.ts';
import { filemap_fdatawait_range } from '../mm/filemap.ts';
import { EXT4_SB } from './ext4.ts';

/** ext4_jbd2_inode_add_write: bytes [start, end) of `inode`, zeroed through the page cache, are ordered data of the running transaction. */
export function ext4_jbd2_inode_add_write(inode: Inode, start: number, end: number): void {
  if (end > start) EXT4_SB(inode.sb).ordered.push({ inode, start, end });
}

/**
 * journal_submit_data_buffers -> ext4_normal_submit_inode_data_buffers:
 * before the commit record, write the ordered ranges out and wait — only
 * blocks already mapped (mpd.can_map = 0: the journal thread allocates
 * nothing; delayed and unwritten blocks of those folios stay dirty).
 */
export function ext4_journal_submit_inode_data_buffers(sb: SuperBlock): void {
  const sbi = EXT4_SB(sb);
  const list = sbi.ordered;
  sbi.ordered = [];
  for (const o of list) {
    const mapping = o.inode.mapping;
    mapping.a_ops.writepages(mapping, { syncMode: 'all', start: o.start, end: o.end - 1, noMap: true });
    filemap_fdatawait_range(mapping, o.start, o.end - 1);
  }
}

/**
 * include/linux/backing-dev-defs.h: struct backing_dev_info, for what the
 * model reads of it: the readahead window a file opened on it starts with
 * (file_ra_state_init: file->f_ra.ra_pages = bdi->ra_pages).
 */
import { PAGE_SIZE } from '../block/blk-settings.ts';

/** include/linux/mm.h: VM_READAHEAD_PAGES, the default readahead window (128 KiB; bdi_init). */
export const VM_READAHEAD_PAGES = (128 * 1024) / PAGE_SIZE;

export interface BackingDevInfo {
  /** Readahead window, in pages (queue/read_ahead_kb for a disk's bdi). */
  ra_pages: number;
}

/**
 * Writeback errors (errseq_t, include/linux/errseq.h): a failed writeback
 * is reported to user space through fsync, once per open file description.
 */
import { invariant } from './invariant.ts';

export const fsyncReportsWritebackError = invariant({
  id: 'errors/fsync-reports-writeback-error',
  statement:
    'When the device fails a write-back of a file\'s data, the next fsync or fdatasync through every file description that was open then returns the error (EIO), exactly once; a description opened afterwards sees it too if no fsync had reported it yet (errseq_sample). An fsync with no unreported failure behind it returns 0. The failed folios are left clean, so the error is the only trace of the lost data: dropping it (a completion that does not call mapping_set_error, an fsync that does not check f_wb_err) makes fsync claim durability for data that never reached the disk.',
  source: 'lib/errseq.c: errseq_set, errseq_sample, errseq_check_and_advance; include/linux/pagemap.h: mapping_set_error; mm/filemap.c: file_check_and_advance_wb_err, file_write_and_wait_range; fs/open.c: do_dentry_open (f_wb_err); fstests generic/441, generic/484, generic/487; seed 003 (RFC RWF_WRITETHROUGH: "In the endio path, cleanup resources, record any errors and clear writeback on folio")',
  kind: 'oracle',
  decides: (f) => f.kind === 'unreported-writeback-error' || f.kind === 'spurious-writeback-error',
});

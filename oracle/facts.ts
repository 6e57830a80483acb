/**
 * What the oracle observes when a result is not one a file system on Linux
 * may give: a fact, with the detail a reviewer reads.  The oracle does not
 * decide which invariant a fact breaks; each oracle-decided invariant says
 * which facts it decides (properties/*.ts: `decides`), and every fact is
 * decided by exactly one (a test proves it).
 */

/** What durability promise covered the state a fact contradicts: none, fsync/sync/unmount, or an O_DSYNC write. */
export type Promise = 'none' | 'fsync' | 'dsync';

export type OracleFact =
  /** open(2) without O_CREAT said ENOENT for a file that exists (or was made durable). */
  | { readonly kind: 'file-missing'; readonly promise: Promise; readonly detail: string }
  /** An appending write landed at an offset other than the file's size. */
  | { readonly kind: 'append-offset'; readonly detail: string }
  /** statx reported a size the file cannot have. */
  | { readonly kind: 'size'; readonly promise: Exclude<Promise, 'dsync'>; readonly detail: string }
  /** A read returned a byte count the file size does not allow. */
  | { readonly kind: 'read-length'; readonly promise: Promise; readonly detail: string }
  /** After a crash, bytes made durable read back otherwise. */
  | { readonly kind: 'durable-bytes-lost'; readonly promise: Exclude<Promise, 'none'>; readonly detail: string }
  /**
   * A read returned bytes the file does not hold: `cause` says what the
   * oracle recognises in them — zeroes where a clone's shared bytes were,
   * an older version after the page cache was emptied, or nothing it knows.
   */
  | { readonly kind: 'read-bytes'; readonly cause: 'shared-zeroed' | 'lost-write' | 'none'; readonly detail: string }
  /** A read returned bytes never written to that file at that offset (or kernel memory), its own or after a failure. */
  | { readonly kind: 'stale-bytes'; readonly detail: string }
  /** A read of one side of a clone returned bytes written to the other side. */
  | { readonly kind: 'clone-leak'; readonly detail: string }
  /** An RWF_ATOMIC write's range reads partly old and partly new after a crash. */
  | { readonly kind: 'torn-atomic-write'; readonly detail: string }
  /** fsync (or an O_DSYNC write) succeeded although a writeback of the file failed and this open file was never told. */
  | { readonly kind: 'unreported-writeback-error'; readonly detail: string }
  /** A read failed with EIO although no sector of the device failed and the file system is up (a false checksum error). */
  | { readonly kind: 'read-error'; readonly detail: string }
  /** fsync failed with EIO although no writeback of the file failed since this open file was last told. */
  | { readonly kind: 'spurious-writeback-error'; readonly detail: string };

export type OracleFactKind = OracleFact['kind'];

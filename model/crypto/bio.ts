/**
 * fs/crypto/bio.c: I/O helpers of fscrypt for file systems.
 */
import type { Inode } from '../fs/inode.ts';
import { zeroout_bio } from '../block/blk-lib.ts';
import { fscrypt_fs_scheme, fscrypt_mergeable_bio, fscrypt_set_bio_crypt_ctx } from './inline_crypt.ts';

/**
 * fscrypt_zeroout_range: zero `len` bytes of an encrypted file from file
 * byte `pos`, at device byte `addr`, so that they read back as zeroes once
 * decrypted: through the inline engine (fscrypt_zeroout_range_inline_crypt:
 * bios with a crypt context, a new bio where the DUN would not follow on),
 * or as zero pages encrypted by fscrypt into bounce pages.  Never plaintext
 * zeroes: ext4_issue_zeroout calls this instead of blkdev_issue_zeroout
 * for an encrypted regular file.
 */
export function fscrypt_zeroout_range(inode: Inode, pos: number, addr: number, len: number): void {
  const k = inode.sb.k;
  const bs = inode.blockSize;
  let start = 0;
  for (let off = bs; off <= len; off += bs) {
    // The bio so far runs [start, off); it ends where the next block cannot follow it.
    if (off < len && fscrypt_mergeable_bio(fscrypt_set_bio_crypt_ctx(inode, pos + start), off - start, inode, pos + off)) continue;
    const bio = zeroout_bio(k, addr + start, off - start, inode.ino, pos + start);
    bio.crypt = fscrypt_set_bio_crypt_ctx(inode, pos + start);
    if (bio.crypt === null) bio.fsCrypto = fscrypt_fs_scheme(inode, pos + start);
    k.submit_bio(bio);
    k.wait_req(bio.req);
    start = off;
  }
}

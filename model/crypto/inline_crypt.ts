/**
 * fs/crypto/inline_crypt.c: the blk-crypto side of fscrypt.  A file whose
 * contents are encrypted by the device's inline encryption engine gets a
 * crypt context on each of its bios (fscrypt_set_bio_crypt_ctx): the key,
 * the data unit size and the data unit number (DUN) of the bio's first data
 * unit (fscrypt_generate_dun).
 */
import type { Inode } from '../fs/inode.ts';
import type { BioCryptCtx } from '../block/bio.ts';
import { FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32, FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64 } from './policy.ts';

/** The data unit size of an encrypted inode (fscrypt_inode_info.ci_data_unit_bits). */
export function fscrypt_data_unit_size(inode: Inode): number {
  const p = inode.crypt;
  if (p === null || p.log2DataUnitSize === 0) return inode.blockSize;
  return 2 ** p.log2DataUnitSize;
}

/** fscrypt_inode_uses_inline_crypto: mounted -o inlinecrypt and the engine supports the data unit size. */
export function fscrypt_inode_uses_inline_crypto(inode: Inode): boolean {
  const p = inode.crypt;
  if (p === null) return false;
  const sb = inode.sb;
  if (!sb.hasMountOpt('inlinecrypt')) return false;
  const eng = sb.k.disk.limits.inline_crypto;
  return eng !== null && eng.dataUnitSizes.includes(fscrypt_data_unit_size(inode));
}

/**
 * fscrypt_dio_supported: direct I/O on an encrypted file needs inline
 * encryption (this kernel has no blk-crypto-fallback: a loop device reports
 * 0/0 even with inlinecrypt).
 */
export function fscrypt_dio_supported(inode: Inode): boolean {
  // Variant crypto-dio-without-engine: direct I/O allowed anyway.
  return inode.crypt === null || fscrypt_inode_uses_inline_crypto(inode) || inode.sb.k.v.cryptoDioWithoutEngine;
}

/** A stand-in for the SipHash of the inode number that IV_INO_LBLK_32 uses (fscrypt_hash_inode_number). */
function hashedIno(ino: number): number {
  return Math.imul(ino ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
}

/** fscrypt_generate_dun: the DUN of the data unit holding file byte `pos`. */
export function fscrypt_generate_dun(inode: Inode, pos: number): number {
  const p = inode.crypt!;
  const index = Math.floor(pos / fscrypt_data_unit_size(inode));
  if ((p.flags & FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64) !== 0) return inode.ino * 2 ** 32 + index;
  if ((p.flags & FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32) !== 0) return (hashedIno(inode.ino) + index) % 2 ** 32;
  return index;
}

/** The key as a number (blk_crypto_key): the policy's key name, hashed. */
function keyId(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** fscrypt_set_bio_crypt_ctx: the crypt context of a bio starting at file byte `pos`, or null. */
export function fscrypt_set_bio_crypt_ctx(inode: Inode, pos: number): BioCryptCtx | null {
  if (!fscrypt_inode_uses_inline_crypto(inode)) return null;
  return { key: keyId(inode.crypt!.key), dataUnitSize: fscrypt_data_unit_size(inode), dun: fscrypt_generate_dun(inode, pos), dunBytes: 8 };
}

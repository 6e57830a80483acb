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
import type { DunScheme } from './crypto.ts';

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
  // Variant crypto-all-blk-crypto: blk-crypto-fallback does what no engine (or no -o inlinecrypt) does.
  if (sb.k.v.on('crypto-all-blk-crypto')) return true;
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
  return inode.crypt === null || fscrypt_inode_uses_inline_crypto(inode) || inode.sb.k.v.on('crypto-dio-without-engine');
}

/**
 * A stand-in for the SipHash of the inode number that IV_INO_LBLK_32 uses
 * (fscrypt_hash_inode_number).  The real hash is any 32-bit value; the
 * stand-in puts every inode's DUNs 2 to 8 blocks below the point where they
 * wrap to 0, so that the wrap (fscrypt_limit_io_blocks) is reachable by the
 * small files the checker makes.
 */
function hashedIno(ino: number): number {
  return 2 ** 32 - 2 - 2 * (ino % 4);
}

/** fscrypt_generate_dun: the DUN of the data unit holding file byte `pos`. */
export function fscrypt_generate_dun(inode: Inode, pos: number): number {
  const p = inode.crypt!;
  const index = Math.floor(pos / fscrypt_data_unit_size(inode));
  if ((p.flags & FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64) !== 0) return inode.ino * 2 ** 32 + index;
  if ((p.flags & FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32) !== 0) return (hashedIno(inode.ino) + index) % 2 ** 32;
  return index;
}

/**
 * The file's contents key as a number (blk_crypto_key): derived from the
 * master key named by the policy — per file for the default policy, per
 * mode (shared by all files) for IV_INO_LBLK_64 and IV_INO_LBLK_32.
 */
export function fscrypt_key_id(inode: Inode): number {
  const p = inode.crypt!;
  let h = 2166136261;
  for (let i = 0; i < p.key.length; i++) h = Math.imul(h ^ p.key.charCodeAt(i), 16777619);
  if ((p.flags & (FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64 | FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32)) === 0) h = Math.imul(h ^ inode.ino, 16777619);
  return h >>> 0;
}

/** fscrypt_get_dun_bytes: how many bytes of DUN the engine must support (4 for IV_INO_LBLK_32). */
function fscrypt_get_dun_bytes(inode: Inode): number {
  return (inode.crypt!.flags & FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32) !== 0 ? 4 : 8;
}

/** fscrypt_set_bio_crypt_ctx: the crypt context of a bio starting at file byte `pos`, or null. */
export function fscrypt_set_bio_crypt_ctx(inode: Inode, pos: number): BioCryptCtx | null {
  if (!fscrypt_inode_uses_inline_crypto(inode)) return null;
  return { key: fscrypt_key_id(inode), dataUnitSize: fscrypt_data_unit_size(inode), dun: fscrypt_generate_dun(inode, pos), dunBytes: fscrypt_get_dun_bytes(inode) };
}

/**
 * File-system-layer encryption (no inline encryption: fscrypt_encrypt_pagecache_blocks
 * in writeback, fscrypt_decrypt_bio after a read): each data unit with the
 * DUN of its own position, for a run of bytes starting at file byte `pos`.
 */
export function fscrypt_fs_scheme(inode: Inode, pos: number): DunScheme {
  const du = fscrypt_data_unit_size(inode);
  return { key: fscrypt_key_id(inode), dataUnitSize: du, dunOf: (u) => fscrypt_generate_dun(inode, pos + u * du) };
}

/**
 * fscrypt_mergeable_bio: may file byte `pos` of `inode` be added to a bio
 * with crypt context `bc` already holding `bytes` bytes?  Only with the same
 * key and the next DUN (not across the IV_INO_LBLK_32 wrap).
 */
export function fscrypt_mergeable_bio(bc: BioCryptCtx | null, bytes: number, inode: Inode, pos: number): boolean {
  const next = fscrypt_set_bio_crypt_ctx(inode, pos);
  if (bc === null || next === null) return bc === next;
  return bc.key === next.key && bc.dataUnitSize === next.dataUnitSize && bc.dun + bytes / bc.dataUnitSize === next.dun;
}

/**
 * fscrypt_limit_io_blocks: how many of `nr` blocks from `lblk` one bio may
 * cover: with IV_INO_LBLK_32 the DUN wraps from 0xffffffff to 0, and
 * blk-crypto needs contiguous DUNs within a bio.  Variant
 * crypto-no-dun-wrap-limit: no limit.
 */
export function fscrypt_limit_io_blocks(inode: Inode, lblk: number, nr: number): number {
  if (!fscrypt_inode_uses_inline_crypto(inode) || inode.sb.k.v.on('crypto-no-dun-wrap-limit')) return nr;
  if ((inode.crypt!.flags & FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32) === 0) return nr;
  const dun = fscrypt_generate_dun(inode, lblk * inode.blockSize);
  return Math.min(nr, 2 ** 32 - dun);
}

/**
 * fs/crypto/policy.c: fscrypt v2 policies on directories, as
 * FS_IOC_SET_ENCRYPTION_POLICY validates and applies them, and their
 * inheritance by new inodes (fscrypt_prepare_new_inode).
 */
import { EEXIST, EINVAL, ENOTEMPTY, ENOTTY, EOPNOTSUPP } from '../lib/errno.ts';
import type { Inode } from '../fs/inode.ts';
import type { SuperBlock } from '../fs/super.ts';

/** FSCRYPT_POLICY_FLAG_* (include/uapi/linux/fscrypt.h). */
export const FSCRYPT_POLICY_FLAG_DIRECT_KEY = 0x04;
export const FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64 = 0x08;
export const FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32 = 0x10;

export interface FscryptPolicy {
  /** The key: a name the scenario chose (the helper derives the 64 raw bytes from it). */
  readonly key: string;
  readonly flags: number;
  /** 0 means "the file system block size". */
  readonly log2DataUnitSize: number;
}

export function policyFlags(names: readonly string[]): number {
  let f = 0;
  for (const n of names) {
    if (n === 'DIRECT_KEY') f |= FSCRYPT_POLICY_FLAG_DIRECT_KEY;
    if (n === 'IV_INO_LBLK_64') f |= FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64;
    if (n === 'IV_INO_LBLK_32') f |= FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32;
  }
  return f;
}

/**
 * fscrypt_supported_v2_policy (AES-256-XTS contents, AES-256-CTS names):
 * DIRECT_KEY needs a mode with a 32-byte IV (not XTS); the IV_INO_LBLK
 * policies need stable inode numbers; a data unit size is 2^9 up to the
 * block size and does not combine with IV_INO_LBLK_32.
 */
export function fscrypt_supported_v2_policy(sb: SuperBlock, p: FscryptPolicy): boolean {
  if ((p.flags & FSCRYPT_POLICY_FLAG_DIRECT_KEY) !== 0) return false;
  if ((p.flags & (FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64 | FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32)) !== 0 && !sb.hasFeature('stable_inodes')) return false;
  if (p.log2DataUnitSize !== 0) {
    if (p.log2DataUnitSize < 9 || p.log2DataUnitSize > sb.blkbits) return false;
    if ((p.flags & FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32) !== 0) return false;
  }
  return true;
}

function samePolicy(a: FscryptPolicy, b: FscryptPolicy): boolean {
  return a.key === b.key && a.flags === b.flags && a.log2DataUnitSize === b.log2DataUnitSize;
}

/**
 * FS_IOC_SET_ENCRYPTION_POLICY on directory `dir` (fscrypt_ioctl_set_policy):
 * a file system without encryption support does not implement the ioctl
 * (no s_cop, XFS: ENOTTY) or refuses it (ext4 without the encrypt feature:
 * EOPNOTSUPP); an empty directory gets the policy, a directory that has the
 * same one is fine, a different one is EEXIST, a non-empty unencrypted
 * directory ENOTEMPTY.
 */
export function fscrypt_ioctl_set_policy(sb: SuperBlock, dir: Inode, dirPath: string, p: FscryptPolicy): number {
  if (!sb.ops.s_cop) return -ENOTTY;
  if (!sb.hasFeature('encrypt')) return -EOPNOTSUPP;
  if (!fscrypt_supported_v2_policy(sb, p)) return -EINVAL;
  const have = dir.crypt;
  if (have !== null) return samePolicy(have, p) ? 0 : -EEXIST;
  for (const path of sb.names.keys()) if (path.startsWith(`${dirPath}/`)) return -ENOTEMPTY;
  dir.crypt = p;
  dir.flags.add('encrypted');
  const ino = dir.ino;
  sb.log(dir, (img) => {
    const d = img.inode(ino);
    d.crypt = p;
    d.flags.add('encrypted');
  });
  return 0;
}

/** fscrypt_prepare_new_inode: a file created in an encrypted directory inherits its policy. */
export function fscrypt_inherit(sb: SuperBlock, parent: Inode | undefined, child: Inode): void {
  if (parent === undefined || parent.crypt === null) return;
  child.crypt = parent.crypt;
  child.flags.add('encrypted');
  const ino = child.ino;
  const p = parent.crypt;
  sb.log(child, (img) => {
    const d = img.inode(ino);
    d.crypt = p;
    d.flags.add('encrypted');
  });
}

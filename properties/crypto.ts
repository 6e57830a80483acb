/**
 * Inline encryption (blk-crypto): what the block layer and the file system
 * owe a device that encrypts each data unit with a key and a data unit
 * number.  Checked on every bio the model queues.
 */
import type { CheckContext } from './invariant.ts';
import { invariant } from './invariant.ts';
import type { Bio } from '../model/block/bio.ts';
import { fscrypt_generate_dun } from '../model/crypto/inline_crypt.ts';

const SEED_000 = 'seed 000 (fscrypt: direct I/O on encrypted files through inline encryption, cover letter)';

function cryptBios(ctx: CheckContext): Bio[] {
  const out: Bio[] = [];
  for (const e of ctx.sys.events) if (e.t === 'bio-queue' && e.bio.crypt !== null) out.push(e.bio);
  return out;
}

export const noSplitDataUnit = invariant({
  id: 'crypto/no-split-data-unit',
  statement:
    'No crypto data unit is ever split: every bio with a crypt context holds whole data units, and when the block layer splits one (max sectors, max segments, segment size, virtual boundary) the split point is a multiple of the data unit size — a device cannot encrypt or decrypt part of a data unit.',
  source: `block/blk-merge.c: bio_split_alignment (bio_has_crypt_ctx -> data_unit_size), bio_split_rw_at; block/blk-crypto.c: bio_crypt_advance; ${SEED_000}`,
  kind: 'state',
  events: ['bio-split', 'bio-queue'],
  check(ctx: CheckContext): string | null {
    for (const e of ctx.sys.events) {
      if (e.t === 'bio-split' && e.front.crypt !== null && e.front.size % e.front.crypt.dataUnitSize !== 0) {
        return `step ${ctx.n}: a bio with ${e.front.crypt.dataUnitSize}-byte data units was split after ${e.front.size} bytes, inside data unit ${Math.floor(e.front.size / e.front.crypt.dataUnitSize)}`;
      }
    }
    for (const b of cryptBios(ctx)) {
      if (b.size % b.crypt!.dataUnitSize !== 0) return `step ${ctx.n}: a bio of ${b.size} bytes with ${b.crypt!.dataUnitSize}-byte data units (sector ${b.sector}) ends inside a data unit`;
    }
    return null;
  },
});

export const dunMatchesPosition = invariant({
  id: 'crypto/dun-matches-position',
  statement:
    "Every bio of an inline-encrypted file is encrypted with the data unit number of the file position of its first byte, as fscrypt_generate_dun computes it for the file's policy (the data unit index; with IV_INO_LBLK_64 the inode number above it; with IV_INO_LBLK_32 the hashed inode number plus the index) — including the second and later parts of a split bio, whose DUN advances by the data units split off, and a bio merged into a request behind another, which the engine encrypts from the request's first DUN on (so only bios whose DUNs continue may merge). A wrong DUN decrypts to garbage.",
  source: `fs/crypto/inline_crypt.c: fscrypt_set_bio_crypt_ctx, fscrypt_generate_dun, fscrypt_mergeable_bio; block/blk-crypto.c: bio_crypt_advance, bio_crypt_ctx_mergeable; ${SEED_000}`,
  kind: 'state',
  events: ['bio-queue'],
  check(ctx: CheckContext): string | null {
    for (const b of cryptBios(ctx)) {
      const inode = ctx.sys.sb.inodes.get(b.origin.ino);
      if (inode === undefined || inode.crypt === null) continue;
      const pos = b.origin.pos + b.relOff;
      const want = fscrypt_generate_dun(inode, pos);
      if (b.crypt!.dun !== want) return `step ${ctx.n}: the bio for file byte ${pos} of inode ${inode.ino} (sector ${b.sector}) carries DUN ${b.crypt!.dun}, but that position is data unit ${want}`;
      if (b.mergedDun !== null && b.mergedDun !== want) return `step ${ctx.n}: the bio for file byte ${pos} of inode ${inode.ino} (sector ${b.sector}) was merged into the request before it and is encrypted from DUN ${b.mergedDun}, but that position is data unit ${want}`;
    }
    return null;
  },
});

export const dioAlignmentEnforced = invariant({
  id: 'crypto/dio-alignment-enforced',
  statement:
    'Direct I/O on an encrypted file is done only when its file position, length and every memory segment are aligned to the file system block (STATX_DIOALIGN reports it), so that no data unit spans two bvecs — the block layer may split a bio at any bvec boundary, and blk-crypto refuses a bio with a segment that is not data-unit aligned (bio_crypt_check_alignment), failing the I/O. Otherwise ext4 falls back to buffered I/O.',
  source: `fs/ext4/file.c: ext4_should_use_dio (ext4_dio_alignment: the block size for encrypted files); fs/crypto/inline_crypt.c: fscrypt_dio_supported; ${SEED_000} ("memory aligned only to the logical block size" is the dead end)`,
  kind: 'state',
  events: ['bio-submit'],
  check(ctx: CheckContext): string | null {
    // As submitted by the file system, before blk-crypto's checks and the block layer's splitting.
    for (const e of ctx.sys.events) {
      if (e.t !== 'bio-submit' || e.bio.crypt === null) continue;
      const b = e.bio;
      if (b.origin.kind !== 'dio') continue;
      const du = b.crypt!.dataUnitSize;
      let off = 0;
      for (let i = 0; i < b.bvecs.length - 1; i++) {
        off += b.bvecs[i]!.len;
        if (off % du !== 0) return `step ${ctx.n}: a direct I/O bio of an encrypted file has a bvec boundary ${off} bytes in, inside data unit ${Math.floor(off / du)} (user memory at ${b.bvecs[i]!.addr}, ${b.bvecs[i]!.len} bytes)`;
      }
    }
    return null;
  },
});

export const noPlaintextOnDisk = invariant({
  id: 'crypto/no-plaintext-on-disk',
  statement:
    'Nothing of an encrypted file reaches the disk in plaintext: every data bio written for it is either encrypted on the way by the inline engine (it carries a crypt context) or was encrypted by the file system before submission (fscrypt bounce pages in writeback). Direct I/O, which writes user memory as it is, is therefore only possible with inline encryption.',
  source: `fs/crypto/inline_crypt.c: fscrypt_dio_supported, fscrypt_set_bio_crypt_ctx; fs/crypto/crypto.c: fscrypt_encrypt_pagecache_blocks; fs/ext4/page-io.c: ext4_bio_write_folio; ${SEED_000}`,
  kind: 'state',
  events: ['bio-queue'],
  check(ctx: CheckContext): string | null {
    for (const e of ctx.sys.events) {
      if (e.t !== 'bio-queue' || e.bio.op !== 'write' || e.bio.crypt !== null || e.bio.fsCrypt) continue;
      const inode = ctx.sys.sb.inodes.get(e.bio.origin.ino);
      if (inode === undefined || inode.crypt === null || e.bio.origin.kind === 'flush') continue;
      return `step ${ctx.n}: a ${e.bio.origin.kind} bio of ${e.bio.size} bytes for file byte ${e.bio.origin.pos + e.bio.relOff} of encrypted inode ${inode.ino} goes to sector ${e.bio.sector} in plaintext (no crypt context, not encrypted by the file system)`;
    }
    return null;
  },
});

export const noDunWrapInBio = invariant({
  id: 'crypto/no-dun-wrap-in-bio',
  statement:
    'No bio of an inline-encrypted file spans the point where its DUN wraps: with IV_INO_LBLK_32 the DUN is the 32-bit sum of the hashed inode number and the block number, which goes from 0xffffffff to 0 somewhere in the file, while blk-crypto counts DUNs on within a bio (and the engine supports only 4 DUN bytes). fscrypt_limit_io_blocks ends every I/O at the wrap; otherwise the data units after it are encrypted under DUNs no later read uses.',
  source: `fs/crypto/inline_crypt.c: fscrypt_limit_io_blocks, fscrypt_mergeable_bio; fs/crypto/keysetup.c: fscrypt_get_dun_bytes (4 for IV_INO_LBLK_32); block/blk-crypto.c: bio_crypt_dun_increment; ${SEED_000}`,
  kind: 'state',
  events: ['bio-queue'],
  check(ctx: CheckContext): string | null {
    for (const b of cryptBios(ctx)) {
      const c = b.crypt!;
      const last = (b.mergedDun ?? c.dun) + Math.ceil(b.size / c.dataUnitSize) - 1;
      if (last >= 2 ** (8 * c.dunBytes)) return `step ${ctx.n}: a bio of inode ${b.origin.ino} (file byte ${b.origin.pos + b.relOff}, ${b.size} bytes) starts at DUN ${b.mergedDun ?? c.dun} and runs to ${last}, past the ${c.dunBytes}-byte DUN's wrap at ${2 ** (8 * c.dunBytes)}`;
    }
    return null;
  },
});

/**
 * fs/crypto/crypto.c (fscrypt_crypt_data_unit) and the inline engine's
 * en/decryption, symbolically: the ciphertext of a data unit is its
 * plaintext tagged with the key and the DUN it was encrypted under
 * (content.ts `Enc`).  Decrypting with the same key and DUN gives the
 * plaintext back; anything else — another key, another DUN, bytes that were
 * never encrypted — decrypts to garbage, so a wrong DUN is a visible data
 * error, never a silent pass.
 */
import type { Span } from '../lib/content.ts';
import { SRC_GARBAGE, cutSpan, pushSpan, span } from '../lib/content.ts';

/** How the data units of a run of bytes are numbered: the DUN of the unit `i` units after the first. */
export interface DunScheme {
  readonly key: number;
  readonly dataUnitSize: number;
  dunOf(unit: number): number;
}

/** Walk `data` in pieces that never cross a data unit boundary. */
function perUnit(data: readonly Span[], du: number, f: (piece: Span, unit: number, duOff: number) => void): void {
  let rel = 0;
  for (const s of data) {
    let d = 0;
    while (d < s.len) {
      const unit = Math.floor(rel / du);
      const duOff = rel % du;
      const n = Math.min(s.len - d, du - duOff);
      f(cutSpan(s, d, n), unit, duOff);
      d += n;
      rel += n;
    }
  }
}

/** Encrypt `data` (starting at a data unit boundary). */
export function encryptData(data: readonly Span[], sch: DunScheme): Span[] {
  const out: Span[] = [];
  perUnit(data, sch.dataUnitSize, (p, unit, duOff) => pushSpan(out, { ...p, enc: { key: sch.key, dun: sch.dunOf(unit), duOff } }));
  return out;
}

/** Decrypt `data` read from the device (starting at a data unit boundary). */
export function decryptData(data: readonly Span[], sch: DunScheme): Span[] {
  const out: Span[] = [];
  perUnit(data, sch.dataUnitSize, (p, unit, duOff) => {
    const e = p.enc;
    if (e !== null && e.key === sch.key && e.dun === sch.dunOf(unit) && e.duOff === duOff) pushSpan(out, { ...p, enc: null });
    else pushSpan(out, span(p.len, SRC_GARBAGE, 0, 0));
  });
  return out;
}

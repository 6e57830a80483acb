/**
 * The native helper is kept as C source and compiled with the system
 * compiler on first use, into a cache path named after the source's hash.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// From kernel/ and from the bundle in dist/ alike.
export const HELPER_SOURCE = join(dirname(fileURLToPath(import.meta.url)), '..', 'kernel', 'helper', 'iospec-helper.c');

export function ensureHelper(): string {
  const src = readFileSync(HELPER_SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const bin = join(tmpdir(), `iospec-helper-${hash}`);
  if (existsSync(bin)) return bin;
  const tmp = `${bin}.${process.pid}.tmp`;
  const cc = process.env['CC'] ?? 'cc';
  execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', tmp, HELPER_SOURCE], { stdio: ['ignore', 'pipe', 'pipe'] });
  renameSync(tmp, bin);
  return bin;
}

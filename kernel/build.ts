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

/** The FUSE recorder's source (kernel/helper/iospec-blkrec.c). */
export const RECORDER_SOURCE = join(dirname(HELPER_SOURCE), 'iospec-blkrec.c');

/**
 * The FUSE recorder, compiled on first use like the helper; or why this
 * machine cannot run it (no /dev/fuse, no libfuse3 headers).
 */
export function ensureRecorder(): { bin: string } | { missing: string } {
  // A kernel test run asks once per scenario: pkg-config and hashing the source cost 11 ms a time.
  if (recorder !== null && ('missing' in recorder || existsSync(recorder.bin))) return recorder;
  recorder = findRecorder();
  return recorder;
}
let recorder: { bin: string } | { missing: string } | null = null;

function findRecorder(): { bin: string } | { missing: string } {
  if (!existsSync('/dev/fuse')) return { missing: 'no /dev/fuse (FUSE is not available here)' };
  let flags: string[];
  try {
    flags = execFileSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split(/\s+/);
  } catch {
    return { missing: 'libfuse3 is not installed (apt-get install fuse3 libfuse3-dev)' };
  }
  const src = readFileSync(RECORDER_SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const bin = join(tmpdir(), `iospec-blkrec-${hash}`);
  if (existsSync(bin)) return { bin };
  const tmp = `${bin}.${process.pid}.tmp`;
  execFileSync(process.env['CC'] ?? 'cc', ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', tmp, RECORDER_SOURCE, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  renameSync(tmp, bin);
  return { bin };
}

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

/**
 * The fsx operations files (`export --fsx`) under the real fsx: every
 * counterexample and conformance scenario exports to a file that fsx
 * (fstests ltp/fsx.c) replays with --replay-ops without a parse error, and
 * on tmpfs — which accepts any direct I/O — to the end ("All N operations
 * completed A-OK!").  fsx is built from the fstests snapshot
 * (../shared/fstests/build.sh --fsx, seconds; IOSPEC_FSTESTS_DIR to point
 * elsewhere); without the snapshot or a C compiler the test says why it
 * skips.  fsx is not in this repository (GPL-2.0, part of fstests).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../scenario/load.ts';
import { runOnModel } from '../scenario/run.ts';
import { UPSTREAM } from '../model/variants.ts';
import { fsxArgs, toFsxOps } from '../kernel/export-fsx.ts';

const ROOT = join(import.meta.dirname, '..');
const SNAPSHOT = process.env['IOSPEC_FSTESTS_DIR'] ?? join(ROOT, '..', 'shared', 'fstests');
const BUILD = join(SNAPSHOT, 'build.sh');

function whyNot(): string | null {
  if (!existsSync(BUILD)) return `no fstests snapshot at ${SNAPSHOT} (set IOSPEC_FSTESTS_DIR to a directory with build.sh and the xfstests tarball)`;
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler (cc) to build fsx';
  return null;
}
const why = whyNot();

/** Build fsx once (build.sh reuses an existing build in its directory). */
function buildFsx(): string {
  const dir = join(tmpdir(), 'iospec-fsx');
  const r = spawnSync('bash', [BUILD, '--fsx', dir], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`build.sh --fsx failed: ${r.stderr}`);
  return join(dir, 'fsx');
}

/** A scratch directory for fsx's file: tmpfs when there is one (any direct I/O alignment passes there). */
function scratchDir(): { dir: string; tmpfs: boolean } {
  for (const base of ['/dev/shm', tmpdir()]) {
    try {
      const dir = mkdtempSync(join(base, 'iospec-fsx-'));
      const fs = spawnSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).stdout.trim();
      return { dir, tmpfs: fs === 'tmpfs' };
    } catch {
      continue;
    }
  }
  throw new Error('no scratch directory');
}

describe('fsx replays every exported operations file', () => {
  it.skipIf(why !== null)(`fsx --replay-ops: no parse error, and A-OK on tmpfs${why !== null ? ` — skipped: ${why}` : ''}`, () => {
    const fsx = buildFsx();
    const { dir, tmpfs } = scratchDir();
    try {
      let n = 0;
      for (const d of ['counterexamples', 'test/conformance']) {
        for (const f of readdirSync(join(ROOT, d)).filter((x) => x.endsWith('.json')).sort()) {
          const sc = loadScenario(join(ROOT, d, f));
          const ops = toFsxOps(sc.doc, runOnModel({ ...sc, knobs: UPSTREAM }).results);
          const opsFile = join(dir, 'ops');
          const target = join(dir, 'f');
          writeFileSync(opsFile, ops);
          rmSync(target, { force: true });
          const r = spawnSync(fsx, [...fsxArgs(sc.doc), '--replay-ops', opsFile, target], { encoding: 'utf8', timeout: 20_000, cwd: dir });
          const out = `${r.stdout}${r.stderr}`;
          expect(out, `${d}/${f}`).not.toContain('parse error');
          expect(r.status, `${d}/${f}: ${out}`).not.toBe(100);
          if (tmpfs) {
            expect(r.status, `${d}/${f}: ${out}`).toBe(0);
            expect(out, `${d}/${f}`).toContain('operations completed A-OK!');
          }
          n++;
        }
      }
      expect(n).toBeGreaterThan(50);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

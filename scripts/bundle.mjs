// The CLI bundle dist/iospec.cjs: whether it is up to date with the sources,
// how it is built (esbuild: cli/main.ts with everything it imports,
// dependencies included, so that `iospec` starts without compiling
// TypeScript) and how it is loaded (with a V8 code cache, loadBundle).  Used
// by bin/iospec.mjs, scripts/build.mjs and the test suite's global setup.
import { createHash } from 'node:crypto';
import { isAscii } from 'node:buffer';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = join(ROOT, 'dist', 'iospec.cjs');
/** loadBundle's code caches ($IOSPEC_CODE_CACHE, where set: the tests' own folder). */
const CACHE = process.env.IOSPEC_CODE_CACHE ?? join(ROOT, 'dist', 'cache');
/** Folders whose TypeScript the bundle is made of. */
const SOURCES = ['cli', 'checker', 'model', 'kernel', 'scenario', 'oracle', 'properties', 'bench'];

/** Whether the bundle was built after the last change to any source or to package.json. */
export function bundleIsFresh() {
  let built;
  try {
    built = statSync(BUNDLE).mtimeMs;
  } catch {
    return false;
  }
  if (statSync(join(ROOT, 'package.json')).mtimeMs > built) return false;
  for (const dir of SOURCES) {
    for (const f of readdirSync(join(ROOT, dir), { recursive: true })) {
      if (f.endsWith('.ts') && statSync(join(ROOT, dir, f)).mtimeMs > built) return false;
    }
  }
  return true;
}

/** Build the bundle; false (with the reason on stderr) where esbuild is not installed. */
export async function buildBundle() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    console.error('iospec: esbuild is not installed: no bundle, the command runs the TypeScript sources through tsx (slower start)');
    return false;
  }
  const t0 = performance.now();
  rmSync(CACHE, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: [join(ROOT, 'cli', 'main.ts')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    // CommonJS, so that loadBundle can compile it with a code cache (Node 20 has none for ES modules).
    format: 'cjs',
    target: 'node20',
    sourcemap: 'linked',
    minify: true,
    // No keepNames: its __name() wrapper runs at every closure the model makes, which halved the
    // checker's speed (check --jobs 1: 7,100 steps/s with it, 20,000 without, on this machine).
    keepNames: false,
    // The sources are ES modules: import.meta from the bundle's own path (dist/, as the sources' is a folder under the root).
    define: { 'import.meta.url': '__iospecMetaUrl', 'import.meta.dirname': '__dirname' },
    banner: { js: "const __iospecMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    // bench imports this file for bundleIsFresh; buildBundle's esbuild stays a dependency, not bundled.
    external: ['esbuild'],
    logLevel: 'warning',
  });
  console.error(`iospec: built dist/iospec.cjs in ${Math.round(performance.now() - t0)} ms`);
  return true;
}

/**
 * Load the bundle and return its exports, compiled with a V8 code cache
 * (dist/cache/, one file per bundle, Node version and V8 flags: V8 refuses
 * a cache made under other flags).  Compiling the 1.2 MB bundle took 93 ms of a
 * 280 ms start, 47 ms with the cache.  Where there is no cache yet, or V8
 * refused it, `saveCache` (called once the command is done, so that the
 * functions it ran are in it) writes one; a folder that cannot be written
 * only costs the cache.
 */
export function loadBundle() {
  const bytes = readFileSync(BUNDLE);
  // esbuild writes ASCII (its default charset escapes the rest): decoded as Latin-1, a copy, not UTF-8 decoding (7 of a 230 ms start).
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  // The bundle's identity is in the key, as its size and modification time (a build writes a new file):
  // V8 checks only a cache's length against the source's.  Hashing the text instead cost 9 ms of the start.
  const st = statSync(BUNDLE);
  const key = createHash('sha256').update(`${process.version} ${process.arch} ${process.execArgv.join(' ')}\n${st.size} ${st.mtimeMs} ${st.ino}`).digest('hex').slice(0, 16);
  const cacheFile = join(CACHE, `iospec-${key}.v8`);
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(source), { filename: BUNDLE, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  const saveCache = () => {
    if (cachedData !== undefined && !script.cachedDataRejected) return;
    try {
      mkdirSync(dirname(cacheFile), { recursive: true });
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    } catch {
      // read-only install: no cache
    }
  };
  return { exports: module.exports, saveCache };
}

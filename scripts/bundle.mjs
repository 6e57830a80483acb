// The CLI bundle dist/iospec.mjs: whether it is up to date with the sources,
// and how it is built (esbuild: cli/main.ts with everything it imports,
// dependencies included, so that `iospec` starts without compiling
// TypeScript).  Used by bin/iospec.mjs, scripts/build.mjs and the test
// suite's global setup.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = join(ROOT, 'dist', 'iospec.mjs');
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
  await esbuild.build({
    entryPoints: [join(ROOT, 'cli', 'main.ts')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    minify: true,
    // No keepNames: its __name() wrapper runs at every closure the model makes, which halved the
    // checker's speed (check --jobs 1: 7,100 steps/s with it, 20,000 without, on this machine).
    keepNames: false,
    // CommonJS dependencies (commander) call require(): give the ES module one.
    banner: { js: "import { createRequire as __iospecRequire } from 'node:module'; const require = __iospecRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  console.error(`iospec: built dist/iospec.mjs in ${Math.round(performance.now() - t0)} ms`);
  return true;
}

#!/usr/bin/env node
// The iospec command.  It runs the bundle dist/iospec.cjs (built at `npm ci`,
// scripts/bundle.mjs; loaded with a V8 code cache) while the bundle is newer
// than every source file, and the TypeScript sources through tsx otherwise
// (or with IOSPEC_TSX=1), so an edit takes effect at once and a fresh clone
// starts in a fraction of a second.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bundleIsFresh, loadBundle } from '../scripts/bundle.mjs';
import { V8_FLAGS } from '../scripts/v8-flags.mjs';

// The commands that run the model for long (check, bench) run in a process
// with the V8 flags of scripts/v8-flags.mjs: this one starts it, passes on
// the signals it gets (a Ctrl-C reaches both; the second is harmless) and
// ends as the child ended: same exit status, or killed by the same signal.
const HEAVY = new Set(['check', 'bench']);
if (HEAVY.has(process.argv[2] ?? '') && !V8_FLAGS.every((f) => process.execArgv.includes(f))) {
  const child = spawn(process.execPath, [...V8_FLAGS, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  const [code, signal] = await new Promise((r) => child.on('exit', (c, s) => r([c, s])));
  if (signal !== null) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
}

// A closed pipe (iospec ... | head) ends the output quietly.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
if (process.env.IOSPEC_TSX !== '1' && bundleIsFresh()) {
  const bundle = loadBundle();
  process.exitCode = await bundle.exports.main(process.argv.slice(2));
  bundle.saveCache();
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}

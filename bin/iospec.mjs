#!/usr/bin/env node
// The iospec command.  It runs the bundle dist/iospec.mjs (built at `npm ci`,
// scripts/bundle.mjs) while the bundle is newer than every source file, and
// the TypeScript sources through tsx otherwise (or with IOSPEC_TSX=1), so an
// edit takes effect at once and a fresh clone starts in a fraction of a second.
import { bundleIsFresh } from '../scripts/bundle.mjs';

// A closed pipe (iospec ... | head) ends the output quietly.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
let main;
if (process.env.IOSPEC_TSX !== '1' && bundleIsFresh()) {
  ({ main } = await import('../dist/iospec.mjs'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));

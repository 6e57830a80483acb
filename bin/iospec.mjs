#!/usr/bin/env node
// The iospec command.  Sources are TypeScript, run through tsx (no build step).
import { register } from 'tsx/esm/api';
register();
// A closed pipe (iospec ... | head) ends the output quietly.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

#!/usr/bin/env node
// The static half of `npm test`: the type check (`tsc --noEmit`) and the linter (`eslint .`) side by
// side.  Each builds its own TypeScript program over the whole tree (typescript-eslint is type-aware)
// on one core, so on 2 cores the pair takes little more than the slower one, not the sum (21-23 s
// instead of 28-30 s: each is slower beside the other, sharing the caches and memory).  Each one's
// output is printed whole when it ends, under its name; the exit status is the first failure's.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const bin = (pkg, file) => join(root, 'node_modules', pkg, 'bin', file);
const checks = [
  ['tsc --noEmit', bin('typescript', 'tsc'), ['--noEmit']],
  ['eslint .', bin('eslint', 'eslint.js'), ['.']],
];

const results = await Promise.all(
  checks.map(
    ([name, script, args]) =>
      new Promise((resolve) => {
        const t0 = performance.now();
        const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('error', (e) => resolve({ name, code: 1, out: `${e.message}\n` }));
        child.on('close', (code, signal) => {
          const s = ((performance.now() - t0) / 1000).toFixed(1);
          const what = code === 0 ? `ok (${s} s)` : `FAILED (${signal ?? `exit ${code}`}, ${s} s)`;
          process.stdout.write(`${name}: ${what}\n${out}`);
          resolve({ name, code: code ?? 1, out });
        });
      }),
  ),
);
const failed = results.filter((r) => r.code !== 0);
if (failed.length > 0) {
  process.stderr.write(`static checks failed: ${failed.map((r) => r.name).join(', ')}\n`);
  process.exit(failed[0].code);
}

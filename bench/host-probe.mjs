// One process of `bench`'s host scaling figure (bench.ts, hostScaling): a loop that needs only the
// core it runs on, or one that needs the memory system too, timed; prints {"ms": N}.  Plain
// JavaScript, so that a copy starts in a few milliseconds and times nothing but its loop.
//   node bench/host-probe.mjs cpu|memory ITERATIONS
const [kind, n] = [process.argv[2], Number(process.argv[3])];
if ((kind !== 'cpu' && kind !== 'memory') || !(n > 0)) {
  process.stderr.write('usage: host-probe.mjs cpu|memory ITERATIONS\n');
  process.exit(2);
}
let x = 1;
let t0;
if (kind === 'cpu') {
  // An LCG: registers only.
  t0 = performance.now();
  for (let i = 0; i < n; i++) x = (Math.imul(x, 1664525) + 1013904223) | 0;
} else {
  // A pointer chase around one random cycle through 4 MiB (Sattolo's shuffle): every load misses the
  // core's own caches and waits on the shared ones and memory, as the checker's object graph does.
  const size = 1 << 20;
  const next = new Int32Array(size);
  for (let i = 0; i < size; i++) next[i] = i;
  let r = 12345;
  for (let i = size - 1; i > 0; i--) {
    r = (Math.imul(r, 1664525) + 1013904223) | 0;
    const j = (r >>> 0) % i;
    const t = next[i];
    next[i] = next[j];
    next[j] = t;
  }
  t0 = performance.now();
  for (let i = 0; i < n; i++) x = next[x];
}
process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0, x })}\n`);

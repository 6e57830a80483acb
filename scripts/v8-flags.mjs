// V8 flags for a process that runs the model for long (check, bench, the
// test workers): a young generation large enough that the model's
// short-lived objects (spans, extents, bios, step results) die there
// instead of being promoted and swept again.  Garbage collection was about
// a fifth of the model's time with Node's default 16 MiB semi-spaces.  With
// 128 MiB rather than 64, three alternating runs of 25,000-recipe sequences
// (2026-12-04, one GC thread) made 14-29% more model steps per CPU second on
// ext4 and as many or more checker steps, for about 50 MB more memory.
export const V8_FLAGS = ['--max-semi-space-size=128'];

// A worker of `check --jobs N` (N > 1) also collects its garbage on its own
// thread.  V8's parallel scavenger starts helper threads per core and they
// wait for one another at each collection: N such processes on N cores
// oversubscribe the machine, and on this 2-core VM two workers together made
// about as many steps as one (405k vs 615k+ in 20-25 s, 2026-12-03).  With
// one GC thread each, two workers made 1.5-1.95 times one (noisy host).  A
// lone process keeps the parallel collector: it was about 10% faster so.
export const WORKER_V8_FLAGS = [...V8_FLAGS, '--single-threaded-gc'];

// V8 flags for a process that runs the model for long (check, bench, the
// test workers): a young generation large enough that the model's
// short-lived objects (spans, extents, bios, step results) die there
// instead of being promoted and swept again.  Garbage collection was about
// a fifth of the model's time with Node's default 16 MiB semi-spaces.  With
// 128 MiB rather than 64, three alternating runs of 25,000-recipe sequences
// (2026-12-04, one GC thread) made 14-29% more model steps per CPU second on
// ext4 and as many or more checker steps, for about 50 MB more memory.
export const V8_FLAGS = ['--max-semi-space-size=128'];
//
// Four patterns defeat the young generation on Node 20 (V8 11.3), and the
// model avoids them in what runs per step or per sequence (2026-12-04):
// - an object literal that starts with a spread and adds a property the
//   spread object lacks (`{ ...o, extra: v }`, or `{ ...a, ...b }` with new
//   keys in b): each such object gets a new hidden class in the old space,
//   and what the young generation allocated around it then survived the
//   scavenges until the next mark-compact.  queueLimitsFromConfig did this
//   once per System: a check worker promoted 11 MB per scavenge, spent a
//   quarter of its time collecting garbage (--trace-gc-nvp, single GC
//   thread), and made 20k steps/s; after, almost nothing is promoted and
//   the same worker made 30-35k.  Overriding a key the spread object has
//   (`{ ...o, len: 3 }`), a spread after other keys (`{ a, ...o }`) and
//   Object.assign are not affected (a micro-benchmark of each, same Node).
// - a module-level WeakMap keyed by an object that dies young, whose value
//   is rebuilt often: mballoc's group infos, keyed by the free-space map,
//   kept ext4 model runs promoting 2 MB per scavenge; as a field of the
//   allocator's state (Ext4MbState.groupInfos), nothing (and 30% more
//   steps).  The allocation checks' state, in WeakMaps keyed by the
//   System, moved into a field of it (System.memo) the same way, though
//   no difference could be measured there.
// - GC_PRETENURED_CLOSURES: a function literal assigned straight to a
//   property (`bio.endio = (b) => ...`).  V8's parser marks such a literal
//   to be pretenured (it guesses a method being installed), and code that
//   is not optimized (the interpreter, the baseline compiler: most of the
//   model, some of the time) then makes the closure in the old generation.
//   Its context is young, so the old-to-new pointer keeps the context and
//   everything it reaches (the ioend, its bios, their folios, the System)
//   alive through every scavenge until the next mark-compact, and those
//   objects are promoted in turn.  Eleven bio callbacks (endio, sink, live)
//   did this: a check worker promoted 150-280 MB per 10,000 sequences and
//   spent 11-20% of its time in scavenges of up to 100 ms, more or less
//   from run to run as more or less of that code was optimized (with
//   --no-opt, always; a loop of open, pwrite, writeback on a fresh System
//   reproduces it).  Bound to a local first (`const endio = ...; bio.endio
//   = endio`), the same closure is made in the young generation: 9-16 MB
//   promoted, a quarter of the GC time, and one worker 40% faster
//   (2026-12-04).  eslint.config.js forbids the pattern in model/,
//   oracle/, properties/ and checker/.
// - a module-level Map or Set reused by clearing it (the writeback check's
//   set of in-flight ioends): clear() gives the collection a new table and
//   leaves the old one pointing at it, so once one old table had been
//   promoted, the chain kept every table made since alive until the next
//   mark-compact (15 of the 46 MB a 20 s check worker still promoted after
//   the closures above).  A local list instead.
// Two more patterns cost time rather than promotion (2026-12-05):
// - a field or value that holds small integers, heap numbers (anything
//   past 2^30: ext4's sequences write past 1 GiB) and null in turn.
//   StepOutcome.writePos did: V8 deoptimized System.exec and its caller
//   (reason "Smi") 127 times in seven ext4 checker rounds, re-optimizing
//   each time, and the ext4 checker ran 13% slower, the model 15-25%.  A
//   number always (-1 for none) ended it.  --trace-deopt, counted per
//   function, finds such a loop: a function deoptimized more than a few
//   times in a run.
// - an array made shorter by setting its length (`a.length = w`) and then
//   grown again by push: a shorter length can give the storage back (an
//   empty one does), and the next push allocates it anew.  The allocation
//   checks' sweep did this at every cut: 2.3 KB per call in a
//   micro-benchmark, 239 bytes with a count kept beside an array that never
//   shrinks (forEachRun, properties/alloc.ts).
// Found with --trace-gc-nvp (promoted= and new_space_survived= per
// scavenge), the inspector's sampling heap profiler with
// includeObjectsCollectedByMajorGC (the allocation sites of what died in
// the old space), --log-maps (a Transition per object from one source
// position) and loops that build only a Disk, a System, or one of their
// parts.

// A worker of `check --jobs N` (N > 1) also collects its garbage on its own
// thread.  V8's parallel scavenger starts helper threads per core and they
// wait for one another at each collection: N such processes on N cores
// oversubscribe the machine, and on this 2-core VM two workers together made
// about as many steps as one (405k vs 615k+ in 20-25 s, 2026-12-03).  With
// one GC thread each, two workers made 1.5-1.95 times one (noisy host).  A
// lone process keeps the parallel collector: it was about 10% faster so.
export const WORKER_V8_FLAGS = [...V8_FLAGS, '--single-threaded-gc'];

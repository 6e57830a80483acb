/**
 * Generators of systems and operation sequences.  A generated step is a
 * recipe resolved against the model's current state when it runs (which fds
 * are open, where the file ends), so sequences reach deep states, invalid
 * calls included (closed fds, misaligned offsets, past-EOF ranges); the
 * resolved concrete steps are what a counterexample records.  fast-check
 * shrinks the recipes: fewer steps, smaller offsets, fewer flags.
 */
import fc from 'fast-check';
import type { System } from '../model/system.ts';
import type { SystemHint } from '../model/variants.ts';
import type { Step, SystemDoc } from '../scenario/schema.ts';
import { FMODE_WRITE, OPEN_FLAGS } from '../model/vfs/fcntl.ts';
import { fs_types, fsTypeOf } from '../model/filesystems.ts';
import type { SystemDraw } from './draw.ts';
import { roundUp } from '../model/lib/math.ts';

export const FD_NAMES = ['A', 'B', 'C'] as const;
export const PATHS = ['f', 'g', 'd/h'] as const;

/** An offset or length: anchor + k * granule + delta. */
export interface Span3 {
  readonly anchor: 0 | 1 | 2;
  readonly k: number;
  readonly gran: 0 | 1 | 2 | 3;
  readonly d: number;
}

/**
 * What a generated crash does first when the device holds nothing that is
 * not yet durable (a crash then tests nothing): `inflight` starts writeback
 * of the dirty files (bios in flight), `cached` also lets the device
 * complete them into its volatile cache, `committed` commits the journal
 * while they are in flight (what ordered data must survive); with nothing
 * dirty, one block is written first.  `none`: the crash as drawn.
 */
export type CrashPrep = 'none' | 'inflight' | 'cached' | 'committed';

export type Recipe =
  | { readonly k: 'open'; readonly fd: number; readonly path: string; readonly acc: number; readonly flags: readonly string[] }
  | { readonly k: 'close'; readonly fd: number; readonly valid: boolean }
  | { readonly k: 'mkdir' }
  | { readonly k: 'pwrite'; readonly fd: number; readonly valid: boolean; readonly off: Span3; readonly len: Span3; readonly fill: number; readonly buf: number; readonly iov2: Span3 | null; readonly flags: readonly string[]; readonly race: { readonly at: number; readonly len: number } | null }
  | { readonly k: 'awrite'; readonly fd: number; readonly order: number; readonly slot: number; readonly at: 'slot' | 'eof' | 'inside'; readonly crash: 'all' | readonly number[] | null; readonly prep: CrashPrep; readonly buf: number; readonly flags: readonly string[] }
  | { readonly k: 'pread'; readonly fd: number; readonly valid: boolean; readonly off: Span3; readonly len: Span3; readonly buf: number; readonly flags: readonly string[] }
  | { readonly k: 'fsync'; readonly fd: number; readonly data: boolean }
  | { readonly k: 'ftruncate'; readonly fd: number; readonly len: Span3 }
  /**
   * `huge`: the device's size (ENOSPC); `leave`: as much as leaves (available >> shift) + d blocks available
   * (a file system half, three quarters ... nearly full).
   */
  | { readonly k: 'fallocate'; readonly fd: number; readonly mode: readonly string[]; readonly off: Span3; readonly len: Span3; readonly huge: boolean; readonly leave: { readonly shift: number; readonly d: number } | null }
  | { readonly k: 'mmap_write'; readonly fd: number; readonly off: Span3; readonly len: Span3; readonly fill: number }
  | { readonly k: 'statx'; readonly fd: number }
  | { readonly k: 'fiemap'; readonly fd: number; readonly placement: boolean }
  | { readonly k: 'setflags'; readonly fd: number; readonly nocow: boolean }
  | { readonly k: 'clone'; readonly fd: number; readonly src: number; readonly srcOff: Span3; readonly off: Span3; readonly len: Span3 }
  | { readonly k: 'sync' }
  | { readonly k: 'crash'; readonly keep: 'none' | 'all' | readonly number[]; readonly remount: boolean; readonly reopen: boolean; readonly prep: CrashPrep }
  | { readonly k: 'remount'; readonly reopen: boolean }
  | { readonly k: 'writeback'; readonly fd: number; readonly off: Span3; readonly len: Span3 }
  | { readonly k: 'complete'; readonly count: number }
  | { readonly k: 'journal_commit' }
  | { readonly k: 'reclaim' }
  | { readonly k: 'device_error'; readonly fd: number; readonly off: Span3; readonly len: Span3 };

const span3 = (maxK: number): fc.Arbitrary<Span3> =>
  fc.record({
    anchor: fc.constantFrom<0 | 1 | 2>(0, 0, 1, 2),
    // Mostly small multiples, so that operations land on the same blocks.
    k: fc.oneof({ weight: 6, arbitrary: fc.nat({ max: 2 }) }, { weight: 3, arbitrary: fc.nat({ max: Math.min(8, maxK) }) }, { weight: 1, arbitrary: fc.nat({ max: maxK }) }),
    gran: fc.constantFrom<0 | 1 | 2 | 3>(1, 1, 2, 0, 3),
    d: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 100, 511, 512, -512, -1) }),
  });

const fdIdx = fc.nat({ max: FD_NAMES.length - 1 });

function pathArb(opts: GenOptions): fc.Arbitrary<string> {
  const ps = opts.paths ?? PATHS;
  const first = ps[0] ?? 'f';
  return fc.oneof({ weight: 3, arbitrary: fc.constant(first) }, { weight: 2, arbitrary: fc.constantFrom(...ps) });
}
const valid = fc.oneof({ weight: 15, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
const fill = fc.integer({ min: 1, max: 255 });
const likely = fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
const buf = fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 256, 512, 2048) });

function subset(names: readonly string[], weightNone: number): fc.Arbitrary<readonly string[]> {
  return fc.oneof(
    { weight: weightNone, arbitrary: fc.constant([] as readonly string[]) },
    { weight: 1, arbitrary: fc.subarray([...names], { minLength: 1, maxLength: 2 }) },
  );
}

const OPEN_EXTRA = ['O_DIRECT', 'O_DIRECT', 'O_DIRECT', 'O_TRUNC', 'O_APPEND', 'O_DSYNC', 'O_SYNC', 'O_EXCL'];
const RWF = ['RWF_DSYNC', 'RWF_SYNC', 'RWF_NOWAIT', 'RWF_HIPRI', 'RWF_APPEND', 'RWF_ATOMIC', 'RWF_DONTCACHE', 'RWF_WRITETHROUGH', '0x400'];
const FALLOC_MODES: ReadonlyArray<readonly string[]> = [
  [],
  ['FALLOC_FL_KEEP_SIZE'],
  ['FALLOC_FL_PUNCH_HOLE', 'FALLOC_FL_KEEP_SIZE'],
  ['FALLOC_FL_UNSHARE_RANGE'],
  ['FALLOC_FL_UNSHARE_RANGE', 'FALLOC_FL_KEEP_SIZE'],
  ['FALLOC_FL_ZERO_RANGE'],
  ['FALLOC_FL_ZERO_RANGE', 'FALLOC_FL_KEEP_SIZE'],
  ['FALLOC_FL_COLLAPSE_RANGE'],
  ['FALLOC_FL_INSERT_RANGE'],
  ['FALLOC_FL_PUNCH_HOLE'],
];

export interface GenOptions {
  /** Weight multipliers per recipe kind (0 disables a kind). */
  readonly weights?: Partial<Record<Recipe['k'], number>>;
  /** The files sequences open (default f, g and d/h; the first is the most likely). */
  readonly paths?: readonly string[];
  /**
   * `all`: only crashes that keep every write the device accepted (what the
   * kernel runner can do without its FUSE recorder).
   */
  readonly crashKeep?: 'all';
  /** Half the writes use RWF_WRITETHROUGH (for the RFC's variants). */
  readonly writethrough?: boolean;
  /** Only what a real kernel can be asked to do (no store racing with a write's I/O). */
  readonly realKernel?: boolean;
  /** fiemap steps compare block placement too (docs/scenario-format.md, `fiemap`). */
  readonly placement?: boolean;
}

const DEFAULT_WEIGHTS: Record<Recipe['k'], number> = {
  open: 8, close: 1, mkdir: 1, pwrite: 16, awrite: 3, pread: 10, fsync: 4, ftruncate: 3, fallocate: 3, mmap_write: 3, statx: 1, fiemap: 1, setflags: 1, clone: 3,
  sync: 1, crash: 2, remount: 1, writeback: 4, complete: 4, journal_commit: 1, reclaim: 1, device_error: 1,
};

/**
 * A sequence: an open first (so the fuzzer spends its steps on files), then
 * anything.  Swarm testing: each sequence draws which operation kinds it
 * uses at all (half of the optional ones, on average), so that some
 * sequences are dense in, say, writes, fsyncs and crashes only.
 */
export function arbRecipes(maxSteps: number, opts: GenOptions = {}, minSteps = 0): fc.Arbitrary<Recipe[]> {
  const first = fc.record({ k: fc.constant('open' as const), fd: fc.constant(0), path: fc.constant(opts.paths?.[0] ?? 'f'), acc: fc.constant(2), flags: subset(OPEN_EXTRA, 2) });
  const base = { ...DEFAULT_WEIGHTS, ...(opts.weights ?? {}) };
  // Long sequences (a soak, over 1,000 steps) always open files: without opens, the first crash or
  // close leaves thousands of steps on closed descriptors (EBADF: half of a soak's steps, measured).
  const always: ReadonlyArray<Recipe['k']> = maxSteps > 1000 ? ['pwrite', 'pread', 'open'] : ['pwrite', 'pread'];
  const optional = (Object.keys(base) as Array<Recipe['k']>).filter((k) => !always.includes(k) && base[k] > 0);
  const swarm = fc.subarray(optional, { minLength: 1 });
  const kinds = recipeKinds(opts);
  const rest = (enabled: ReadonlyArray<Recipe['k']>) => {
    const w = { ...base };
    for (const k of Object.keys(base) as Array<Recipe['k']>) if (!always.includes(k) && !enabled.includes(k)) w[k] = 0;
    return fc.array(weightedRecipe(kinds, w), { minLength: Math.max(0, Math.min(minSteps, maxSteps) - 1), maxLength: Math.max(0, maxSteps - 1) });
  };
  const random = fc.tuple(first, swarm.chain(rest)).map(([a, tail]) => [a, ...tail]);
  // Templates need their kinds enabled, and the model's own steps (writeback, complete, device_error).
  if (opts.realKernel === true || maxSteps < 8 || Object.values(opts.weights ?? {}).some((w) => w === 0)) return random;
  const templated = fc.tuple(first, arbTemplate(opts), swarm.chain(rest)).map(([a, t, r]): Recipe[] => [a, ...t, ...r].slice(0, maxSteps));
  return fc.oneof({ weight: 4, arbitrary: random }, { weight: 1, arbitrary: templated });
}

const wholeBlocks = (maxK: number): fc.Arbitrary<Span3> => fc.record({ anchor: fc.constant<0>(0), k: fc.integer({ min: 1, max: maxK }), gran: fc.constantFrom<1 | 2>(1, 2), d: fc.constant(0) });
const at0 = (k: number): Span3 => ({ anchor: 0, k, gran: 1, d: 0 });
/** One sector (512 bytes): a store smaller than a block. */
const SECTOR: Span3 = { anchor: 0, k: 1, gran: 0, d: 0 };
const plainWrite = (fd: number, off: Span3, len: Span3, flags: readonly string[] = []): fc.Arbitrary<Recipe> =>
  fill.map((f): Recipe => ({ k: 'pwrite', fd, valid: true, off, len, fill: f, buf: 0, iov2: null, flags, race: null }));

/**
 * Sequence templates: shapes known to matter that random steps rarely put
 * together, each with its parameters still drawn, then random steps
 * (README: Coverage and reach).  Each is at most 8 recipes.
 *
 * - write, fsync, overwrite, crash with the overwrite in flight or in the
 *   device cache (what fsync and the journal must survive);
 * - clone the same range twice (a block with three owners), then write
 *   over it (COW of a multiply shared block);
 * - a device error under written-back data, then writeback, completion and
 *   fsync (the error reported, the folio kept dirty or not);
 * - stores through a mapping, writeback, a store while the folio is under
 *   writeback, completion, fsync (stable pages, re-dirtying);
 * - an O_DIRECT write over data still in the page cache, then a crash;
 * - a store through a mapping, a write over it (RWF_WRITETHROUGH for the
 *   RFC's variants), another store, fsync, a crash (what the store after
 *   the write must not lose);
 * - one block written and made durable inside the range of an RWF_ATOMIC
 *   direct write over holes, then a crash right after the atomic write (a
 *   mixed mapping: ext4 bigalloc converts it in a transaction it must
 *   commit first, XFS remaps it from the COW fork);
 * - a file system filled half, three quarters ... nearly, then an RWF_ATOMIC write
 *   to a file whose size predicts a large allocation (ext4's normalized
 *   request must fall back to the write's own size).
 */
function arbTemplate(opts: GenOptions): fc.Arbitrary<Recipe[]> {
  const crash = (prep: CrashPrep) => fc.record({
    k: fc.constant('crash' as const),
    keep: fc.oneof<fc.Arbitrary<'none' | 'all' | readonly number[]>[]>(fc.constant('none'), fc.constant('all'), fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 4 })),
    remount: fc.constant(true), reopen: fc.constant(true), prep: fc.constant(prep),
  });
  const n = wholeBlocks(4);
  const overwriteCrash = fc.tuple(n, n, fc.boolean(), fc.constantFrom<CrashPrep>('inflight', 'cached')).chain(([off, len, data, prep]) =>
    fc.tuple(plainWrite(0, off, len), fc.constant<Recipe>({ k: 'fsync', fd: 0, data }), plainWrite(0, off, len), crash(prep)));
  const cloneTwice = fc.tuple(n, fc.integer({ min: 1, max: 4 })).chain(([len, gap]) =>
    fc.tuple(
      plainWrite(0, at0(0), len),
      fc.constant<Recipe>({ k: 'open', fd: 1, path: 'g', acc: 2, flags: [] }),
      fc.constant<Recipe>({ k: 'clone', fd: 1, src: 0, srcOff: at0(0), off: at0(0), len }),
      fc.constant<Recipe>({ k: 'clone', fd: 1, src: 0, srcOff: at0(0), off: { ...len, k: len.k + gap }, len }),
      plainWrite(0, at0(0), at0(1)),
    ));
  const errorWriteback = fc.tuple(n, n).chain(([off, len]) =>
    fc.tuple(
      plainWrite(0, off, len),
      fc.constant<Recipe>({ k: 'device_error', fd: 0, off, len: at0(1) }),
      fc.constant<Recipe>({ k: 'writeback', fd: 0, off: at0(0), len: at0(0) }),
      fc.constant<Recipe>({ k: 'complete', count: 4 }),
      fc.constant<Recipe>({ k: 'fsync', fd: 0, data: false }),
    ));
  const storeUnderWriteback = fc.tuple(n, fill, fill).map(([off, a, b]): Recipe[] => [
    { k: 'mmap_write', fd: 0, off: { ...off, anchor: 0 }, len: at0(1), fill: a },
    { k: 'writeback', fd: 0, off: at0(0), len: at0(0) },
    { k: 'mmap_write', fd: 0, off: { ...off, anchor: 0 }, len: SECTOR, fill: b },
    { k: 'complete', count: 4 },
    { k: 'fsync', fd: 0, data: false },
  ]);
  const directOverCached = fc.tuple(n, n, fc.constantFrom<CrashPrep>('none', 'cached')).chain(([off, len, prep]) =>
    fc.tuple(
      plainWrite(0, off, len),
      fc.constant<Recipe>({ k: 'open', fd: 1, path: 'f', acc: 2, flags: ['O_DIRECT'] }),
      plainWrite(1, off, len),
      crash(prep),
    ));
  const storeWriteStore = fc.tuple(n, fill, fill, fc.boolean()).chain(([len, a, b, data]) =>
    fc.tuple(
      plainWrite(0, at0(0), len),
      fc.constant<Recipe>({ k: 'mmap_write', fd: 0, off: at0(0), len: at0(1), fill: a }),
      plainWrite(0, at0(0), at0(1), opts.writethrough === true ? ['RWF_WRITETHROUGH'] : []),
      fc.constant<Recipe>({ k: 'mmap_write', fd: 0, off: at0(0), len: SECTOR, fill: b }),
      fc.constant<Recipe>({ k: 'fsync', fd: 0, data }),
      crash('none'),
    ));
  // The kernel runner keeps every write or none (crashKeep): no patterns then.
  const keeps: ReadonlyArray<'all' | readonly number[]> = opts.realKernel === true || opts.crashKeep !== undefined ? ['all'] : ['all', [1, 0], [0, 1]];
  const atomicOverMixed = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.nat({ max: 15 }), fill, fc.constantFrom(...keeps)).map(([order, b, f, crash]): Recipe[] => [
    { k: 'open', fd: 0, path: 'f', acc: 2, flags: ['O_DIRECT'] },
    { k: 'pwrite', fd: 0, valid: true, off: at0(b % (1 << order)), len: at0(1), fill: f, buf: 0, iov2: null, flags: [], race: null },
    { k: 'fsync', fd: 0, data: false },
    { k: 'awrite', fd: 0, order, slot: 0, at: 'slot', crash, prep: 'none', buf: 0, flags: [] },
  ]);
  const nearlyFullAtomic = fc.tuple(fc.record({ shift: fc.integer({ min: 1, max: 5 }), d: fc.integer({ min: -16, max: 16 }) }), fc.integer({ min: 1, max: 2 })).map(([leave, order]): Recipe[] => [
    { k: 'open', fd: 1, path: 'g', acc: 2, flags: [] },
    { k: 'fallocate', fd: 1, mode: [], off: at0(0), len: at0(1), huge: false, leave },
    // Open again, A goes last among the open descriptors (B, A): the steps below name it by that index.
    { k: 'open', fd: 0, path: 'f', acc: 2, flags: ['O_DIRECT'] },
    { k: 'ftruncate', fd: 1, len: { anchor: 0, k: 256, gran: 3, d: 0 } },
    { k: 'awrite', fd: 1, order, slot: 0, at: 'slot', crash: null, prep: 'none', buf: 0, flags: [] },
  ]);
  return fc.oneof(overwriteCrash, cloneTwice, errorWriteback, storeUnderWriteback, directOverCached, storeWriteStore, atomicOverMixed, nearlyFullAtomic).map((t) => [...t]);
}

/** One random recipe, of the kinds the options' weights (over the defaults) leave above 0. */
export function arbRecipe(opts: GenOptions = {}): fc.Arbitrary<Recipe> {
  return weightedRecipe(recipeKinds(opts), { ...DEFAULT_WEIGHTS, ...(opts.weights ?? {}) });
}

/** A recipe of one of `kinds`, drawn by `w` (fc.oneof over the kinds weighted above 0, in their order). */
function weightedRecipe(kinds: readonly RecipeKind[], w: Readonly<Record<Recipe['k'], number>>): fc.Arbitrary<Recipe> {
  return fc.oneof(...kinds.filter((a) => w[a.k] > 0).map((a) => ({ weight: w[a.k], arbitrary: a.arbitrary })));
}

interface RecipeKind {
  readonly k: Recipe['k'];
  readonly arbitrary: fc.Arbitrary<Recipe>;
}

/**
 * Each kind of recipe with its arbitrary, for the options (but their
 * weights).  Built once per generator: a sequence's swarm draw only
 * weighs them (weightedRecipe); with these twenty-odd records built anew
 * for each sequence, a check worker allocated 38-42 KB per step, 34 without.
 */
function recipeKinds(opts: GenOptions): RecipeKind[] {
  return [
    { k: 'open', arbitrary: fc.record({ k: fc.constant('open' as const), fd: fdIdx, path: pathArb(opts), acc: fc.constantFrom(2, 2, 2, 2, 0, 1), flags: subset(OPEN_EXTRA, 2) }) },
    { k: 'close', arbitrary: fc.record({ k: fc.constant('close' as const), fd: fdIdx, valid }) },
    { k: 'mkdir', arbitrary: fc.constant({ k: 'mkdir' as const }) },
    {
      k: 'pwrite',
      arbitrary: fc.record({
        k: fc.constant('pwrite' as const), fd: fdIdx, valid, off: span3(32), len: span3(16), fill, buf,
        iov2: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: span3(4) }),
        flags: opts.writethrough === true ? fc.oneof(subset(RWF, 12), fc.constant(['RWF_WRITETHROUGH'] as readonly string[])) : subset(RWF, 12),
        // Now and then another thread stores into the buffer while the write's I/O is in flight.
        race: opts.realKernel === true ? fc.constant(null) : fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.record({ at: fc.nat({ max: 7 }), len: fc.constantFrom(1, 512, 4096) }) }),
      }),
    },
    {
      // An RWF_ATOMIC write the file system may accept: a power-of-two number of blocks, naturally aligned.
      k: 'awrite',
      arbitrary: fc.record({
        k: fc.constant('awrite' as const), fd: fdIdx, order: fc.nat({ max: 4 }), slot: fc.nat({ max: 8 }), at: fc.constantFrom('slot', 'eof', 'inside'), buf,
        // Now and then the power fails right after it (fstests generic/778's pattern): the device's cache
        // written out, or some of the writes not yet durable kept whole and others lost.
        crash: fc.oneof(
          { weight: 6, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.constant('all' as const) },
          { weight: opts.crashKeep !== undefined ? 0 : 1, arbitrary: fc.array(fc.constantFrom(0, 1), { minLength: 2, maxLength: 3 }) },
        ),
        // A refused or synchronous atomic write leaves nothing pending: other writes are then left in flight,
        // by model-only steps the kernel runner cannot take.
        prep: fc.constant<CrashPrep>(opts.realKernel === true || opts.crashKeep !== undefined ? 'none' : 'inflight'),
        flags: subset(['RWF_DSYNC', 'RWF_SYNC', 'RWF_NOWAIT'], 6),
      }),
    },
    { k: 'pread', arbitrary: fc.record({ k: fc.constant('pread' as const), fd: fdIdx, valid, off: span3(32), len: span3(16), buf, flags: subset(['RWF_NOWAIT', 'RWF_HIPRI', 'RWF_ATOMIC', 'RWF_DONTCACHE'], 20) }) },
    { k: 'fsync', arbitrary: fc.record({ k: fc.constant('fsync' as const), fd: fdIdx, data: fc.boolean() }) },
    { k: 'ftruncate', arbitrary: fc.record({ k: fc.constant('ftruncate' as const), fd: fdIdx, len: span3(32) }) },
    {
      k: 'fallocate',
      // Now and then a preallocation larger than the device: ENOSPC, and a file system left (nearly) full after it.
      arbitrary: fc.record({ k: fc.constant('fallocate' as const), fd: fdIdx, mode: fc.constantFrom(...FALLOC_MODES), off: span3(32), len: span3(16), huge: fc.oneof({ weight: 40, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }), leave: fc.constant(null) }),
    },
    { k: 'mmap_write', arbitrary: fc.record({ k: fc.constant('mmap_write' as const), fd: fdIdx, off: span3(32), len: span3(8), fill }) },
    { k: 'statx', arbitrary: fc.record({ k: fc.constant('statx' as const), fd: fdIdx }) },
    { k: 'fiemap', arbitrary: fc.record({ k: fc.constant('fiemap' as const), fd: fdIdx, placement: fc.constant(opts.placement === true) }) },
    { k: 'setflags', arbitrary: fc.record({ k: fc.constant('setflags' as const), fd: fdIdx, nocow: likely }) },
    {
      k: 'clone',
      arbitrary: fc.record({
        k: fc.constant('clone' as const), fd: fdIdx, src: fdIdx,
        srcOff: fc.record({ anchor: fc.constant<0>(0), k: fc.nat({ max: 4 }), gran: fc.constantFrom<1 | 2>(1, 2), d: fc.oneof({ weight: 15, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(512) }) }),
        off: fc.record({ anchor: fc.constantFrom<0 | 2>(0, 0, 2), k: fc.nat({ max: 4 }), gran: fc.constantFrom<1 | 2>(1, 2), d: fc.constant(0) }),
        // Mostly "to the source's EOF" (length 0), else a few blocks.
        len: fc.oneof({ weight: 2, arbitrary: fc.constant({ anchor: 0 as const, k: 0, gran: 1 as const, d: 0 }) }, { weight: 1, arbitrary: fc.record({ anchor: fc.constant<0>(0), k: fc.integer({ min: 1, max: 4 }), gran: fc.constantFrom<1 | 2>(1, 2), d: fc.constant(0) }) }),
      }),
    },
    { k: 'sync', arbitrary: fc.constant({ k: 'sync' as const }) },
    {
      k: 'crash',
      arbitrary: fc.record({
        k: fc.constant('crash' as const),
        keep:
          opts.crashKeep === 'all'
            ? fc.constant<'all'>('all')
            : fc.oneof(
                { weight: 3, arbitrary: fc.constant<'none'>('none') },
                { weight: 2, arbitrary: fc.constant<'all'>('all') },
                { weight: 3, arbitrary: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 4 }) },
              ),
        // On the kernel, the steps between a power cut and the remount are not run (the live file system
        // is not the dead one: kernel/helper), while the model runs them (an open there closes the old
        // descriptor of its name): a crash there is always followed by the remount.
        remount: opts.realKernel === true ? fc.constant(true) : likely,
        reopen: likely,
        // Model only: the kernel runner has no way to hold writes in flight (writeback and complete are model-only steps).
        prep: opts.realKernel === true || opts.crashKeep !== undefined ? fc.constant<CrashPrep>('none') : fc.constantFrom<CrashPrep>('none', 'inflight', 'inflight', 'cached', 'cached', 'cached', 'committed', 'committed'),
      }),
    },
    { k: 'remount', arbitrary: fc.record({ k: fc.constant('remount' as const), reopen: likely }) },
    { k: 'writeback', arbitrary: fc.record({ k: fc.constant('writeback' as const), fd: fdIdx, off: span3(8), len: span3(8) }) },
    { k: 'complete', arbitrary: fc.record({ k: fc.constant('complete' as const), count: fc.integer({ min: 1, max: 4 }) }) },
    { k: 'journal_commit', arbitrary: fc.constant({ k: 'journal_commit' as const }) },
    { k: 'reclaim', arbitrary: fc.constant({ k: 'reclaim' as const }) },
    { k: 'device_error', arbitrary: fc.record({ k: fc.constant('device_error' as const), fd: fdIdx, off: span3(8), len: span3(4) }) },
  ];
}

export interface SystemGenOptions {
  /** Only this file system (a registered type's name). */
  readonly fs?: string | undefined;
  /** Only systems of this kind. */
  readonly hint?: SystemHint | undefined;
}

/** The file systems a run generates: the one asked for, or every registered type that can make systems of the kind. */
export function generatedFileSystems(opts: SystemGenOptions): string[] {
  if (opts.fs !== undefined) return [opts.fs];
  return fs_types().filter((t) => t.harness.supports(opts.hint)).map((t) => t.name);
}

/**
 * A system: which file system, then a common draw of the geometry and the
 * device (block size, folio size, write cache, stable pages, hardware
 * atomic writes, an inline encryption engine), which the file system's
 * harness turns into its part (size, features, mount options).
 */
export function arbSystem(opts: SystemGenOptions = {}): fc.Arbitrary<SystemDoc> {
  const names = generatedFileSystems(opts);
  const fsArb = names.length === 1 ? fc.constant(names[0]!) : fc.constantFrom(...names);
  // One arbitrary per file system, built at its first draw (not at every sequence's).
  const perFs = new Map<string, fc.Arbitrary<SystemDoc>>();
  return fsArb.chain((fs) => {
    let a = perFs.get(fs);
    if (a === undefined) perFs.set(fs, (a = arbSystemOf(fs, opts)));
    return a;
  });
}

/** A system of file system `fs` (arbSystem, once it drew which). */
function arbSystemOf(fs: string, opts: SystemGenOptions): fc.Arbitrary<SystemDoc> {
  return fc.record({
    blockSize: fc.constantFrom(4096, 4096, 1024, 2048),
    lbs4k: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    folioSize: fc.constantFrom(0, 0, 0, 4096, 16384, 65536),
    encrypt: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    writeCache: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    small: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    // A device that needs stable pages (it checksums what it receives, T10 PI style).
    stable: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    // Hardware atomic writes (an NVMe- or SCSI-like device): unit min/max, boundary, NVMe's virtual boundary.
    // Inline encryption (only used with the encrypt feature): -o inlinecrypt, an engine, small max_sectors_kb.
    inline: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.record({ maxKb: fc.constantFrom(1280, 6, 8), segs: fc.constantFrom(128, 2) }) }),
    // ext4 bigalloc: blocks per cluster (0: no bigalloc).  Multi-block atomic writes need it.
    bigalloc: fc.constantFrom(0, 0, 0, 0, 4, 16),
    atomic: fc.oneof(
      { weight: 3, arbitrary: fc.constant(null) },
      // maxKb: an administrator's max_sectors_kb below the atomic unit (max_hw_sectors_kb stays 1280).
      { weight: 1, arbitrary: fc.record({ max: fc.constantFrom(16384, 65536), boundary: fc.constantFrom(0, 0, 65536), virt: fc.constantFrom(0, 4096), maxKb: fc.constantFrom(1280, 1280, 8) }) },
    ),
  }).map((g0): SystemDoc => {
    // A hint forces the kind of system a variant needs.
    const g = ((): SystemDraw => {
      switch (opts.hint) {
        case 'inline-crypto':
          return { ...g0, encrypt: true, inline: g0.inline ?? { maxKb: 1280, segs: 128 } };
        case 'stable-writes':
          return { ...g0, stable: true };
        case 'atomic-bigalloc':
          return { ...g0, encrypt: false, bigalloc: g0.bigalloc === 0 ? 4 : g0.bigalloc, atomic: g0.atomic ?? { max: 65536, boundary: 0, virt: 0, maxKb: 1280 } };
        case 'atomic-hw':
          return { ...g0, atomic: g0.atomic ?? { max: 65536, boundary: 0, virt: 0, maxKb: 8 } };
        case undefined:
          return g0;
      }
    })();
    const part = fsTypeOf({ fs }).harness.generate(g);
    const blockSize = part.blockSize ?? g.blockSize;
    const lbs = g.lbs4k && blockSize === 4096 ? 4096 : 512;
    const atomic = g.atomic !== null ? { atomicWriteUnitMin: lbs, atomicWriteUnitMax: g.atomic.max, atomicWriteBoundary: g.atomic.boundary, virtBoundary: g.atomic.virt, ...(g.atomic.maxKb !== 1280 ? { maxSectorsKb: g.atomic.maxKb } : {}) } : {};
    const inline = part.inlineCrypto === true && g.inline !== null ? { inlineCrypto: { dataUnitSizes: [512, 1024, 2048, 4096] }, maxSectorsKb: g.inline.maxKb, maxSegments: g.inline.segs } : {};
    return {
      fs,
      blockSize,
      folioSize: g.folioSize,
      device: { sizeMiB: part.sizeMiB, logicalBlockSize: lbs, writeCache: g.writeCache, ...(g.stable ? { stableWrites: true } : {}), ...atomic, ...inline },
      ...(part.features !== undefined ? { features: part.features } : {}),
      ...(part.mount !== undefined ? { mount: part.mount } : {}),
      ...(part.clusterSize !== undefined ? { clusterSize: part.clusterSize } : {}),
    };
  });
}

// ---------------------------------------------------------------------------
// Resolution against the model state

/** Files the generator grows no further than this by cloning (bytes). */
const MAX_FILE = 8 << 20;

function fdName(sys: System, fd: number, valid: boolean): string {
  const open = sys.openFds();
  if (valid && open.length > 0) return open[fd % open.length]!;
  return FD_NAMES[fd % FD_NAMES.length]!;
}

function fileSize(sys: System, fd: string): number {
  const f = sys.files.get(fd);
  return f === undefined ? 0 : f.inode.i_size;
}

/**
 * The byte value for the next user buffer: distinct per buffer (the source
 * id), so that different writes are told apart by value too — on the real
 * kernel, in xfs_io output, in a review.
 */
function nextFill(sys: System, k = 0): number {
  return ((sys.sources.count + k) % 255) + 1;
}

function granule(sys: System, g: 0 | 1 | 2 | 3): number {
  switch (g) {
    case 0:
      return 512;
    case 1:
      return sys.cfg.blockSize;
    case 2:
      return 4096;
    case 3:
      return 65536;
  }
}

/** How far `s` reaches from its anchor: k granules and d bytes. */
function reach(sys: System, s: Span3): number {
  return s.k * granule(sys, s.gran) + s.d;
}

function value(sys: System, s: Span3, eof: number, min: number): number {
  const bs = sys.cfg.blockSize;
  const anchor = s.anchor === 0 ? 0 : s.anchor === 1 ? eof : roundUp(eof, bs);
  return Math.max(min, anchor + reach(sys, s));
}

/** A length: `s` counted from 0 whatever its anchor. */
function size(sys: System, s: Span3, min: number): number {
  return Math.max(min, reach(sys, s));
}

/**
 * fsx-style verification: read every open file in full (up to 1 MiB past
 * the largest size it may have), so a wrong byte anywhere is seen at once.
 */
export function verifySteps(sys: System, sizes?: ReadonlyMap<string, number>): Step[] {
  const out: Step[] = [];
  for (const [fd, f] of sys.files) {
    if ((f.f_mode & 1) === 0) continue;
    const size = Math.max(f.inode.i_size, sizes?.get(fd) ?? 0);
    out.push({ op: 'pread', fd, offset: 0, length: Math.min(Math.max(size, 1), 1 << 20) });
  }
  return out;
}

/** Open again, without O_CREAT/O_TRUNC/O_EXCL, every fd open now (a remount closes them all), then read them back. */
function reopenSteps(sys: System): Array<Step | ((s: System) => Step[])> {
  const out: Array<Step | ((s: System) => Step[])> = [];
  const sizes = new Map<string, number>();
  for (const [fd, f] of sys.files) sizes.set(fd, f.inode.i_size);
  for (const [fd, f] of sys.files) {
    const names = Object.entries(OPEN_FLAGS)
      .filter(([n, v]) => v !== 0 && n !== 'O_CREAT' && n !== 'O_TRUNC' && n !== 'O_EXCL' && (n === 'O_SYNC' ? (f.f_flags & v) === v : (f.f_flags & v) !== 0) && !(n === 'O_DSYNC' && (f.f_flags & OPEN_FLAGS['O_SYNC']!) === OPEN_FLAGS['O_SYNC']))
      .map(([n]) => n);
    out.push({ op: 'open', path: f.path, fd, flags: names.length === 0 ? ['O_RDONLY'] : names });
  }
  out.push((s: System) => verifySteps(s, sizes));
  return out;
}

/**
 * Steps that leave writes not yet durable on the device before a crash
 * (CrashPrep), or none when some already are, the file system is down, or
 * no file is open for writing.
 */
function pendingSteps(sys: System, prep: CrashPrep): Step[] {
  if (prep === 'none' || sys.crashed || sys.sb.shutdown || sys.disk.hasPending()) return [];
  const out: Step[] = [];
  const writable = [...sys.files].filter(([, f]) => (f.f_mode & FMODE_WRITE) !== 0);
  // One writeback per dirty file (a file open twice is written back once).
  const seen = new Set<number>();
  const targets: string[] = [];
  for (const [fd, f] of writable) {
    if (!f.inode.mapping.hasDirty() || seen.has(f.inode.ino)) continue;
    seen.add(f.inode.ino);
    targets.push(fd);
  }
  if (targets.length === 0) {
    // Nothing dirty: one block written at the EOF block of a file open for writing without O_DSYNC (which would
    // make it durable at once), or else of a file opened again for that (the same file, or after a crash lost the files, the first).
    const open = writable.find(([, f]) => (f.f_flags & OPEN_FLAGS['O_DSYNC']!) === 0);
    const fd = open?.[0] ?? FD_NAMES.find((n) => !sys.files.has(n));
    if (fd === undefined) return [];
    if (open === undefined) out.push({ op: 'open', path: writable[0]?.[1].path ?? PATHS[0], fd, flags: ['O_RDWR', 'O_CREAT'] });
    const bs = sys.cfg.blockSize;
    out.push({ op: 'pwrite', fd, offset: open === undefined ? 0 : Math.floor(open[1].inode.i_size / bs) * bs, length: bs, fill: nextFill(sys), bufOffset: 0, flags: [] });
    targets.push(fd);
  }
  for (const fd of targets) out.push({ op: 'writeback', fd, offset: 0, length: 0 });
  // Without a volatile cache a completed write is durable: leave them in flight.
  if (prep === 'cached' && sys.disk.limits.write_cache) out.push({ op: 'complete', count: 64 });
  if (prep === 'committed') out.push({ op: 'journal_commit' });
  return out;
}

/** Concrete steps, or (after a remount) steps that depend on the state the remount leaves. */
export type Resolved = Step | Array<Step | Deferred>;
/** Steps resolved when the steps before them have run. */
type Deferred = (s: System) => Array<Step | Deferred>;

/** The bytes to preallocate so that (available >> shift) + d blocks stay available (at least one block). */
function leavingBytes(sys: System, leave: { readonly shift: number; readonly d: number }): number {
  const avail = sys.sb.alloc.available();
  return Math.max(1, avail - ((avail >> leave.shift) + leave.d)) * sys.cfg.blockSize;
}

/** Turn a recipe into concrete steps for the current model state. */
export function resolve(r: Recipe, sys: System): Resolved {
  switch (r.k) {
    case 'open':
      return {
        op: 'open',
        path: r.path,
        fd: FD_NAMES[r.fd % FD_NAMES.length]!,
        flags: [['O_RDONLY', 'O_WRONLY', 'O_RDWR'][r.acc] ?? 'O_RDWR', 'O_CREAT', ...r.flags.filter((f, i, a) => a.indexOf(f) === i)],
      };
    case 'close':
      return { op: 'close', fd: fdName(sys, r.fd, r.valid) };
    case 'mkdir':
      return { op: 'mkdir', path: 'd' };
    case 'pwrite': {
      const fd = fdName(sys, r.fd, r.valid);
      const eof = fileSize(sys, fd);
      const offset = value(sys, r.off, eof, 0);
      const length = size(sys, r.len, 0);
      const flags = r.flags.filter((f, i, a) => a.indexOf(f) === i);
      if (r.iov2 !== null) {
        const l2 = size(sys, r.iov2, 1);
        return { op: 'pwrite', fd, offset, iov: [{ length, fill: nextFill(sys), bufOffset: r.buf }, { length: l2, fill: nextFill(sys, 1), bufOffset: 0 }], flags };
      }
      if (r.race === null || length === 0) return { op: 'pwrite', fd, offset, length, fill: nextFill(sys), bufOffset: r.buf, flags };
      const at = Math.min(r.race.at * 512, length - 1);
      return { op: 'pwrite', fd, offset, length, fill: nextFill(sys), bufOffset: r.buf, flags, storeDuringIo: { offset: at, length: Math.min(r.race.len, length - at), fill: nextFill(sys, 1) } };
    }
    case 'awrite': {
      const fd = fdName(sys, r.fd, true);
      const length = sys.cfg.blockSize << r.order;
      // A slot, the first slot at or past EOF, or a slot inside the file (an overwrite: where tearing shows).
      const size = fileSize(sys, fd);
      const slot = r.at === 'slot' ? r.slot : r.at === 'eof' ? Math.ceil(size / length) : r.slot % Math.max(1, Math.floor(size / length));
      const offset = slot * length;
      const write: Step = { op: 'pwrite', fd, offset, length, fill: nextFill(sys), bufOffset: r.buf, flags: ['RWF_ATOMIC', ...r.flags.filter((f, i, a) => a.indexOf(f) === i)] };
      if (r.crash === null) return write;
      const crash: Step = r.crash === 'all' ? { op: 'crash', keep: 'all' } : { op: 'crash', pattern: [...r.crash] };
      return [write, (s: System) => [...pendingSteps(s, r.prep), crash, { op: 'remount' }, ...reopenSteps(s)]];
    }
    case 'pread': {
      const fd = fdName(sys, r.fd, r.valid);
      const eof = fileSize(sys, fd);
      return { op: 'pread', fd, offset: value(sys, r.off, eof, 0), length: size(sys, r.len, 0), bufOffset: r.buf, flags: r.flags.filter((f, i, a) => a.indexOf(f) === i) };
    }
    case 'fsync':
      return { op: r.data ? 'fdatasync' : 'fsync', fd: fdName(sys, r.fd, true) };
    case 'ftruncate': {
      const fd = fdName(sys, r.fd, true);
      return { op: 'ftruncate', fd, length: value(sys, r.len, fileSize(sys, fd), 0) };
    }
    case 'fallocate': {
      const fd = fdName(sys, r.fd, true);
      const eof = fileSize(sys, fd);
      const length = r.huge ? sys.disk.sizeBytes : r.leave !== null ? leavingBytes(sys, r.leave) : size(sys, r.len, 1);
      return { op: 'fallocate', fd, mode: [...r.mode], offset: value(sys, r.off, eof, 0), length };
    }
    case 'mmap_write': {
      const fd = fdName(sys, r.fd, true);
      const eof = fileSize(sys, fd);
      return { op: 'mmap_write', fd, offset: value(sys, r.off, Math.max(0, eof - 4096), 0), length: size(sys, r.len, 1), fill: nextFill(sys) };
    }
    case 'statx':
      return { op: 'statx', fd: fdName(sys, r.fd, true), mask: ['STATX_BASIC_STATS', 'STATX_DIOALIGN'] };
    case 'fiemap':
      return { op: 'fiemap', fd: fdName(sys, r.fd, true), ...(r.placement ? { placement: true } : {}) };
    case 'setflags':
      return { op: 'setflags', fd: fdName(sys, r.fd, true), flags: r.nocow ? ['FS_NOCOW_FL'] : [] };
    case 'clone': {
      const fd = fdName(sys, r.fd, true);
      const src = fdName(sys, r.src, true);
      const srcOffset = value(sys, r.srcOff, 0, 0);
      const offset = value(sys, r.off, fileSize(sys, fd), 0);
      let length = value(sys, r.len, 0, 0);
      // "To EOF" of a file cloned onto its own end doubles it each time: keep files under
      // MAX_FILE (fsx bounds its file the same way) with an explicit, block-aligned length.
      const toEof = fileSize(sys, src) - srcOffset;
      if (length === 0 && toEof > 0 && offset + toEof > MAX_FILE) length = Math.max(sys.cfg.blockSize, Math.floor(Math.max(0, MAX_FILE - offset) / sys.cfg.blockSize) * sys.cfg.blockSize);
      return { op: 'clone', fd, src, srcOffset, offset, length };
    }
    case 'sync':
      return { op: 'sync' };
    case 'crash': {
      const crash: Step = typeof r.keep === 'string' ? { op: 'crash', keep: r.keep } : { op: 'crash', pattern: [...r.keep] };
      const pre = pendingSteps(sys, r.prep);
      if (!r.remount) return pre.length === 0 ? crash : [...pre, crash];
      return [...pre, crash, { op: 'remount' }, ...(r.reopen ? reopenSteps(sys) : [])];
    }
    case 'remount':
      return [{ op: 'remount' }, ...(r.reopen ? reopenSteps(sys) : [])];
    case 'writeback': {
      const fd = fdName(sys, r.fd, true);
      return { op: 'writeback', fd, offset: value(sys, r.off, 0, 0), length: size(sys, r.len, 0) };
    }
    case 'complete':
      return { op: 'complete', count: r.count };
    case 'journal_commit':
      return { op: 'journal_commit' };
    case 'reclaim':
      return { op: 'reclaim' };
    case 'device_error': {
      const fd = fdName(sys, r.fd, true);
      return { op: 'device_error', fd, offset: value(sys, r.off, 0, 0), length: size(sys, r.len, 1) };
    }
  }
}

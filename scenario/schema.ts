/**
 * The scenario format `iospec-scenario/1` (docs/scenario-format.md) as a
 * schema.  Validation is done by zod so that every malformed file gets one
 * precise message naming the step and the field and saying what the field
 * takes: each field says once what it expects (`field` below), and both
 * the error message of a value that does not fit and the field's entry in
 * `iospec run --help` (scenario/help.ts) come from that.
 */
import { z } from 'zod';
import { FALLOC_FLAGS, FS_FLAGS, OPEN_FLAGS, RWF_FLAGS, STATX_FLAGS } from '../model/vfs/fcntl.ts';

/** What a field takes, said once for messages and for `iospec run --help`. */
export interface FieldInfo {
  /** A noun phrase: "a byte offset: a whole number such as 4096". */
  readonly expect: string;
  /** Short form for the op list of `iospec run --help` when the schema's structure does not say it ("fd", "path", "[O_*]"). */
  readonly kind?: string;
  /** A flag list: the prefix of its names ("O_*") and every name its table has. */
  readonly flags?: { readonly prefix: string; readonly names: readonly string[] };
  /** Only the model can do what this field asks (the kernel runner answers the step {"unsupported": op}). */
  readonly modelOnly?: boolean;
}

/** Every field schema with what it takes (scenario/help.ts reads it). */
export const FIELD_INFO = z.registry<FieldInfo>();

/** A value as a message shows it: `the string "0"`, `3`, `a list`. */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  const json = JSON.stringify(v);
  if (json.length <= 40) return json;
  return Array.isArray(v) ? `a list of ${v.length}` : 'an object';
}

/** The message of a value that is not what `what` says. */
function expected(what: string) {
  return (iss: z.core.$ZodRawIssue): string => (iss.input === undefined ? `missing: ${what}` : `expected ${what}, got ${shown(iss.input)}`);
}

/** The schema with its expectation attached: every issue it (or one of its checks) raises says what is expected. */
function field<T extends z.ZodType>(schema: T, info: FieldInfo): T {
  const s = schema.clone({ ...schema.def, error: expected(info.expect) });
  FIELD_INFO.add(s, info);
  return s;
}

/** Edit distance, for "did you mean" (names are short). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known name an unknown one is probably a misspelling of. */
function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  return known.find((k) => k.toLowerCase() === lower) ?? known.find((k) => distance(k.toLowerCase(), lower) <= Math.min(2, Math.floor(k.length / 3)));
}

/** A strict object whose unknown fields are named with the fields it takes. */
function object<S extends z.core.$ZodLooseShape>(name: string, what: string, shape: S) {
  const keys = Object.keys(shape);
  const unknown = (names: readonly string[]): string => {
    const guess = names.length === 1 ? closest(names[0]!, keys) : undefined;
    return `unknown field${names.length > 1 ? 's' : ''} ${names.map((k) => JSON.stringify(k)).join(', ')} (${guess !== undefined ? `did you mean "${guess}"? ` : ''}${name} takes: ${keys.join(', ')})`;
  };
  const s = z.strictObject(shape, { error: (iss) => (iss.code === 'unrecognized_keys' ? unknown(iss.keys) : expected(what)(iss)) });
  FIELD_INFO.add(s, { expect: what });
  return s;
}

/**
 * The schemas, built at the first use (building them is a twentieth of the
 * command's start, and most commands parse no scenario).
 */
function build() {
  const int = z.number().int();
  /** A whole number in [min, max], said in words ("from 0 to 255"), with an example. */
  function whole(min: number, max: number, example: number, what = 'a whole number') {
    const range = max >= Number.MAX_SAFE_INTEGER ? `, ${min} or more` : ` from ${num(min)} to ${num(max)}`;
    return field(int.min(min).max(max), { expect: `${what}${range}, such as ${example}` });
  }
  function num(n: number): string {
    if (n >= 2 ** 20 && (n & (n - 1)) === 0) return `2^${Math.log2(n)}`;
    return String(n);
  }
  const nonneg = field(int.min(0), { expect: 'a whole number, 0 or more, such as 4096' });
  const pow2 = (min: number, max: number, example: number, expect = `a power of two from ${num(min)} to ${num(max)}, such as ${example}`) =>
    field(int.min(min).max(max).refine((v) => (v & (v - 1)) === 0), { expect, kind: `power of two ${num(min)}..${num(max)}` });
  const bool = field(z.boolean(), { expect: 'true or false' });
  const text = (max: number) => field(z.string().max(max), { expect: `a string of at most ${max} characters` });

  function flagList(table: Readonly<Record<string, number>>, what: string, prefix: string, example: string) {
    const names = Object.keys(table);
    const s = z.array(z.string()).superRefine((list, ctx) => {
      for (const n of list) {
        if (n in table || /^0x[0-9a-fA-F]+$/.test(n)) continue;
        const guess = closest(n, names);
        ctx.addIssue({ code: 'custom', message: `unknown ${what} flag "${n}" (${guess !== undefined ? `did you mean "${guess}"? ` : ''}the ${prefix} names: ${names.join(', ')}; or a hex value such as "0x40")` });
      }
    });
    return field(s, { expect: `a list of ${prefix} names such as ${example}`, kind: `[${prefix}]`, flags: { prefix, names } });
  }

  const DeviceSchema = object('device', 'the device: an object such as {"logicalBlockSize": 4096}', {
    sizeMiB: whole(16, 1 << 22, 512, 'a size in MiB: a whole number').optional(),
    logicalBlockSize: pow2(512, 4096, 512).optional(),
    physicalBlockSize: pow2(512, 65536, 4096).optional(),
    dmaAlignment: field(int.min(0).max(4095).refine((v) => ((v + 1) & v) === 0), {
      expect: 'a mask 2^n - 1 from 0 to 4095, such as 511 (as /sys/block/*/queue/dma_alignment shows)',
      kind: 'mask 2^n-1 0..4095',
    }).optional(),
    maxSectorsKb: whole(4, 1 << 20, 1280, 'a size in KiB: a whole number').optional(),
    maxHwSectorsKb: whole(4, 1 << 20, 1280, 'a size in KiB: a whole number').optional(),
    readAheadKb: whole(0, 1 << 20, 128, 'a size in KiB: a whole number').optional(),
    maxSegments: whole(1, 65535, 128).optional(),
    maxSegmentSize: whole(4096, 1 << 30, 65536, 'a size in bytes: a whole number').optional(),
    virtBoundary: whole(0, 65536, 4096, 'a boundary in bytes (0: none): a whole number').optional(),
    writeCache: bool.optional(),
    fua: bool.optional(),
    stableWrites: bool.optional(),
    atomicWriteUnitMin: nonneg.optional(),
    atomicWriteUnitMax: nonneg.optional(),
    atomicWriteBoundary: nonneg.optional(),
    inlineCrypto: field(
      z.union([
        z.literal(false),
        object('inlineCrypto', 'an inline encryption engine: an object such as {"dataUnitSizes": [512, 4096]}', {
          dataUnitSizes: field(z.array(pow2(512, 65536, 4096)).min(1), { expect: 'a non-empty list of powers of two from 512 to 65536, such as [512, 4096]' }),
          maxDunBytes: whole(1, 32, 8).optional(),
        }),
      ]),
      { expect: 'false (no engine) or an object such as {"dataUnitSizes": [512, 4096], "maxDunBytes": 8}' },
    ).optional(),
    completion: field(z.enum(['explicit', 'step-end']), { expect: '"explicit" or "step-end"' }).optional(),
    fill: whole(0, 255, 171, 'a byte value: a whole number').optional(),
  });

  const SystemSchema = object('system', 'the system: an object such as {"fs": NAME, "blockSize": 4096}, NAME a file system type (see `iospec filesystems`)', {
    /** A registered file system type (model/filesystems.ts); checked when the system is resolved. */
    fs: field(z.string().regex(/^[a-z0-9_-]+$/), { expect: 'the name of a registered file system type (`iospec filesystems` lists them)', kind: 'fs type' }),
    blockSize: pow2(1024, 65536, 4096).optional(),
    clusterSize: pow2(1024, 1 << 30, 65536).optional(),
    device: DeviceSchema.optional(),
    /** mkfs features; each file system type says which it takes. */
    features: field(z.array(z.string().regex(/^[a-z0-9_]+$/)), { expect: 'a list of mkfs feature names such as ["reflink"] (see `iospec filesystems`)', kind: '[feature]' }).optional(),
    mount: field(z.array(z.string().regex(/^[a-z0-9_=,.-]+$/)), { expect: 'a list of mount options such as ["inlinecrypt"]', kind: '[mount option]' }).optional(),
    /** Model knob: the page cache folio size; 0 = the kernel's policy (sized by each write, up to 2 MiB). */
    folioSize: z
      .union([
        field(z.literal(0), { expect: '0 (the kernel\'s policy) or a power of two from 4096 to 2^21, such as 65536' }),
        pow2(4096, 2 * 1024 * 1024, 65536, '0 (the kernel\'s policy) or a power of two from 4096 to 2^21, such as 65536'),
      ])
      .optional(),
  });

  const fd = field(z.string().min(1).max(32).regex(/^[A-Za-z_][A-Za-z0-9_]*$/), { expect: 'an fd name: an identifier the scenario chooses, such as "A"', kind: 'fd' });
  const path = field(
    z
      .string()
      .min(1)
      .max(255)
      .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.split('/').includes('')),
    { expect: 'a path relative to the mount such as "d/f" (no leading "/", no ".." or empty components)', kind: 'path' },
  );
  const byte = whole(0, 255, 1, 'a byte value: a whole number');
  /** A file position: pwrite and pread take -1 (the file position); other negative values go to the kernel as they are. */
  const offset = field(int.min(-(2 ** 53) + 1).max(2 ** 53 - 1), { expect: 'a byte offset: a whole number such as 4096', kind: 'int' });

  /**
   * The model computes byte positions exactly only below 2^53 (JavaScript
   * numbers); the kernel goes to 2^63.  A range ending past that is refused
   * as input rather than answered wrongly.
   */
  function exactEnd(ctx: z.core.$RefinementCtx, start: number, len: number, path: string): void {
    if (start + len <= Number.MAX_SAFE_INTEGER) return;
    ctx.addIssue({
      code: 'custom',
      message: `${path} ${start} + length ${len} ends past 2^53 - 1: the model computes byte positions exactly only below 2^53 (the kernel allows up to 2^63 - 1), so it cannot answer this step`,
      path: [path],
    });
  }
  /** A signed byte count (ftruncate, fallocate, clone): a negative one goes to the kernel as it is. */
  const count = field(int.min(-(2 ** 53) + 1).max(2 ** 53 - 1), { expect: 'a byte count: a whole number such as 4096', kind: 'int' });
  const length = whole(0, 2 ** 40, 4096, 'a byte count: a whole number');
  const bufOffset = whole(0, 4095, 512, "the buffer's distance past a 4096-aligned address: a whole number");

  const IovSeg = object('an iov segment', 'an iov segment: an object such as {"length": 4096, "fill": 1}', { length, fill: byte, bufOffset: bufOffset.optional() });

  /** Crash choices: what of the not-yet-durable device writes survives. */
  const CrashKeep = field(
    z.union([
      z.literal('all'),
      z.literal('none'),
      z.array(field(z.tuple([nonneg, nonneg, whole(1, Number.MAX_SAFE_INTEGER, 8)]), { expect: 'a [pending write, first sector, sector count] triple such as [0, 2048, 8]' })),
    ]),
    { expect: '"all", "none" or a list of [pending write, first sector, sector count] triples such as [[0, 2048, 8]]', kind: '"all"|"none"|[[i, sector, count]]' },
  );

  const STEPS = [
    object('open', 'an open step', { op: z.literal('open'), path, fd, flags: flagList(OPEN_FLAGS, 'open', 'O_*', '["O_RDWR", "O_CREAT"]') }),
    object('close', 'a close step', { op: z.literal('close'), fd }),
    object('mkdir', 'a mkdir step', { op: z.literal('mkdir'), path }),
    object('encrypt_dir', 'an encrypt_dir step', {
      op: z.literal('encrypt_dir'),
      path,
      key: field(z.string().min(1).max(128), { expect: 'a key name: a string of 1 to 128 characters such as "k1"' }).optional(),
      log2DataUnitSize: whole(0, 16, 12).optional(),
      flags: field(z.array(field(z.enum(['IV_INO_LBLK_64', 'IV_INO_LBLK_32', 'DIRECT_KEY']), { expect: 'a policy flag: "IV_INO_LBLK_64", "IV_INO_LBLK_32" or "DIRECT_KEY"' })), {
        expect: 'a list of policy flags such as ["IV_INO_LBLK_64"]',
        kind: '[IV_INO_LBLK_64|IV_INO_LBLK_32|DIRECT_KEY]',
      }).optional(),
    }),
    object('pwrite', 'a pwrite step', {
      op: z.literal('pwrite'),
      fd,
      offset,
      length: length.optional(),
      fill: byte.optional(),
      bufOffset: bufOffset.optional(),
      iov: field(z.array(IovSeg).min(1).max(1024), { expect: 'a list of 1 to 1024 segments such as [{"length": 512, "fill": 1}, {"length": 512, "fill": 2, "bufOffset": 8}]' }).optional(),
      flags: flagList(RWF_FLAGS, 'RWF', 'RWF_*', '["RWF_DSYNC"]').optional(),
      /** Model only: another thread stores into the buffer (at this offset of it) while the write's I/O is in flight. */
      storeDuringIo: field(
        z.strictObject({ offset: nonneg, length: whole(1, 1 << 30, 512), fill: byte }),
        { expect: 'a store into the buffer: an object such as {"offset": 0, "length": 512, "fill": 9}', modelOnly: true },
      ).optional(),
    }).superRefine((s, ctx) => {
      const simple = s.length !== undefined || s.fill !== undefined || s.bufOffset !== undefined;
      if (s.iov !== undefined && simple) ctx.addIssue({ code: 'custom', message: 'give either "iov" or "length"+"fill"(+"bufOffset"), not both', path: ['iov'] });
      if (s.iov === undefined && (s.length === undefined || s.fill === undefined))
        ctx.addIssue({ code: 'custom', message: 'a pwrite needs "length" and "fill" (or "iov")', path: [s.length === undefined ? 'length' : 'fill'] });
      const total = s.iov !== undefined ? s.iov.reduce((n, v) => n + v.length, 0) : (s.length ?? 0);
      exactEnd(ctx, s.offset, total, 'offset');
      const st = s.storeDuringIo;
      if (st !== undefined && st.offset + st.length > total)
        ctx.addIssue({ code: 'custom', message: `the store must lie inside the write's ${total}-byte buffer (offset ${st.offset} + length ${st.length})`, path: ['storeDuringIo'] });
    }),
    object('pread', 'a pread step', { op: z.literal('pread'), fd, offset, length, bufOffset: bufOffset.optional(), flags: flagList(RWF_FLAGS, 'RWF', 'RWF_*', '["RWF_NOWAIT"]').optional() }),
    object('fsync', 'an fsync step', { op: z.literal('fsync'), fd }),
    object('fdatasync', 'an fdatasync step', { op: z.literal('fdatasync'), fd }),
    object('ftruncate', 'an ftruncate step', { op: z.literal('ftruncate'), fd, length: count }),
    object('fallocate', 'a fallocate step', {
      op: z.literal('fallocate'),
      fd,
      mode: field(z.union([flagList(FALLOC_FLAGS, 'FALLOC', 'FALLOC_FL_*', '["FALLOC_FL_PUNCH_HOLE", "FALLOC_FL_KEEP_SIZE"]'), z.literal(0)]), {
        expect: 'a list of FALLOC_FL_* names, [] for mode 0, such as ["FALLOC_FL_PUNCH_HOLE", "FALLOC_FL_KEEP_SIZE"]',
        kind: '[FALLOC_FL_*]',
      }),
      offset,
      length: count,
    }).superRefine((s, ctx) => exactEnd(ctx, s.offset, s.length, 'offset')),
    object('clone', 'a clone step', { op: z.literal('clone'), fd, src: fd, srcOffset: count, offset: count, length: count }).superRefine((s, ctx) => {
      exactEnd(ctx, s.srcOffset, s.length, 'srcOffset');
      exactEnd(ctx, s.offset, s.length, 'offset');
    }),
    object('mmap_write', 'an mmap_write step', { op: z.literal('mmap_write'), fd, offset: nonneg, length: whole(1, 1 << 30, 4096, 'a byte count: a whole number'), fill: byte }),
    object('statx', 'a statx step', { op: z.literal('statx'), fd, mask: flagList(STATX_FLAGS, 'STATX', 'STATX_*', '["STATX_BASIC_STATS", "STATX_DIOALIGN"]').optional() }),
    object('fiemap', 'a fiemap step', {
      op: z.literal('fiemap'),
      fd,
      length: length.optional(),
      /** Compare block placement too (relative physical addresses, scenario/placement.ts). */
      placement: bool.optional(),
    }),
    /** FS_IOC_SETFLAGS: the inode flags become exactly these ([] clears them); chattr +C is ["FS_NOCOW_FL"]. */
    object('setflags', 'a setflags step', { op: z.literal('setflags'), fd, flags: flagList(FS_FLAGS, 'FS_*_FL', 'FS_*_FL', '["FS_NOCOW_FL"]') }),
    object('sync', 'a sync step', { op: z.literal('sync') }),
    object('crash', 'a crash step', {
      op: z.literal('crash'),
      keep: CrashKeep.optional(),
      pattern: field(z.array(whole(0, 65535, 1)).max(64), { expect: 'a list of at most 64 whole numbers from 0 to 65535, such as [1, 0, 3]' }).optional(),
    }),
    object('remount', 'a remount step', { op: z.literal('remount') }),
    // Model-only steps (the kernel runner answers {"unsupported": op}).
    object('writeback', 'a writeback step', { op: z.literal('writeback'), fd, offset: nonneg.optional(), length: length.optional() }),
    object('complete', 'a complete step', { op: z.literal('complete'), bio: whole(1, Number.MAX_SAFE_INTEGER, 3, 'a bio id: a whole number').optional(), count: whole(1, 1 << 20, 1).optional() }),
    object('journal_commit', 'a journal_commit step', { op: z.literal('journal_commit') }),
    object('reclaim', 'a reclaim step', { op: z.literal('reclaim') }),
    object('device_error', 'a device_error step', { op: z.literal('device_error'), fd, offset: nonneg, length: whole(1, 2 ** 40, 4096, 'a byte count: a whole number') }),
  ] as const;

  /** The op names, in the schema's order. */
  const STEP_OPS: readonly string[] = STEPS.map((s) => s.shape.op.value);

  const EXAMPLE_STEP = '{"op": "open", "path": "f", "fd": "A", "flags": ["O_RDWR", "O_CREAT"]}';

  const StepSchema = z.discriminatedUnion('op', STEPS, {
    error: (iss) => {
      if (iss.code === 'invalid_union') {
        const input: unknown = iss.input;
        const op = input !== null && typeof input === 'object' && 'op' in input ? input.op : undefined;
        if (op === undefined) return `missing: every step has an "op", one of ${STEP_OPS.join(', ')}`;
        const guess = typeof op === 'string' ? closest(op, STEP_OPS) : undefined;
        return `unknown op ${shown(op).replace(/^the string /, '')} (${guess !== undefined ? `did you mean "${guess}"? ` : ''}the ops: ${STEP_OPS.join(', ')})`;
      }
      return expected(`a step: an object such as ${EXAMPLE_STEP}`)(iss);
    },
  });

  const ScenarioSchema = object('a scenario', 'a scenario: an object such as {"format": "iospec-scenario/1", "system": {"fs": NAME}, "steps": []}', {
    format: field(z.literal('iospec-scenario/1'), { expect: '"iospec-scenario/1" (the only format there is)' }),
    name: text(200).optional(),
    description: text(20000).optional(),
    system: SystemSchema,
    variant: field(z.record(z.string(), field(z.union([z.boolean(), z.number()]), { expect: 'true (on) or false (off)' })), { expect: 'design variants switched on: an object such as {"fsync-no-flush": true} (see `iospec variants`)' }).optional(),
    steps: field(z.array(StepSchema).max(1_000_000), { expect: `a list of steps such as [${EXAMPLE_STEP}]` }),
    violates: object('violates', 'the violation a counterexample records: an object such as {"invariant": "durability/fsync", "step": 5, "detail": "..."}', {
      invariant: field(z.string(), { expect: 'an invariant id such as "durability/fsync" (see `iospec invariants`)' }),
      step: nonneg,
      detail: field(z.string(), { expect: 'a string' }),
    }).optional(),
    /** Recorded by the checker: how to reproduce the run that found it. */
    seed: field(int, { expect: 'the checker\'s seed: a whole number such as 7' }).optional(),
    path: field(z.string(), { expect: 'fast-check\'s replay path: a string such as "12:3:0"' }).optional(),
    /** The kernel's answers recorded for this scenario (conformance corpus). */
    expect: field(z.array(z.record(z.string(), z.unknown())), { expect: 'a list of result objects such as [{"step": 1, "op": "open", "ret": 0}]' }).optional(),
    /** Free-form provenance recorded by tools (checker version, date, kernel). */
    meta: field(z.record(z.string(), z.unknown()), { expect: 'an object such as {"recordedOn": "Linux 6.18"}' }).optional(),
  });

  return { DeviceSchema, SystemSchema, StepSchema, ScenarioSchema, STEP_OPS };
}

type Schemas = ReturnType<typeof build>;
let built: Schemas | null = null;

/** The scenario format's schemas (zod), built once. */
export function schemas(): Schemas {
  return (built ??= build());
}

export type Step = z.infer<Schemas['StepSchema']>;
export type StepOp = Step['op'];
export type ScenarioDoc = z.infer<Schemas['ScenarioSchema']>;
export type SystemDoc = z.infer<Schemas['SystemSchema']>;

/**
 * Ops the real kernel cannot be asked to do; the kernel runner answers {"unsupported": op}.
 * (device_error runs on the kernel through the FUSE device under the loop device: kernel/runner.ts crashMethod.)
 */
export const MODEL_ONLY_OPS: ReadonlySet<StepOp> = new Set<StepOp>(['writeback', 'complete', 'journal_commit', 'reclaim']);

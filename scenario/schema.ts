/**
 * The scenario format `iospec-scenario/1` (../shared/spec/scenario-format.md)
 * as a schema.  Validation is done by zod so that every malformed file gets
 * one precise message naming the step and the field.
 */
import { z } from 'zod';
import { FALLOC_FLAGS, FS_FLAGS, OPEN_FLAGS, RWF_FLAGS, STATX_FLAGS } from '../model/vfs/fcntl.ts';

const int = z.number().int();
const nonneg = int.min(0);
const pow2 = (min: number, max: number) =>
  int.min(min).max(max).refine((v) => (v & (v - 1)) === 0, { message: 'must be a power of two' });

function flagList(table: Readonly<Record<string, number>>, what: string) {
  return z
    .array(z.string())
    .superRefine((names, ctx) => {
      for (const n of names) {
        if (!(n in table) && !/^0x[0-9a-fA-F]+$/.test(n)) ctx.addIssue({ code: 'custom', message: `unknown ${what} flag "${n}"` });
      }
    });
}

export const DeviceSchema = z
  .object({
    sizeMiB: int.min(16).max(1 << 22).optional(),
    logicalBlockSize: pow2(512, 4096).optional(),
    physicalBlockSize: pow2(512, 65536).optional(),
    dmaAlignment: int.min(0).max(4095).refine((v) => ((v + 1) & v) === 0, { message: 'must be a mask (2^n - 1), as /sys/block/*/queue/dma_alignment shows' }).optional(),
    maxSectorsKb: int.min(4).max(1 << 20).optional(),
    maxHwSectorsKb: int.min(4).max(1 << 20).optional(),
    maxSegments: int.min(1).max(65535).optional(),
    maxSegmentSize: int.min(4096).max(1 << 30).optional(),
    virtBoundary: int.min(0).max(65536).optional(),
    writeCache: z.boolean().optional(),
    fua: z.boolean().optional(),
    stableWrites: z.boolean().optional(),
    atomicWriteUnitMin: nonneg.optional(),
    atomicWriteUnitMax: nonneg.optional(),
    atomicWriteBoundary: nonneg.optional(),
    inlineCrypto: z
      .union([
        z.literal(false),
        z.object({ dataUnitSizes: z.array(pow2(512, 65536)).min(1), maxDunBytes: int.min(1).max(32).optional() }).strict(),
      ])
      .optional(),
    completion: z.enum(['explicit', 'step-end']).optional(),
  })
  .strict();

export const SystemSchema = z
  .object({
    /** A registered file system type (model/filesystems.ts); checked when the system is resolved. */
    fs: z.string().regex(/^[a-z0-9_-]+$/, 'a file system type name (see `iospec filesystems`)'),
    blockSize: pow2(1024, 65536).optional(),
    clusterSize: pow2(1024, 1 << 30).optional(),
    device: DeviceSchema.optional(),
    /** mkfs features; each file system type says which it takes. */
    features: z.array(z.string().regex(/^[a-z0-9_]+$/, 'feature names are words like "reflink"')).optional(),
    mount: z.array(z.string().regex(/^[a-z0-9_=,.-]+$/, 'mount options are words like "inlinecrypt"')).optional(),
    /** Model knob: the page cache folio size; 0 = the kernel's policy (sized by each write, up to 2 MiB). */
    folioSize: z.union([z.literal(0), pow2(4096, 2 * 1024 * 1024)]).optional(),
  })
  .strict();

const fd = z.string().min(1).max(32).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'fd names are identifiers like "A"');
const path = z
  .string()
  .min(1)
  .max(255)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.split('/').includes(''), {
    message: 'paths are relative to the mount, without "..", empty components or a leading "/"',
  });
const byte = int.min(0).max(255);
const offset = int.min(-(2 ** 53) + 1).max(2 ** 53 - 1);
const length = int.min(0).max(2 ** 40);

const IovSeg = z.object({ length, fill: byte, bufOffset: int.min(0).max(4095).optional() }).strict();

/** Crash choices: what of the not-yet-durable device writes survives. */
const CrashKeep = z.union([
  z.literal('all'),
  z.literal('none'),
  z.array(z.tuple([nonneg, nonneg, int.min(1)])),
]);

export const StepSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('open'), path, fd, flags: flagList(OPEN_FLAGS, 'open') }).strict(),
  z.object({ op: z.literal('close'), fd }).strict(),
  z.object({ op: z.literal('mkdir'), path }).strict(),
  z
    .object({
      op: z.literal('encrypt_dir'),
      path,
      key: z.string().min(1).max(128).optional(),
      log2DataUnitSize: int.min(0).max(16).optional(),
      flags: z.array(z.enum(['IV_INO_LBLK_64', 'IV_INO_LBLK_32', 'DIRECT_KEY'])).optional(),
    })
    .strict(),
  z
    .object({
      op: z.literal('pwrite'),
      fd,
      offset,
      length: length.optional(),
      fill: byte.optional(),
      bufOffset: int.min(0).max(4095).optional(),
      iov: z.array(IovSeg).min(1).max(1024).optional(),
      flags: flagList(RWF_FLAGS, 'RWF').optional(),
      /** Model only: another thread stores into the buffer (at this offset of it) while the write's I/O is in flight. */
      storeDuringIo: z.object({ offset: nonneg, length: int.min(1).max(1 << 30), fill: byte }).strict().optional(),
    })
    .strict()
    .superRefine((s, ctx) => {
      const simple = s.length !== undefined || s.fill !== undefined || s.bufOffset !== undefined;
      if (s.iov !== undefined && simple) ctx.addIssue({ code: 'custom', message: 'give either "iov" or "length"+"fill"(+"bufOffset"), not both', path: ['iov'] });
      if (s.iov === undefined && (s.length === undefined || s.fill === undefined))
        ctx.addIssue({ code: 'custom', message: 'a pwrite needs "length" and "fill" (or "iov")', path: [s.length === undefined ? 'length' : 'fill'] });
      const total = s.iov !== undefined ? s.iov.reduce((n, v) => n + v.length, 0) : (s.length ?? 0);
      const st = s.storeDuringIo;
      if (st !== undefined && st.offset + st.length > total)
        ctx.addIssue({ code: 'custom', message: `the store must lie inside the write's ${total}-byte buffer (offset ${st.offset} + length ${st.length})`, path: ['storeDuringIo'] });
    }),
  z.object({ op: z.literal('pread'), fd, offset, length, bufOffset: int.min(0).max(4095).optional(), flags: flagList(RWF_FLAGS, 'RWF').optional() }).strict(),
  z.object({ op: z.literal('fsync'), fd }).strict(),
  z.object({ op: z.literal('fdatasync'), fd }).strict(),
  z.object({ op: z.literal('ftruncate'), fd, length: offset }).strict(),
  z
    .object({ op: z.literal('fallocate'), fd, mode: z.union([flagList(FALLOC_FLAGS, 'FALLOC'), z.literal(0)]), offset, length: offset })
    .strict(),
  z.object({ op: z.literal('clone'), fd, src: fd, srcOffset: offset, offset, length: offset }).strict(),
  z.object({ op: z.literal('mmap_write'), fd, offset: nonneg, length: int.min(1).max(1 << 30), fill: byte }).strict(),
  z.object({ op: z.literal('statx'), fd, mask: flagList(STATX_FLAGS, 'STATX').optional() }).strict(),
  z.object({ op: z.literal('fiemap'), fd, length: length.optional() }).strict(),
  /** FS_IOC_SETFLAGS: the inode flags become exactly these ([] clears them); chattr +C is ["FS_NOCOW_FL"]. */
  z.object({ op: z.literal('setflags'), fd, flags: flagList(FS_FLAGS, 'FS_*_FL') }).strict(),
  z.object({ op: z.literal('sync') }).strict(),
  z.object({ op: z.literal('crash'), keep: CrashKeep.optional(), pattern: z.array(int.min(0).max(65535)).max(64).optional() }).strict(),
  z.object({ op: z.literal('remount') }).strict(),
  // Model-only steps (the kernel runner answers {"unsupported": op}).
  z.object({ op: z.literal('writeback'), fd, offset: nonneg.optional(), length: length.optional() }).strict(),
  z.object({ op: z.literal('complete'), bio: int.min(1).optional(), count: int.min(1).max(1 << 20).optional() }).strict(),
  z.object({ op: z.literal('journal_commit') }).strict(),
  z.object({ op: z.literal('reclaim') }).strict(),
  z.object({ op: z.literal('device_error'), fd, offset: nonneg, length: int.min(1).max(2 ** 40) }).strict(),
]);

export const ScenarioSchema = z
  .object({
    format: z.literal('iospec-scenario/1'),
    name: z.string().max(200).optional(),
    description: z.string().max(20000).optional(),
    system: SystemSchema,
    variant: z.record(z.string(), z.union([z.boolean(), z.number()])).optional(),
    steps: z.array(StepSchema).max(1_000_000),
    violates: z
      .object({ invariant: z.string(), step: int.min(0), detail: z.string() })
      .strict()
      .optional(),
    /** Recorded by the checker: how to reproduce the run that found it. */
    seed: int.optional(),
    path: z.string().optional(),
    /** The kernel's answers recorded for this scenario (conformance corpus). */
    expect: z.array(z.record(z.string(), z.unknown())).optional(),
    /** Free-form provenance recorded by tools (checker version, date, kernel). */
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type Step = z.infer<typeof StepSchema>;
export type StepOp = Step['op'];
export type ScenarioDoc = z.infer<typeof ScenarioSchema>;
export type SystemDoc = z.infer<typeof SystemSchema>;

/** Ops the real kernel cannot be asked to do; the kernel runner answers {"unsupported": op}. */
export const MODEL_ONLY_OPS: ReadonlySet<StepOp> = new Set<StepOp>(['writeback', 'complete', 'journal_commit', 'reclaim', 'device_error']);

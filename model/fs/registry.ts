/**
 * fs/filesystems.c: the registry of file system types.  Each file system
 * the model knows is one `FileSystemType` (the model's struct
 * file_system_type), defined in its own folder next to the code it
 * describes (model/ext4/super.ts: ext4_fs_type, model/xfs/xfs_super.ts:
 * xfs_fs_type, ...) and registered once (model/filesystems.ts).  Generic
 * code reaches a file system only through its entry here — its operation
 * tables, its geometry rules, how the tools generate, run and judge it —
 * and never by comparing its name.
 */
import type { FsConfig, FsOps } from './super.ts';
import type { Step } from '../../scenario/schema.ts';
import type { DeviceConfig } from '../block/blk-settings.ts';
import type { SystemHint, VariantName } from '../variants.ts';
import type { FsSystemPart, SystemDraw } from '../../checker/draw.ts';
import type { ExhaustiveScope } from '../../checker/exhaustive.ts';
import type { KnownFinding } from '../../checker/finding.ts';
import type { DiffTarget } from '../../kernel/diff-target.ts';
import type { Limitation } from '../../kernel/limitation.ts';

/** A configuration a file system refuses: the scenario field to blame and why (mkfs or mount would fail). */
export interface GeometryProblem {
  readonly field: string;
  readonly message: string;
}

/** What a scenario's system section resolves to for the file system's rules. */
export interface FsGeometry extends FsConfig {
  readonly device: DeviceConfig;
}

/**
 * How this machine's kernel is made to run the file system (the kernel
 * runner: kernel/runner.ts, kernel/workspace.ts, the C helper).
 */
export interface KernelFs {
  /** mkfs program and arguments for this geometry (the device is appended). */
  mkfs(g: FsGeometry): [string, string[]];
  /** Programs the runner needs, with the Debian package that has each. */
  readonly tools: ReadonlyArray<{ readonly cmd: string; readonly pkg: string }>;
  /**
   * How a `crash` step is made: `shutdown` is the shutdown ioctl
   * (XFS_IOC_GOINGDOWN / EXT4_IOC_SHUTDOWN, without a log flush); `image-copy`
   * copies the loop device's backing file at that moment and mounts the copy
   * at the next `remount` (for a file system without a shutdown ioctl).  Both
   * keep every write the loop device completed.
   */
  readonly crash: 'shutdown' | 'image-copy';
  /** Mount options the runner adds to the scenario's (a long commit interval where background commits would race the crash). */
  readonly mountOptions?: readonly string[];
  /**
   * Why the runner cannot fail the sectors of this scenario's `device_error`
   * steps on this file system, or null when it can: it finds them with
   * FIEMAP, so FIEMAP's physical addresses must be device offsets, and they
   * must show every block the file's data can be written to.
   */
  deviceErrorRefusal(steps: readonly Step[]): string | null;
}

/** The tools' side of a file system: generation, exhaustive scopes, the kernel, what is known about it. */
export interface FsHarness {
  /** Can the checker generate systems of this kind on this file system? (undefined: any system) */
  supports(hint: SystemHint | undefined): boolean;
  /** This file system's part of a generated system, from the common draw (checker/generate.ts). */
  generate(d: SystemDraw): FsSystemPart;
  /** The exhaustive small scopes on this file system (`check --exhaustive`). */
  readonly scopes: readonly ExhaustiveScope[];
  /** `iospec diff --fuzz --fs NAME` targets. */
  readonly diffTargets: readonly DiffTarget[];
  /** How the kernel runner makes it on this machine; null: the model only. */
  readonly kernel: KernelFs | null;
  /** Kernel bugs the model reproduces on this file system (counted by the checker, not reported as new). */
  readonly findings: readonly KnownFinding[];
  /** Known, explained differences between the model and this kernel on this file system. */
  readonly limitations: readonly Limitation[];
  /**
   * The variants whose changed code this file system runs: its own, and the
   * generic ones only some file systems reach (iomap copy-on-write, ...).
   * A variant is generated and checked on the file systems that list it;
   * one no file system lists changes code every file system runs.
   */
  readonly variants: readonly VariantName[];
}

export interface FileSystemType {
  /** struct file_system_type .name: what a scenario's `system.fs` says. */
  readonly name: string;
  /** One line: what is modelled. */
  readonly description: string;
  /** The operation tables (file, inode, address space, iomap hooks). */
  readonly ops: FsOps;
  /** The mkfs features a scenario's `system.features` may name, each with a line saying what it is. */
  readonly features: Readonly<Record<string, string>>;
  /**
   * mkfs defaults for features the scenario does not give (mkfs.xfs turns
   * reflink on unless told `noreflink`), and the cluster size
   * (ext4 bigalloc: 16 blocks).
   */
  mkfsDefaults(features: readonly string[], blockSize: number): { readonly features: string[]; readonly clusterSize: number };
  /** The geometry rules mkfs and mount enforce for this file system: the first one broken, or null. */
  checkGeometry(g: FsGeometry): GeometryProblem | null;
  /** Blocks at the start of the device that hold metadata (superblocks, inode tables, the log). */
  metadataBlocks(g: FsConfig, totalBlocks: number): number;
  /**
   * Blocks past those that a fresh file system also has in use (ext4: the
   * superblock backups, flex_bg tables, root directory and journal of
   * mke2fs), when they are not all at the start: where the allocator
   * finds free space depends on them.
   */
  mkfsUsed?(g: FsConfig, totalBlocks: number): ReadonlyArray<readonly [number, number]>;
  /** Blocks per allocation unit: EXT4_C2B(sbi, 1) with ext4 bigalloc, 1 elsewhere. */
  allocUnit(g: FsConfig): number;
  readonly harness: FsHarness;
}

const registry = new Map<string, FileSystemType>();

/** register_filesystem: a second type of the same name is a bug (-EBUSY in the kernel). */
export function register_filesystem(t: FileSystemType): void {
  if (registry.has(t.name)) throw new Error(`file system type ${t.name} is already registered`);
  registry.set(t.name, t);
}

/** unregister_filesystem (tests that register a type of their own). */
export function unregister_filesystem(name: string): void {
  registry.delete(name);
}

/** get_fs_type */
export function get_fs_type(name: string): FileSystemType | undefined {
  return registry.get(name);
}

/** Every registered type, in registration order. */
export function fs_types(): FileSystemType[] {
  return [...registry.values()];
}

/** The type a resolved configuration names (resolution already rejected unknown names). */
export function fsTypeOf(cfg: { readonly fs: string }): FileSystemType {
  const t = registry.get(cfg.fs);
  if (t === undefined) throw new Error(`model bug: file system type ${cfg.fs} is not registered`);
  return t;
}

/** For messages: "ext4, xfs or btrfs". */
export function fsNames(conj = 'or'): string {
  const names = [...registry.keys()];
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} ${conj} ${names[names.length - 1]}`;
}

/**
 * What the checker draws for a generated system (checker/generate.ts:
 * arbSystem), and what a file system type makes of it (its harness's
 * `generate`, model/fs/registry.ts).
 */

/** The common part of a generated system, drawn once per sequence. */
export interface SystemDraw {
  readonly blockSize: number;
  /** A 4 KiB logical block size device (with 4 KiB file system blocks). */
  readonly lbs4k: boolean;
  readonly folioSize: number;
  /** Encrypted files, where the file system can encrypt. */
  readonly encrypt: boolean;
  readonly writeCache: boolean;
  /** A small device (32 MiB), where the file system can be made that small. */
  readonly small: boolean;
  /** A device that needs stable pages. */
  readonly stable: boolean;
  /** An inline encryption engine and the segment limits that come with it (used with encryption only). */
  readonly inline: { readonly maxKb: number; readonly segs: number } | null;
  /** Blocks per cluster for a file system with clustered allocation (ext4 bigalloc); 0: none. */
  readonly bigalloc: number;
  /** Hardware atomic writes. */
  readonly atomic: { readonly max: number; readonly boundary: number; readonly virt: number; readonly maxKb: number } | null;
}

/** A file system's part of a generated system. */
export interface FsSystemPart {
  readonly sizeMiB: number;
  /** The block size, where the file system takes only one (btrfs: 4096). */
  readonly blockSize?: number;
  readonly features?: string[];
  readonly mount?: string[];
  readonly clusterSize?: number;
  /** Files are encrypted through the device's inline engine: the generated device gets one. */
  readonly inlineCrypto?: boolean;
}

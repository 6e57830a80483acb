/**
 * include/linux/iomap.h: mapping types, flags and the iomap iterator state.
 */

export type IomapType = 'hole' | 'delalloc' | 'mapped' | 'unwritten' | 'inline';

/** Flags a file system reports in iomap->flags. */
export const IOMAP_F_NEW = 1 << 0;
export const IOMAP_F_DIRTY = 1 << 1;
export const IOMAP_F_SHARED = 1 << 2;
export const IOMAP_F_MERGED = 1 << 3;
export const IOMAP_F_BUFFER_HEAD = 1 << 4;
export const IOMAP_F_XATTR = 1 << 5;
export const IOMAP_F_BOUNDARY = 1 << 6;
export const IOMAP_F_ANON_WRITE = 1 << 7;
export const IOMAP_F_ATOMIC_BIO = 1 << 8;
/** Flags the iomap core sets. */
export const IOMAP_F_SIZE_CHANGED = 1 << 14;
export const IOMAP_F_STALE = 1 << 15;

/** Operation flags passed to ->iomap_begin. */
export const IOMAP_WRITE = 1 << 0;
export const IOMAP_ZERO = 1 << 1;
export const IOMAP_REPORT = 1 << 2;
export const IOMAP_FAULT = 1 << 3;
export const IOMAP_DIRECT = 1 << 4;
export const IOMAP_NOWAIT = 1 << 5;
export const IOMAP_OVERWRITE_ONLY = 1 << 6;
export const IOMAP_UNSHARE = 1 << 7;
export const IOMAP_DAX = 1 << 8;
export const IOMAP_ATOMIC = 1 << 9;
export const IOMAP_DONTCACHE = 1 << 10;
/** RFC (seed 003): a buffered RWF_WRITETHROUGH write. */
export const IOMAP_WRITETHROUGH = 1 << 11;

/** IOMAP_NULL_ADDR */
export const IOMAP_NULL_ADDR = -1;

export interface Iomap {
  /** Device byte address of `offset`, or IOMAP_NULL_ADDR. */
  addr: number;
  /** File byte offset of the mapping. */
  offset: number;
  length: number;
  type: IomapType;
  flags: number;
}

export function iomapHole(offset: number, length: number, flags = 0): Iomap {
  return { addr: IOMAP_NULL_ADDR, offset, length, type: 'hole', flags };
}

export interface IomapPair {
  iomap: Iomap;
  /** The source map for read-modify-write; type 'hole' when there is none. */
  srcmap: Iomap;
}

/** struct iomap_ops */
export interface IomapOps {
  readonly name: string;
  /** ->iomap_begin: map [pos, pos+length); returns the mapping pair or -errno. */
  begin(pos: number, length: number, flags: number): IomapPair | number;
  /** ->iomap_end: `written` bytes of the mapping were processed. */
  end?(pos: number, length: number, written: number, flags: number, iomap: Iomap): number;
  /**
   * These ops stand for a ->write_begin under generic_perform_write (ext4's
   * buffered writes), which sizes each new folio from the bytes left to
   * copy; iomap_write_iter limits that to the current mapping.
   */
  readonly genericPerformWrite?: boolean;
}

/** iomap_sector: the device byte address of file byte `pos` inside a mapping. */
export function iomapAddr(iomap: Iomap, pos: number): number {
  return iomap.addr + (pos - iomap.offset);
}

/** iomap_iter_srcmap: the map to read from (srcmap unless it is a hole). */
export function iomap_iter_srcmap(p: IomapPair): Iomap {
  return p.srcmap.type !== 'hole' ? p.srcmap : p.iomap;
}

export function typeName(t: IomapType): string {
  return `IOMAP_${t.toUpperCase()}`;
}

const FLAG_NAMES: Array<[number, string]> = [
  [IOMAP_F_NEW, 'NEW'], [IOMAP_F_DIRTY, 'DIRTY'], [IOMAP_F_SHARED, 'SHARED'], [IOMAP_F_MERGED, 'MERGED'],
  [IOMAP_F_BUFFER_HEAD, 'BUFFER_HEAD'], [IOMAP_F_BOUNDARY, 'BOUNDARY'], [IOMAP_F_ATOMIC_BIO, 'ATOMIC_BIO'],
  [IOMAP_F_SIZE_CHANGED, 'SIZE_CHANGED'], [IOMAP_F_STALE, 'STALE'],
];

export function iomapFlagNames(flags: number): string[] {
  return FLAG_NAMES.filter(([b]) => (flags & b) !== 0).map(([, n]) => `IOMAP_F_${n}`);
}

/** A mapping pair as a reviewer reads it: "IOMAP_MAPPED [0+4096 @disk 81920] SHARED, srcmap IOMAP_MAPPED [...]". */
export function describeIomap(p: IomapPair): string {
  const one = (m: Iomap) => {
    const fl = iomapFlagNames(m.flags).map((f) => f.replace('IOMAP_F_', '')).join('|');
    return `${typeName(m.type)} [${m.offset}+${m.length}${m.addr >= 0 ? ` @disk ${m.addr}` : ''}]${fl !== '' ? ` ${fl}` : ''}`;
  };
  return p.srcmap.type === 'hole' ? one(p.iomap) : `${one(p.iomap)}, srcmap ${one(p.srcmap)}`;
}

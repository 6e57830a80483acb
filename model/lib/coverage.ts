/**
 * Coverage points: named places where the model's behaviour branches (a
 * mapping type met by an operation, a folio state transition, a bio in
 * flight at a crash, a block with a third owner, an error path, a fallback
 * to buffered I/O, a variant's changed code).  The model counts each time
 * it passes one; `iospec check` reports which were reached and which never
 * were (`--json` gives every count), and the generator prefers extending
 * sequences that passed a rare point (checker/check.ts: FeedbackArbitrary).
 *
 * Counting is one property increment on a preallocated record, cheap
 * enough for the hot paths; the counts are per process (the checker's
 * workers send theirs back with their report).
 */
import type { IomapType } from '../iomap/iomap.ts';

/** What an iomap iteration does (derived from the IOMAP_* flags it passes to ->iomap_begin). */
export const IOMAP_OPS = ['buffered write', 'direct write', 'atomic direct write', 'direct read', 'zeroing', 'unshare', 'page fault', 'writethrough'] as const;
export type IomapOpName = (typeof IOMAP_OPS)[number];
const IOMAP_TYPES: readonly IomapType[] = ['hole', 'delalloc', 'mapped', 'unwritten'];

/**
 * Operation x mapping type that cannot occur, whatever the sequence: a
 * write's ->iomap_begin allocates or reserves, so it never answers a hole
 * (xfs_buffered_write_iomap_begin reserves delalloc, ext4_iomap_alloc and
 * xfs_direct_write_iomap_begin allocate); direct I/O writes back the page
 * cache of its range first (iomap_dio_rw: filemap_write_and_wait_range),
 * so it never meets delalloc.  Listing them would leave points no run can
 * reach.
 */
const IMPOSSIBLE: ReadonlySet<string> = new Set([
  'iomap: buffered write over hole',
  'iomap: page fault over hole',
  'iomap: direct write over hole',
  'iomap: atomic direct write over hole',
  'iomap: direct write over delalloc',
  'iomap: atomic direct write over delalloc',
  'iomap: direct read over delalloc',
]);

/**
 * Operation x mapping type, and for the operations that write, a shared
 * block (a COW source map).  No modelled file system reports an inline
 * mapping through iomap (btrfs reads its inline extents itself), and
 * FIEMAP is answered from the extent maps without iterating (model/fs/fiemap.ts).
 */
function iomapPoints(): string[] {
  const out: string[] = [];
  for (const op of IOMAP_OPS) {
    for (const t of IOMAP_TYPES) out.push(`iomap: ${op} over ${t}`);
    if (op !== 'direct read') out.push(`iomap: ${op} over a shared block (COW)`);
  }
  return out.filter((p) => !IMPOSSIBLE.has(p));
}

/** Every declared point, with what it means. */
const STATIC_POINTS: Readonly<Record<string, string>> = {
  'folio: clean -> dirty': 'a clean folio made dirty (filemap_dirty_folio, iomap_dirty_folio)',
  'folio: dirty -> clean': 'a dirty folio cleaned (folio_clear_dirty_for_io, truncate, invalidate)',
  'folio: writeback start': 'folio_start_writeback',
  'folio: writeback end': 'folio_end_writeback',
  'folio: dirtied under writeback': 'a folio dirtied again while its writeback is in flight',
  'crash: write in flight': 'the power failed with a write bio the device had not completed',
  'crash: write in the device cache': 'the power failed with a completed write still in the volatile cache',
  'crash: pending write kept whole': 'a crash kept the whole of a write that was not yet durable',
  'crash: pending write lost': 'a crash lost the whole of a write that was not yet durable',
  'crash: part of a pending write kept': 'a crash kept some sectors of a write and lost others (a torn write)',
  'crash: atomic write pending': 'the power failed with an atomic (REQ_ATOMIC) write not yet durable',
  'block: third owner': 'a block gained a third owner (xfs_refcount_increase_extent, btrfs extent refs)',
  'bio: write failed': 'a write bio completed with an error (a bad range, or protection information)',
  'bio: read failed': 'a read bio completed with an error',
  'bio: split': 'a bio split to the queue limits (bio_split_rw, bio_split_rw_at)',
  'writeback: error recorded': 'a writeback error recorded on the mapping (mapping_set_error)',
  'fsync: reported a writeback error': 'fsync or fdatasync returned an error recorded by writeback (file_check_and_advance_wb_err)',
  'alloc: ENOSPC': 'a call failed with -ENOSPC (no space left for it)',
  'dio: write fell back to buffered': 'the file system wrote (part of) a direct write through the page cache: ext4_dio_write_iter, xfs_file_write_iter, btrfs_direct_write (counted once, where the fallback is taken)',
  'rw: EAGAIN': 'a read or write answered -EAGAIN (RWF_NOWAIT would have blocked, or an atomic write could not drop the page cache)',
};

/** Points for each variant: the model consulted its knob (the code the variant changes ran). */
let variantPoints: readonly string[] = [];

const counts: Record<string, number> = Object.create(null) as Record<string, number>;
let declared: readonly string[] = [];
/** Passes through a rare point since the last reset (the generator's feedback): see cover. */
let fresh = 0;

function declare(): void {
  declared = [...iomapPoints(), ...Object.keys(STATIC_POINTS), ...variantPoints];
  for (const p of declared) if (!(p in counts)) counts[p] = 0;
}
declare();

/** Called once by model/variants.ts with every declared variant's name; returns their points, in order. */
export function declareVariantPoints(names: readonly string[]): readonly string[] {
  variantPoints = names.map((n) => `variant: ${n}`);
  declare();
  return variantPoints;
}

/** Count one pass through a point (a name from the declared list). */
export function cover(point: string): void {
  const c = counts[point];
  if (c === undefined) throw new Error(`coverage point not declared in model/lib/coverage.ts: ${point}`);
  counts[point] = c + 1;
  // A rare point: reached for the 1st, 2nd, 4th, 8th or 16th time.
  if (c < 16 && (c & (c + 1)) === 0) fresh++;
}

/** The point of an iomap iteration's mapping. */
export function coverIomap(op: IomapOpName, type: IomapType, shared: boolean): void {
  const p = shared ? `iomap: ${op} over a shared block (COW)` : `iomap: ${op} over ${type}`;
  // An IMPOSSIBLE pair (a variant may make one happen) or an inline mapping has no point.
  if (counts[p] !== undefined) cover(p);
}

/** Every declared point and its count since the last reset. */
export function coverageCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of declared) out[p] = counts[p] ?? 0;
  return out;
}

/** Passes through a still rare point since the last reset (grows only). */
export function freshPoints(): number {
  return fresh;
}

/** Start counting afresh (a new check run). */
export function resetCoverage(): void {
  for (const p of Object.keys(counts)) counts[p] = 0;
  fresh = 0;
}

/** What a declared point means (for the README and --json). */
export function describePoint(point: string): string {
  if (point.startsWith('iomap: ')) return 'an iomap iteration of this operation met a mapping of this type (iomap_iter -> ->iomap_begin)';
  if (point.startsWith('variant: ')) return 'the code the variant changes ran (the model consulted its knob)';
  return STATIC_POINTS[point] ?? '';
}

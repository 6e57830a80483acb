/**
 * A replayed scenario as a picture: a self-contained HTML page (inline CSS,
 * no scripts, no external files) that draws, after each step, every file
 * that changed as a grid of its blocks.
 *
 *   data   one cell per file block, coloured by the write whose bytes a read
 *          would return (the page cache where the block is up to date, else
 *          the disk through the block map; zeroes over a hole or an
 *          unwritten extent).  The model knows this exactly: every byte
 *          carries the id of the user buffer (source) it was copied from,
 *          and each source knows its step, fill byte and file position.
 *          The cell's border and corner letter give the block map:
 *          written, u unwritten, d delayed, S shared, hole.
 *   cache  the page cache: dirty, under writeback, up to date, cached but
 *          not up to date, not cached.
 *   disk   what the device returns for the block the map points at (its
 *          volatile write cache over the medium), striped where that is not
 *          durable yet (a crash may lose it).
 *   cow    XFS/btrfs staging blocks of the COW fork.
 *   bios   one mark per bio under the blocks it covers, on its own line when
 *          bios overlap; journal and flush bios are listed as a note.
 *
 * A crash is a horizontal line with what it kept of the writes in flight or
 * in the device cache, per file block; the violating step and the byte range
 * the violation names are outlined in red.  The text trace follows the
 * picture, unchanged.
 */
import { match } from 'ts-pattern';
import type { Span } from '../model/lib/content.ts';
import { SRC_GARBAGE, SRC_USERBUF, SRC_ZERO, concatData, dataEqual, dataLen, sliceData, zeroData } from '../model/lib/content.ts';
import type { Source } from '../model/lib/sources.ts';
import type { Bio } from '../model/block/bio.ts';
import { REQ_ATOMIC, REQ_FUA, REQ_PREFLUSH } from '../model/block/bio.ts';
import { SECTOR_SIZE } from '../model/block/blk-settings.ts';
import type { CrashReport } from '../model/block/disk.ts';
import type { ExtentMap } from '../model/fs/extent.ts';
import type { Inode } from '../model/fs/inode.ts';
import { System } from '../model/system.ts';
import type { StepResult } from '../model/system.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { Step } from '../scenario/schema.ts';
import { findInvariant } from '../properties/index.ts';
import type { Violation } from './execute.ts';
import type { ReplayReport } from './replay.ts';
import { describeResult, describeStep } from './replay.ts';
import { blockUptodate, cacheKind, extentBlocks } from './trace.ts';
import type { CacheKind } from './trace.ts';

// ---- the structured snapshot ----------------------------------------------

export type MapKind = 'written' | 'unwritten' | 'delayed' | 'shared' | 'hole';

/** A run of bytes of one source inside a block (adjacent spans of one source merged). */
export interface Piece {
  readonly src: number;
  readonly len: number;
  readonly val: number;
  /** Ciphertext (tagged with a key and DUN). */
  readonly enc: boolean;
}

export interface BlockCell {
  readonly map: MapKind;
  /** What a read returns: the cache where the block is up to date, else the disk through the map. */
  readonly data: readonly Piece[];
  /** Some of `data` holds bytes of a write that put them at another file position (or in another file): a clone, or a misplaced write. */
  readonly moved: boolean;
  readonly cache: CacheKind;
  /** What the device returns for the block the map points at; null: no block (hole, delayed). */
  readonly disk: readonly Piece[] | null;
  /** The device's bytes there are not durable yet (in its volatile write cache). */
  readonly volatile: boolean;
  /** An encrypted file's block that the device holds in plaintext. */
  readonly plaintext: boolean;
  /** A COW-fork staging block (XFS, btrfs). */
  readonly cow: boolean;
  /** Wholly past EOF. */
  readonly pastEof: boolean;
}

export interface BioMark {
  readonly id: number;
  readonly op: Bio['op'];
  readonly kind: Bio['origin']['kind'];
  readonly flags: readonly string[];
  /** File blocks [from, to). */
  readonly from: number;
  readonly to: number;
  /** File bytes [pos, pos+size). */
  readonly pos: number;
  readonly size: number;
  readonly sector: number;
  /** Split off the front of another bio. */
  readonly split: boolean;
  /** Completed within the step. */
  readonly done: boolean;
  /** Queued by an earlier step, completed in this one. */
  readonly earlier: boolean;
  readonly failed: boolean;
  readonly text: string;
}

export interface FileGrid {
  readonly path: string;
  readonly ino: number;
  readonly size: number;
  readonly disksize: number;
  readonly blockSize: number;
  /** Blocks worth drawing (up to the last extent, cached folio or EOF). */
  readonly nblocks: number;
  /**
   * The blocks as runs [start, end) of one cell: a stretch with no extent,
   * no COW staging and no folio is one run, every other block its own.
   * They cover [0, drawnTo): past it, blocks not computed (a huge file).
   */
  readonly runs: readonly CellRun[];
  readonly drawnTo: number;
  readonly phys: string;
  /** Cached folios: [file byte position, size]. */
  readonly folios: ReadonlyArray<readonly [number, number]>;
  readonly forks: readonly string[];
  readonly encrypted: boolean;
  readonly bios: readonly BioMark[];
  /** Its state differs from the last time it was drawn (or it was never drawn). */
  readonly changed: boolean;
}

export interface CellRun {
  readonly start: number;
  readonly end: number;
  readonly cell: BlockCell;
}

export type CrashBlock = 'kept' | 'lost' | 'partial';

export interface CrashPicture {
  readonly pending: number;
  /** Per file, the blocks a pending write covered (ascending) and what the crash kept of it there. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly ino: number; readonly blocks: ReadonlyArray<readonly [number, CrashBlock]> }>;
  /** Pending writes that are not file data (the journal) or whose file is unknown. */
  readonly notes: readonly string[];
}

export interface GridStep {
  readonly n: number;
  readonly step: Step;
  readonly files: readonly FileGrid[];
  /** Journal and flush bios, bios of files not drawn. */
  readonly notes: readonly string[];
  readonly crash: CrashPicture | null;
  /** The file system is down (after a crash, before the remount): nothing in memory to draw. */
  readonly down: boolean;
  readonly error: string | null;
}

export interface GridRun {
  readonly steps: readonly GridStep[];
  readonly sources: readonly Source[];
}

/** Block cells computed per file per step at most (a file of millions of written blocks is drawn by its first ones). */
const MAX_BLOCKS = 4096;

function flagNames(b: Bio): string[] {
  const f: string[] = [];
  if ((b.opf & REQ_ATOMIC) !== 0) f.push('ATOMIC');
  if ((b.opf & REQ_FUA) !== 0) f.push('FUA');
  if ((b.opf & REQ_PREFLUSH) !== 0) f.push('PREFLUSH');
  return f;
}

function describeBio(b: Bio): string {
  const where = b.origin.kind === 'journal' || b.origin.kind === 'flush' ? b.origin.kind : `${b.origin.kind} ino ${b.origin.ino} pos ${b.origin.pos + b.relOff}`;
  const crypt = b.crypt === null ? '' : ` dun ${b.crypt.dun} du ${b.crypt.dataUnitSize}`;
  const f = flagNames(b);
  return `#${b.id} ${b.op} sector ${b.sector} +${b.size / SECTOR_SIZE}${f.length > 0 ? ` [${f.join('|')}]` : ''} (${where})${crypt}`;
}

function isFileBio(b: Bio): boolean {
  return b.op !== 'flush' && b.origin.kind !== 'journal' && b.origin.kind !== 'flush';
}

function toPieces(d: readonly Span[]): Piece[] {
  const out: Piece[] = [];
  for (const s of d) {
    const last = out[out.length - 1];
    const enc = s.enc !== null;
    if (last !== undefined && last.src === s.src && last.val === s.val && last.enc === enc) out[out.length - 1] = { ...last, len: last.len + s.len };
    else out.push({ src: s.src, len: s.len, val: s.val, enc });
  }
  return out;
}


/** The state of the blocks of one file, as runs (a stretch with nothing in it is one run). */
function fileRuns(sys: System, inode: Inode, n: number): { runs: CellRun[]; drawnTo: number } {
  const bs = inode.blockSize;
  const inline = inode.sb.ops.inline_data?.(inode) ?? null;
  const forks = inode.sb.ops.extra_forks?.(inode) ?? [];
  const folios = inode.mapping.allFolios();
  const eof = Math.ceil(inode.i_size / bs);
  const runs: CellRun[] = [];
  let b = 0;
  let fi = 0;
  while (b < n && runs.length < MAX_BLOCKS) {
    while (fi < folios.length && folios[fi]!.end <= b * bs) fi++;
    const folio = folios[fi];
    const inFolio = folio !== undefined && folio.pos < (b + 1) * bs;
    const empty = inode.extents.find(b) === undefined && forks.every((k) => k.map.find(b) === undefined) && !inFolio && !(b === 0 && inline !== null);
    let end = b + 1;
    if (empty) {
      // Up to the next extent of any fork, the next folio, or EOF.
      end = n;
      const nx = inode.extents.next(b);
      if (nx !== undefined) end = Math.min(end, nx.start);
      for (const k of forks) {
        const fx = k.map.next(b);
        if (fx !== undefined) end = Math.min(end, fx.start);
      }
      if (folio !== undefined) end = Math.min(end, Math.floor(folio.pos / bs));
      if (b < eof) end = Math.min(end, eof);
      end = Math.max(end, b + 1);
    }
    runs.push({ start: b, end, cell: blockCell(sys, inode, b, inline, forks) });
    b = end;
  }
  return { runs, drawnTo: b };
}

/** The state of one block. */
function blockCell(sys: System, inode: Inode, b: number, inline: readonly Span[] | null, forks: ReadonlyArray<{ readonly map: ExtentMap }>): BlockCell {
  const bs = inode.blockSize;
  {
    const pos = b * bs;
    const e = inode.extents.find(b);
    const pblk = e !== undefined && e.v.pblk >= 0 ? e.v.pblk + (b - e.start) : -1;
    const map: MapKind = e === undefined ? 'hole' : match(e.v.type)
      .with('delalloc', (): MapKind => 'delayed')
      .with('unwritten', (): MapKind => 'unwritten')
      .with('mapped', (): MapKind => (inode.sb.isShared(pblk) ? 'shared' : 'written'))
      .exhaustive();
    // What the device holds for this block.
    let dev: Span[] | null = null;
    let volatile = false;
    if (b === 0 && inline !== null) {
      dev = concatData(inline, zeroData(Math.max(0, bs - dataLen(inline))));
    } else if (pblk >= 0) {
      dev = sys.disk.read(pblk * bs, bs);
      volatile = !dataEqual(dev, sys.disk.readDurable(pblk * bs, bs));
    }
    // What a read returns: the cache where up to date, else the disk through the map.
    const f = inode.mapping.folioAt(pos);
    let data: Span[];
    if (f !== undefined && blockUptodate(f, pos, bs)) {
      data = sliceData(f.data, pos - f.pos, Math.min(bs, f.end - pos));
    } else if (dev !== null && (map === 'written' || map === 'shared' || (b === 0 && inline !== null))) {
      data = dev;
    } else {
      data = zeroData(bs);
    }
    let moved = false;
    let at = pos;
    for (const s of data) {
      const src = s.src > 0 ? sys.sources.get(s.src) : undefined;
      if (src !== undefined && (src.ino !== inode.ino || src.pos + s.off !== at)) moved = true;
      at += s.len;
    }
    const plaintext = inode.crypt !== null && dev !== null && dev.some((s) => s.src > 0 && s.enc === null);
    return {
      map,
      data: toPieces(data),
      moved,
      cache: cacheKind(inode, b),
      disk: dev === null ? null : toPieces(dev),
      volatile,
      plaintext,
      cow: forks.some((k) => k.map.find(b) !== undefined),
      pastEof: pos >= inode.i_size,
    };
  }
}

function physText(inode: Inode): string {
  const phys = inode.extents.entries().filter((e) => e.v.pblk >= 0).map((e) => `${e.start}${e.end - e.start > 1 ? `-${e.end - 1}` : ''}@${e.v.pblk}`);
  return phys.length === 0 ? '' : `${phys.slice(0, 8).join(' ')}${phys.length > 8 ? ` (+${phys.length - 8})` : ''}`;
}

function bioMark(b: Bio, bs: number, done: boolean, earlier: boolean): BioMark {
  const pos = b.origin.pos + b.relOff;
  return {
    id: b.id,
    op: b.op,
    kind: b.origin.kind,
    flags: flagNames(b),
    from: Math.floor(pos / bs),
    to: Math.max(Math.floor(pos / bs) + 1, Math.ceil((pos + b.size) / bs)),
    pos,
    size: b.size,
    sector: b.sector,
    split: b.splitFrom !== null,
    done,
    earlier,
    failed: b.status !== 0,
    text: describeBio(b),
  };
}

/** What a crash kept of each pending write, per file block. */
function crashPicture(rep: CrashReport, bios: ReadonlyMap<number, Bio>, names: ReadonlyMap<number, string>, bs: number): CrashPicture {
  const perFile = new Map<number, Map<number, { total: number; kept: number }>>();
  const notes: string[] = [];
  rep.pending.forEach((p) => {
    const kept = rep.kept.filter((k) => k[0] === p.i);
    const keptSectors = kept.reduce((a, k) => a + k[2], 0);
    const bio = bios.get(p.bio);
    const fate = keptSectors === 0 ? 'lost' : keptSectors >= p.sectors ? 'kept' : `${keptSectors} of ${p.sectors} sectors kept`;
    if (bio === undefined || !isFileBio(bio) || !names.has(p.origin.ino)) {
      notes.push(`${p.state === 'inflight' ? 'in flight' : 'in the device cache'}: #${p.bio} ${p.origin.kind} write, sector ${p.sector} +${p.sectors}${p.atomic ? ' [ATOMIC]' : ''} — ${fate}`);
      return;
    }
    let m = perFile.get(p.origin.ino);
    if (m === undefined) {
      m = new Map();
      perFile.set(p.origin.ino, m);
    }
    const base = bio.origin.pos + bio.relOff;
    for (let s = 0; s < p.sectors; s++) {
      const sector = p.sector + s;
      const blk = Math.floor((base + (sector - bio.sector) * SECTOR_SIZE) / bs);
      const c = m.get(blk) ?? { total: 0, kept: 0 };
      c.total++;
      if (kept.some((k) => sector >= k[1] && sector < k[1] + k[2])) c.kept++;
      m.set(blk, c);
    }
  });
  const files = [...perFile].map(([ino, m]) => {
    const blocks = [...m]
      .sort((a, b) => a[0] - b[0])
      .slice(0, MAX_BLOCKS)
      .map(([b, c]): [number, CrashBlock] => [b, c.kept === 0 ? 'lost' : c.kept === c.total ? 'kept' : 'partial']);
    return { path: names.get(ino) ?? `inode ${ino}`, ino, blocks };
  });
  return { pending: rep.pending.length, files, notes };
}

/**
 * Run the steps on a recording model and take, after each, the state of
 * every regular file block by block (see the file comment), the bios the
 * step sent or completed, and what a crash kept.
 */
export function gridSteps(sc: LoadedScenario, steps: readonly Step[]): GridRun {
  const sys = new System(sc.system, sc.knobs, { recording: true });
  const before = new Map<number, string>();
  const bios = new Map<number, Bio>();
  const out: GridStep[] = [];
  steps.forEach((step, i) => {
    const n = i + 1;
    if (step.op === 'remount' || step.op === 'crash') before.clear();
    const names = new Map<number, string>();
    for (const [p, ino] of sys.sb.names) names.set(ino, p);
    let crashReport: CrashReport | null = null;
    try {
      crashReport = sys.exec(step, n).crashReport;
    } catch (e) {
      out.push({ n, step, files: [], notes: [], crash: null, down: sys.crashed, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    for (const [p, ino] of sys.sb.names) names.set(ino, p);
    // The step's bios, per file; the rest as notes.
    const queued: Bio[] = [];
    const completed = new Set<number>();
    const completedBios: Bio[] = [];
    for (const e of sys.events) {
      if (e.t === 'bio-queue') {
        bios.set(e.bio.id, e.bio);
        queued.push(e.bio);
      } else if (e.t === 'bio-complete') {
        completed.add(e.bio.id);
        completedBios.push(e.bio);
      }
    }
    const queuedIds = new Set(queued.map((b) => b.id));
    const notes: string[] = [];
    const fileBios = new Map<number, BioMark[]>();
    const bs = sc.system.blockSize;
    const add = (b: Bio, earlier: boolean): void => {
      if (!isFileBio(b) || !names.has(b.origin.ino)) {
        if (b.op !== 'flush' || (b.opf & REQ_PREFLUSH) !== 0 || b.origin.kind === 'flush') notes.push(`${describeBio(b)}${completed.has(b.id) ? ', done' : ', in flight'}`);
        return;
      }
      const l = fileBios.get(b.origin.ino) ?? [];
      l.push(bioMark(b, bs, completed.has(b.id), earlier));
      fileBios.set(b.origin.ino, l);
    };
    for (const b of queued) add(b, false);
    for (const b of completedBios) if (!queuedIds.has(b.id) && isFileBio(b)) add(b, true);
    const crash = crashReport === null ? null : crashPicture(crashReport, bios, names, bs);
    const files: FileGrid[] = [];
    // After a crash the in-memory state is gone: the remount shows what recovery left.
    if (!sys.crashed) {
      for (const inode of sys.sb.inodes.values()) {
        if (inode.kind !== 'reg') continue;
        const nb = extentBlocks(inode);
        const { runs, drawnTo } = fileRuns(sys, inode, nb);
        const g = {
          path: names.get(inode.ino) ?? `inode ${inode.ino}`,
          ino: inode.ino,
          size: inode.i_size,
          disksize: inode.disksize,
          blockSize: inode.blockSize,
          nblocks: nb,
          runs,
          drawnTo,
          phys: physText(inode),
          folios: inode.mapping.allFolios().map((f): [number, number] => [f.pos, f.size]),
          forks: (inode.sb.ops.extra_forks?.(inode) ?? []).filter((f) => !f.map.isEmpty()).map((f) => f.name),
          encrypted: inode.crypt !== null,
        };
        const key = JSON.stringify(g);
        const changed = before.get(inode.ino) !== key;
        before.set(inode.ino, key);
        files.push({ ...g, bios: fileBios.get(inode.ino) ?? [], changed });
      }
    } else {
      for (const [ino, l] of fileBios) for (const b of l) notes.push(`${names.get(ino) ?? `inode ${ino}`}: ${b.text}`);
    }
    out.push({ n, step, files, notes, crash, down: sys.crashed, error: null });
  });
  const sources: Source[] = [];
  for (let id = 1; id <= sys.sources.count; id++) {
    const s = sys.sources.get(id);
    if (s !== undefined) sources.push(s);
  }
  return { steps: out, sources };
}

// ---- where a violation is ---------------------------------------------------

/** A file range a violation names: bytes [from, to) of the file (null: the whole file). */
export interface ViolationTarget {
  readonly ino: number;
  readonly from: number | null;
  readonly to: number | null;
}

/** The path an fd names at step `n` (the last open of it before). */
function fdPath(steps: readonly Step[], fd: string, n: number): string | null {
  let p: string | null = null;
  for (let i = 0; i < n - 1 && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'open' && s.fd === fd) p = s.path;
  }
  return p;
}

/**
 * The file range a violation's detail names, read conservatively from the
 * text the checker wrote (the checker gives no structured range): only
 * the phrasings below, and only for files drawn at that step.  When a file
 * is named but no range, the whole file; when nothing is recognised, none.
 */
export function violationTargets(detail: string, gs: GridStep, steps: readonly Step[]): ViolationTarget[] {
  const byPath = new Map(gs.files.map((f) => [f.path, f]));
  const byIno = new Map(gs.files.map((f) => [f.ino, f]));
  const bs = gs.files[0]?.blockSize ?? 4096;
  const onPath = (p: string | undefined, from: number, to: number): ViolationTarget[] => {
    const f = p === undefined ? undefined : byPath.get(p);
    return f === undefined ? [] : [{ ino: f.ino, from, to }];
  };
  const onIno = (ino: number, from: number, to: number): ViolationTarget[] => (byIno.has(ino) ? [{ ino, from, to }] : []);
  const num = (s: string | undefined): number => Number(s ?? 'NaN');
  let m: RegExpExecArray | null;
  // "bytes 0..4096 of f read as ..."
  if ((m = /\bbytes (\d+)\.\.(\d+) of (\S+?)[,:]? (?:read|returned)\b/.exec(detail)) !== null) return onPath(m[3], num(m[1]), num(m[2]));
  // "read of f returned ... at file offset 4096 (4096 bytes)"
  if ((m = /\bread of (\S+) returned .* at file offset (\d+) \((\d+) bytes\)/.exec(detail)) !== null) return onPath(m[1], num(m[2]), num(m[2]) + num(m[3]));
  // "read of 8704 bytes at 0 of f returned 4096 bytes"
  if ((m = /\bread of (\d+) bytes at (\d+) of (\S+) returned\b/.exec(detail)) !== null) return onPath(m[3], num(m[2]), num(m[2]) + num(m[1]));
  // "a read of f (4096 bytes at 0) failed"
  if ((m = /\bread of (\S+) \((\d+) bytes at (\d+)\)/.exec(detail)) !== null) return onPath(m[1], num(m[3]), num(m[3]) + num(m[2]));
  // "the RWF_ATOMIC write of step 3 (8192 bytes at 0)"
  if ((m = /\bwrite of step (\d+) \((\d+) bytes at (\d+)\)/.exec(detail)) !== null) {
    const s = steps[num(m[1]) - 1];
    const p = s !== undefined && s.op === 'pwrite' ? fdPath(steps, s.fd, num(m[1])) : null;
    return onPath(p ?? undefined, num(m[3]), num(m[3]) + num(m[2]));
  }
  // "file blocks 2..3 of inode 11"
  if ((m = /\bfile blocks (\d+)\.\.(\d+) of inode (\d+)/.exec(detail)) !== null) return onIno(num(m[3]), num(m[1]) * bs, (num(m[2]) + 1) * bs);
  // "mapped by inode 11 block 0", "while inode 11 block 0 still references it"
  if ((m = /\binode (\d+) block (\d+)\b/.exec(detail)) !== null) return onIno(num(m[1]), num(m[2]) * bs, (num(m[2]) + 1) * bs);
  // "the folio at 0 of inode 11 is clean, but its block at 4096 ..."
  if ((m = /\bfolio at (\d+) of inode (\d+).*\bits block at (\d+)/.exec(detail)) !== null) return onIno(num(m[2]), num(m[3]), num(m[3]) + bs);
  if ((m = /\bfolio at (\d+) of inode (\d+)/.exec(detail)) !== null) {
    const pos = num(m[1]);
    const size = byIno.get(num(m[2]))?.folios.find((f) => f[0] === pos)?.[1] ?? bs;
    return onIno(num(m[2]), pos, pos + size);
  }
  // "fsync of f through fd A returned 0, but writeback of bytes 0..4096 failed"
  if ((m = /\b(?:of|to) (\S+) through fd \S+ .*\bwriteback of bytes (\d+)\.\.(\d+)/.exec(detail)) !== null) return onPath(m[1], num(m[2]), num(m[3]));
  // "a dio bio of 4096 bytes for file byte 0 of encrypted inode 12"
  if ((m = /\bof (\d+) bytes for file byte (\d+) of (?:encrypted )?inode (\d+)/.exec(detail)) !== null) return onIno(num(m[3]), num(m[2]), num(m[2]) + num(m[1]));
  // "a bio of inode 12 (file byte 0, 65536 bytes)"
  if ((m = /\binode (\d+) \(file byte (\d+), (\d+) bytes\)/.exec(detail)) !== null) return onIno(num(m[1]), num(m[2]), num(m[2]) + num(m[3]));
  // "the bio for file byte 8192 of inode 12"
  if ((m = /\bfile byte (\d+) of (?:encrypted )?inode (\d+)/.exec(detail)) !== null) return onIno(num(m[2]), num(m[1]), num(m[1]) + bs);
  // A bio named by id, or by where it starts on the device: the file range it covers.
  const bioAt = (pred: (b: BioMark) => boolean): ViolationTarget[] => {
    for (const f of gs.files) for (const b of f.bios) if (pred(b)) return [{ ino: f.ino, from: b.pos, to: b.pos + b.size }];
    return [];
  };
  if ((m = /\bbio (\d+) \(/.exec(detail)) !== null) {
    const id = num(m[1]);
    return bioAt((b) => b.id === id);
  }
  if ((m = /\bbio (?:of \d+ bytes )?(?:at sector (\d+)|starts at device byte (\d+))/.exec(detail)) !== null) {
    const sector = m[1] !== undefined ? num(m[1]) : num(m[2]) / SECTOR_SIZE;
    return bioAt((b) => b.sector === sector);
  }
  // A file named without a range.
  if ((m = /\binode (\d+)\b/.exec(detail)) !== null) return onIno(num(m[1]), 0, 0).map((t) => ({ ...t, from: null, to: null }));
  for (const f of gs.files) {
    if (f.path.startsWith('inode ')) continue;
    if (new RegExp(`\\bof ${f.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(detail)) return [{ ino: f.ino, from: null, to: null }];
  }
  return [];
}

/** The file range the step itself works on (an fd and a byte range), when it has one. */
export function stepTarget(gs: GridStep, steps: readonly Step[]): ViolationTarget[] {
  const s = gs.step;
  const range = match(s)
    .with({ op: 'pwrite' }, (x) => ({ fd: x.fd, off: x.offset, len: (x.iov ?? [{ length: x.length ?? 0 }]).reduce((a, v) => a + v.length, 0) }))
    .with({ op: 'pread' }, { op: 'fallocate' }, { op: 'mmap_write' }, (x) => ({ fd: x.fd, off: x.offset, len: x.length }))
    .otherwise(() => null);
  if (range === null || range.len <= 0) return [];
  const path = fdPath(steps, range.fd, gs.n);
  const f = gs.files.find((g) => g.path === path);
  return f === undefined ? [] : [{ ino: f.ino, from: range.off, to: range.off + range.len }];
}

// ---- the page ---------------------------------------------------------------

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Distinct, light enough for black text, no red (red is the violation's). */
const PALETTE = ['#6fa8dc', '#f6b26b', '#93c47d', '#c27ba0', '#ffd966', '#76a5af', '#b4a7d6', '#e69138', '#a4c2f4', '#b6d7a8', '#d5a6bd', '#bf9000'];

function colourOf(src: number): string {
  if (src === SRC_ZERO) return '#ffffff';
  if (src === SRC_GARBAGE) return '#222222';
  if (src === SRC_USERBUF) return '#dddddd';
  if (src < 0) return '#6b6b6b';
  return PALETTE[(src - 1) % PALETTE.length]!;
}

/** A cell's background: one colour, or hard stops in proportion to the bytes of each source. */
function fill(ps: readonly Piece[]): string {
  const total = ps.reduce((a, p) => a + p.len, 0);
  if (ps.length === 0 || total === 0) return 'transparent';
  if (ps.length === 1) return colourOf(ps[0]!.src);
  let at = 0;
  const stops: string[] = [];
  for (const p of ps) {
    const a = (at / total) * 100;
    at += p.len;
    const b = (at / total) * 100;
    stops.push(`${colourOf(p.src)} ${a.toFixed(2)}% ${b.toFixed(2)}%`);
  }
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

function hex(v: number): string {
  return v.toString(16).padStart(2, '0');
}

/** The text in a data cell: the fill byte of the largest piece (or ? never-written, ! garbage). */
function cellText(ps: readonly Piece[]): string {
  let big: Piece | undefined;
  for (const p of ps) if (big === undefined || p.len > big.len) big = p;
  if (big === undefined || big.src === SRC_ZERO) return '';
  if (big.src === SRC_GARBAGE) return '!';
  if (big.src < 0) return '?';
  return hex(big.val);
}

function describePieces(ps: readonly Piece[], sources: ReadonlyMap<number, Source>): string {
  return ps
    .map((p) => {
      const what = p.src === SRC_ZERO ? 'zeroes' : p.src === SRC_GARBAGE ? 'garbage' : p.src === SRC_USERBUF ? 'user buffer' : p.src < 0 ? 'never-written device bytes' : `#${p.src} (${sources.get(p.src)?.kind ?? 'write'} at step ${sources.get(p.src)?.step ?? '?'}, 0x${hex(p.val)})`;
      return `${p.len} bytes ${what}${p.enc ? ' encrypted' : ''}`;
    })
    .join(' + ');
}

const MAP_LETTER: Record<MapKind, string> = { written: '', unwritten: 'u', delayed: 'd', shared: 'S', hole: '' };
const CACHE_TEXT: Record<CacheKind, string> = { dirty: 'dirty', writeback: 'under writeback', uptodate: 'up to date, clean', stale: 'cached, not up to date', none: 'not cached' };

/** Columns: one per block, or (for big files) one per run of blocks that look the same. */
const MAX_COLS = 128;
/** Cell width in pixels. */
const CELL = 26;

interface Col {
  /** File blocks [a, b). */
  readonly a: number;
  readonly b: number;
  readonly cell: BlockCell;
}

function columns(g: FileGrid, cuts: ReadonlySet<number>): { cols: Col[]; truncated: number } {
  if (g.drawnTo <= MAX_COLS) {
    const cols: Col[] = [];
    for (const r of g.runs) for (let b = r.start; b < r.end; b++) cols.push({ a: b, b: b + 1, cell: r.cell });
    return { cols, truncated: g.nblocks - g.drawnTo };
  }
  const sorted = [...cuts].sort((x, y) => x - y);
  const cols: Col[] = [];
  let lastSig = '';
  for (const r of g.runs) {
    const sig = JSON.stringify(r.cell);
    const points = [r.start, ...sorted.filter((c) => c > r.start && c < r.end), r.end];
    for (let k = 0; k + 1 < points.length; k++) {
      const x = points[k]!;
      const y = points[k + 1]!;
      const last = cols[cols.length - 1];
      if (last !== undefined && last.b === x && !cuts.has(x) && lastSig === sig) cols[cols.length - 1] = { ...last, b: y };
      else cols.push({ a: x, b: y, cell: r.cell });
      lastSig = sig;
    }
  }
  if (cols.length <= MAX_COLS) return { cols, truncated: g.nblocks - g.drawnTo };
  const kept = cols.slice(0, MAX_COLS);
  return { cols: kept, truncated: g.nblocks - kept[kept.length - 1]!.b };
}

/** Greedy line packing: a line index per mark, marks on one line never overlap. */
function packLines(ms: ReadonlyArray<{ from: number; to: number }>): number[] {
  const ends: number[] = [];
  return ms.map((m) => {
    let l = ends.findIndex((e) => e <= m.from);
    if (l < 0) {
      l = ends.length;
      ends.push(0);
    }
    ends[l] = m.to;
    return l;
  });
}

interface Outline {
  readonly t: ViolationTarget;
  readonly other: boolean;
  readonly label: string;
  /** The violation names no range: the step's own range is outlined. */
  readonly guessed: boolean;
}

function fileHtml(g: FileGrid, n: number, outlines: readonly Outline[], sources: ReadonlyMap<number, Source>): string {
  const bs = g.blockSize;
  const mine = outlines.filter((o) => o.t.ino === g.ino);
  const cuts = new Set<number>();
  for (const b of g.bios) cuts.add(b.from).add(b.to);
  for (const o of mine) if (o.t.from !== null && o.t.to !== null) cuts.add(Math.floor(o.t.from / bs)).add(Math.ceil(o.t.to / bs));
  const { cols, truncated } = columns(g, cuts);
  const colOf = (blk: number, end: boolean): number => {
    // Grid column (1-based, the label is column 1) where block `blk` starts (or, `end`, after which it ends).
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i]!;
      if (blk >= c.a && blk < c.b) return end ? i + 3 : i + 2;
    }
    return end ? cols.length + 2 : cols.length + 1;
  };
  const parts: string[] = [];
  let row = 1;
  const label = (text: string, title: string): void => {
    parts.push(`<div class="lab" style="grid-row:${row};grid-column:1" title="${esc(title)}">${text}</div>`);
  };
  // Block numbers.
  label('blk', 'file block number (n+: a run of blocks that look the same)');
  let free = 0;
  cols.forEach(({ a, b }, i) => {
    const text = `${a}${b - a > 1 ? '+' : ''}`;
    // A number where it fits (about 6 pixels a digit); every column of a small file.
    const show = i >= free && (cols.length <= 16 || i % 4 === 0 || b - a > 1 || cols[i - 1]!.b - cols[i - 1]!.a > 1);
    if (show) free = i + Math.ceil((text.length * 6) / (CELL + 1));
    parts.push(`<div class="ax" style="grid-row:${row};grid-column:${i + 2}">${show ? text : ''}</div>`);
  });
  row++;
  const dataRow = row;
  label('data', 'what a read returns: the page cache where the block is up to date, else the disk through the block map (zeroes over a hole or an unwritten extent); coloured by the write the bytes came from');
  cols.forEach(({ a, b, cell: c }, i) => {
    const text = cellText(c.data);
    const cls = ['cell', c.map, c.pastEof ? 'eof' : '', c.moved ? 'moved' : '', c.data.every((p) => p.src === SRC_ZERO) ? 'zero' : '', text === '?' || text === '!' ? 'dark' : '', b - a > 1 ? 'run' : ''].filter((x) => x !== '').join(' ');
    const blocks = b - a > 1 ? `blocks ${a}-${b - 1} (${b - a})` : `block ${a}`;
    const title = `${blocks}, bytes ${a * bs}..${b * bs}: ${c.map}${c.pastEof ? ', past EOF' : ''}; holds ${describePieces(c.data, sources)}${c.moved ? '; some of it was written at another offset or file (a clone, or a misplaced write)' : ''}`;
    parts.push(`<div class="${cls}" data-block="${a}" data-blocks="${b - a}" data-map="${c.map}" data-m="${MAP_LETTER[c.map]}" data-sources="${c.data.map((p) => p.src).join(',')}" style="grid-row:${row};grid-column:${i + 2};background:${fill(c.data)}" title="${esc(title)}">${esc(text)}</div>`);
  });
  row++;
  if (cols.some((c) => c.cell.cache !== 'none')) {
    label('cache', 'page cache: red dirty, orange under writeback, grey up to date, white cached but not up to date, empty not cached');
    cols.forEach(({ a, cell: c }, i) => {
      parts.push(`<div class="cs ${c.cache}" data-block="${a}" style="grid-row:${row};grid-column:${i + 2}" title="block ${a}: ${CACHE_TEXT[c.cache]}"></div>`);
    });
    row++;
  }
  if (cols.some((c) => c.cell.disk !== null)) {
    label('disk', 'what the device returns for the block the map points at; striped: in its volatile write cache, not durable yet');
    cols.forEach(({ a, cell: c }, i) => {
      const cls = ['dk', c.disk === null ? 'nodisk' : '', c.volatile ? 'volatile' : '', c.plaintext ? 'plaintext' : ''].filter((x) => x !== '').join(' ');
      const title = c.disk === null ? `block ${a}: no disk block` : `block ${a} on the device: ${describePieces(c.disk, sources)}${c.volatile ? '; not durable yet (device write cache)' : ''}${c.plaintext ? '; PLAINTEXT of an encrypted file' : ''}`;
      parts.push(`<div class="${cls}" data-block="${a}" style="grid-row:${row};grid-column:${i + 2};background:${c.disk === null ? 'transparent' : fill(c.disk)}" title="${esc(title)}"></div>`);
    });
    row++;
  }
  const diskRowEnd = row;
  if (cols.some((c) => c.cell.cow)) {
    label(g.forks[0] ?? 'cow', 'COW fork: staging blocks');
    cols.forEach(({ a, cell: c }, i) => {
      parts.push(`<div class="cw${c.cow ? ' staged' : ''}" data-block="${a}" style="grid-row:${row};grid-column:${i + 2}"></div>`);
    });
    row++;
  }
  if (g.bios.length > 0) {
    const lines = packLines(g.bios);
    const nl = Math.max(...lines) + 1;
    label('bios', 'the bios this step sent or completed, under the file blocks they cover');
    g.bios.forEach((b, k) => {
      const c0 = colOf(b.from, false);
      const c1 = colOf(b.to - 1, true);
      const long = `#${b.id} ${b.op === 'write' ? 'W' : b.op === 'read' ? 'R' : 'F'}${b.flags.includes('ATOMIC') ? ' A' : ''}${b.split ? ' ✂' : ''}${b.done ? '' : ' …'}`;
      const cls = ['bio', b.op, b.kind, b.flags.includes('ATOMIC') ? 'atomic' : '', b.flags.includes('FUA') ? 'fua' : '', b.split ? 'split' : '', b.done ? 'done' : 'inflight', b.earlier ? 'earlier' : '', b.failed ? 'failed' : ''].filter((x) => x !== '').join(' ');
      const status = b.earlier ? 'queued earlier, completed now' : b.done ? 'completed' : 'in flight at the end of the step';
      parts.push(`<div class="${cls}" data-bio="${b.id}" data-from="${b.from}" data-to="${b.to}" style="grid-row:${row + lines[k]!};grid-column:${c0} / ${c1}" title="${esc(`${b.text}: ${status}${b.split ? '; split off the front of another bio' : ''}${b.failed ? '; FAILED' : ''}`)}">${c1 - c0 >= 2 ? long : `#${b.id}`}</div>`);
    });
    row += nl;
  }
  const drawn = cols.length === 0 ? 0 : cols[cols.length - 1]!.b;
  const beyond: Outline[] = [];
  for (const o of mine) {
    const from = o.t.from === null ? 0 : Math.floor(o.t.from / bs);
    const to = o.t.to === null ? Math.max(1, drawn) : Math.max(from + 1, Math.ceil(o.t.to / bs));
    if (from >= drawn) {
      beyond.push(o);
      continue;
    }
    const range = o.t.from === null ? 'the file' : `bytes ${o.t.from}..${o.t.to}`;
    parts.push(`<div class="viol${o.other ? ' other' : ''}${o.t.from === null ? ' whole' : ''}${o.guessed ? ' steprange' : ''}" data-step="${n}" data-from="${o.t.from ?? ''}" data-to="${o.t.to ?? ''}" style="grid-row:${dataRow} / ${diskRowEnd};grid-column:${colOf(from, false)} / ${colOf(to - 1, true)}" title="${esc(`${o.label}: ${range}`)}"></div>`);
  }
  const notes: string[] = [];
  if (truncated > 0) notes.push(`<div class="note">${truncated} more block${truncated === 1 ? '' : 's'} not drawn</div>`);
  for (const o of mine) notes.push(`<div class="note vnote${o.other ? ' other' : ''}">outlined: ${o.t.from === null ? 'the file (the violation names no range)' : `bytes ${o.t.from}..${o.t.to}${o.guessed ? ", the step's own range (the violation names none)" : ''}`} — ${esc(o.label)}</div>`);
  const head = `<div class="fhead"><b>${esc(g.path)}</b> size ${g.size} (on disk ${g.disksize}) · ${g.nblocks} block${g.nblocks === 1 ? '' : 's'} of ${bs}${g.encrypted ? ' · encrypted' : ''}${g.phys !== '' ? ` · <span class="phys" title="file blocks@first disk block">${esc(g.phys)}</span>` : ''}</div>`;
  if (cols.length === 0 || beyond.length > 0) {
    const none = (cols.length === 0 ? mine : beyond).map((o) => `<div class="note vnote viol-none">${esc(o.label)}: ${o.t.from === null ? 'the file' : `bytes ${o.t.from}..${o.t.to}`}, which has no blocks to outline</div>`).join('');
    if (cols.length === 0) return `<div class="file empty" data-file="${esc(g.path)}" data-ino="${g.ino}" data-step="${n}">${head}<div class="note">(no blocks)</div>${none}</div>`;
    notes.push(none);
  }
  const note = notes.join('');
  return `<div class="file" data-file="${esc(g.path)}" data-ino="${g.ino}" data-step="${n}">${head}<div class="grid" style="grid-template-columns:3.4em repeat(${cols.length},${CELL}px)">${parts.join('')}</div>${note}</div>`;
}

function crashHtml(n: number, res: StepResult | undefined, c: CrashPicture | null, step: Step): string {
  const kept = res?.crash;
  const what = kept === undefined ? '' : kept.pending === 0 ? ': every write had reached the medium, nothing in flight or in the device cache' : `: ${kept.pending} write${kept.pending === 1 ? '' : 's'} in flight or in the device cache, ${kept.kept.length === 0 ? 'none kept' : `kept ${JSON.stringify(kept.kept)}`}`;
  const parts = [`<div class="crash" data-step="${n}"><span>crash${step.op === 'crash' && step.keep !== undefined ? ` keep=${esc(JSON.stringify(step.keep))}` : ''}${esc(what)}</span></div>`];
  for (const f of c?.files ?? []) {
    // One column per block a pending write covered; a gap between them is one narrow column.
    const cells: string[] = ['<div class="lab" style="grid-row:1;grid-column:1">blk</div>', '<div class="lab" style="grid-row:2;grid-column:1">kept</div>'];
    const widths: string[] = [];
    let prev = -1;
    for (const [blk, fate] of f.blocks) {
      if (prev >= 0 && blk > prev + 1) {
        widths.push('10px');
        cells.push(`<div class="ax gap" style="grid-row:2;grid-column:${widths.length + 1}">…</div>`);
      }
      widths.push(`${CELL}px`);
      const col = widths.length + 1;
      const title = fate === 'kept' ? 'the pending write reached the medium' : fate === 'lost' ? 'the pending write was lost' : 'part of the pending write reached the medium';
      cells.push(`<div class="ax" style="grid-row:1;grid-column:${col}">${prev < 0 || blk > prev + 1 || col % 4 === 2 ? blk : ''}</div>`);
      cells.push(`<div class="kp ${fate}" data-block="${blk}" style="grid-row:2;grid-column:${col}" title="block ${blk}: ${title}">${fate === 'kept' ? '✓' : fate === 'lost' ? '✗' : '½'}</div>`);
      prev = blk;
    }
    parts.push(`<div class="file crashfile" data-file="${esc(f.path)}" data-ino="${f.ino}" data-step="${n}"><div class="fhead"><b>${esc(f.path)}</b>: the writes the crash found pending, per block</div><div class="grid" style="grid-template-columns:3.4em ${widths.join(' ')}">${cells.join('')}</div></div>`);
  }
  for (const t of c?.notes ?? []) parts.push(`<div class="note">${esc(t)}</div>`);
  return parts.join('');
}

function legendHtml(sources: readonly Source[], names: ReadonlyMap<number, string>): string {
  const sw = (bg: string, text: string, cls = 'cell'): string => `<span class="${cls} sw" style="background:${bg}">${text}</span>`;
  const src = sources
    .map((s) => `<li data-source="${s.id}">${sw(colourOf(s.id), hex(s.fill))} #${s.id}: ${s.kind} at step ${s.step}, fill 0x${hex(s.fill)}, ${esc(names.get(s.ino) ?? `inode ${s.ino}`)} bytes ${s.pos}..${s.pos + s.len}</li>`)
    .join('');
  return `<div class="legend">
<div><h4>writers (what each block holds)</h4><ul>${src === '' ? '<li>no write</li>' : src}
<li>${sw('#ffffff', '')} zeroes (hole, unwritten, kernel zeroing)</li><li>${sw(colourOf(-1), '?', 'cell dark')} never-written device bytes (stale)</li><li>${sw(colourOf(SRC_GARBAGE), '!', 'cell dark')} garbage (wrong key/DUN, kernel memory)</li></ul></div>
<div><h4>block map (border and corner letter)</h4><ul>
<li>${sw('#fff', '', 'cell written')} written</li><li>${sw('#fff', '', 'cell unwritten')} unwritten (u)</li><li>${sw('#fff', '', 'cell delayed')} delayed allocation (d)</li><li>${sw('#fff', '', 'cell shared')} shared with another file (S)</li><li>${sw('#fff', '', 'cell hole zero')} hole</li><li>${sw('#fff', '', 'cell written eof')} past EOF (faded)</li><li>${sw('#fff', '', 'cell written moved')} holds bytes written at another offset or file (◂)</li></ul></div>
<div><h4>strips</h4><ul>
<li><span class="cs dirty sw"></span> cache: dirty</li><li><span class="cs writeback sw"></span> under writeback</li><li><span class="cs uptodate sw"></span> up to date</li><li><span class="cs stale sw"></span> cached, not up to date</li>
<li><span class="dk volatile sw" style="background:${PALETTE[0]}"></span> disk: not durable yet (device cache)</li><li><span class="cw staged sw"></span> COW fork staging block</li></ul></div>
<div><h4>marks</h4><ul>
<li><span class="bio write done sw">#1 W</span> a bio under the blocks it covers (R read, A atomic, ✂ split, … in flight)</li>
<li><span class="crash sw"><span>crash</span></span> a crash; below it what it kept</li>
<li><span class="viol sw"></span> the range the violation names</li></ul></div>
</div>`;
}

const CSS = `
body { font: 13px/1.35 system-ui, sans-serif; margin: 1.5em; background: #fff; color: #111; }
h1 { font-size: 1.25em; margin: 0 0 .4em; }
code, pre, .sl, .note, .phys, .ax, .cell, .bio { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { white-space: pre-wrap; }
.bad { color: #b00; font-weight: bold; }
.verdict { border: 2px solid #c00; background: #fff5f5; padding: .5em .8em; margin: .6em 0 1em; }
.verdict.ok { border-color: #2b8a3e; background: #f4fbf5; }
.verdict .stmt { color: #333; margin: .3em 0; }
.legend { display: flex; flex-wrap: wrap; gap: 0 2.5em; border: 1px solid #ccc; padding: .3em .8em; margin-bottom: 1em; background: #fafafa; }
.legend h4 { margin: .4em 0 .2em; font-size: 1em; }
.legend ul { list-style: none; padding: 0; margin: 0 0 .4em; }
.legend li { margin: 2px 0; }
.sw { display: inline-block; vertical-align: middle; width: 26px; height: 16px; position: relative; margin-right: .3em; }
.legend .bio.sw { width: auto; padding: 0 4px; }
.legend .crash.sw { width: 64px; margin: 0 .6em 0 0; top: .15em; }
.legend .crash.sw > span { left: 6px; top: -.75em; }
.legend .viol.sw { border: 3px solid #e00; height: 12px; }
.step { border-top: 1px solid #e4e4e4; padding: .35em 0 .5em; }
.step.bad { background: #fff7f7; }
.sl { white-space: pre-wrap; }
.sl .num { display: inline-block; width: 2.6em; color: #666; }
.step.bad .sl { color: #b00; font-weight: bold; }
.step.other .sl { color: #a05a00; font-weight: bold; }
.file { margin: .35em 0 .2em 2.6em; overflow-x: auto; padding-bottom: 4px; }
.fhead { color: #333; margin-bottom: 2px; }
.grid { display: grid; grid-auto-rows: auto; column-gap: 1px; row-gap: 1px; align-items: stretch; position: relative; width: max-content; padding: 3px; }
.lab { color: #666; font-size: 11px; padding-right: 4px; text-align: right; align-self: center; }
.ax { font-size: 9px; color: #888; text-align: left; white-space: nowrap; overflow: visible; height: 11px; }
.cell { height: 24px; box-sizing: border-box; border: 1px solid #777; font-size: 10px; text-align: center; line-height: 26px; position: relative; color: #111; overflow: hidden; }
.cell::after { content: attr(data-m); position: absolute; top: 0; right: 1px; font-size: 8px; font-weight: bold; line-height: 9px; color: #000; }
.cell.unwritten { border: 2px dotted #444; line-height: 24px; }
.cell.delayed { border: 2px dashed #1c5bd6; line-height: 24px; }
.cell.delayed::after { color: #1c5bd6; }
.cell.shared { border: 3px double #8e24aa; line-height: 22px; }
.cell.shared::after { color: #8e24aa; }
.cell.hole { border: 1px dashed #aaa; }
.cell.hole.zero { background: repeating-linear-gradient(45deg, #f1f1f1 0 3px, #fff 3px 6px) !important; }
.cell.eof { opacity: .45; }
.cell.run { border-right: 4px double #333; }
.cell.dark, .cell.dark::after { color: #fff; }
.cell.moved::before { content: '◂'; position: absolute; left: 1px; bottom: -3px; font-size: 9px; line-height: 11px; color: #000; }
.cs { height: 6px; box-sizing: border-box; }
.cs.dirty { background: #e03131; } .cs.writeback { background: repeating-linear-gradient(90deg, #f59f00 0 3px, #ffd43b 3px 6px); }
.cs.uptodate { background: #adb5bd; } .cs.stale { background: #fff; border: 1px solid #adb5bd; } .cs.none { background: transparent; }
.dk { height: 9px; box-sizing: border-box; border: 1px solid #999; position: relative; }
.dk.nodisk { border: 1px dotted #ddd; }
.dk.volatile::after { content: ''; position: absolute; inset: 0; background: repeating-linear-gradient(135deg, rgba(255,255,255,.85) 0 2px, transparent 2px 5px); }
.dk.plaintext { border: 2px solid #e00; }
.cw { height: 6px; } .cw.staged { background: #f7a35c; }
.bio { height: 15px; box-sizing: border-box; font-size: 9px; line-height: 13px; padding: 0 3px; border: 1px solid #555; border-top: 3px solid #555; background: #eef; white-space: nowrap; overflow: hidden; color: #111; }
.bio.read { background: #eaf6ea; border-top-color: #2b8a3e; }
.bio.write { background: #eef0ff; border-top-color: #3b5bdb; }
.bio.atomic { border-top-color: #9c36b5; background: #f8ecfc; }
.bio.inflight { border-style: dashed; }
.bio.split { border-left: 3px solid #e8590c; }
.bio.failed { background: #ffe3e3; border-color: #c00; }
.bio.earlier { opacity: .7; }
.viol { border: 3px solid #e00; box-sizing: border-box; pointer-events: none; z-index: 2; margin: -3px; }
.viol.other { border-color: #e8590c; border-style: dashed; }
.crash { border-top: 4px solid #222; margin: .6em 0 .3em; position: relative; height: 0; }
.crash > span { position: relative; top: -.8em; left: 2.6em; background: #222; color: #fff; padding: 1px 6px; font-weight: bold; font-size: 12px; }
.kp { height: 18px; box-sizing: border-box; border: 1px solid #ccc; text-align: center; font-size: 11px; line-height: 16px; }
.kp.kept { background: #b2f2bb; } .kp.lost { background: #ffc9c9; } .kp.partial { background: linear-gradient(to right, #b2f2bb 50%, #ffc9c9 50%); }
.note { color: #555; margin: .1em 0 .1em 2.6em; font-size: 12px; }
.file .note { margin-left: 0; }
.vnote { color: #c00; } .vnote.other { color: #a05a00; }
.crashfile { margin-top: .9em; }
details { margin-top: 1.5em; }
.w { background: #cfe8cf; } .u { background: #e8e8cf; } .d { background: #dfe3f7; } .s { background: #f3d4f3; } .c { background: #f7dcc4; }
.dd { background: #f7c4c4; } .uu { background: #dde; } .wb { background: #ffe08a; }
`;

/** Colour the block characters of a map/cow/cache line of the text trace. */
function colourRow(line: string): string {
  const m = /^(\s*)(map|cow|cache)(\s+)(.*)$/.exec(line);
  if (m === null) return esc(line);
  const cls: Record<string, string> = { W: 'w', u: 'u', d: 'd', S: 's', c: 'c', D: 'dd', U: 'uu', w: 'wb' };
  const body = m[4]!.replace(/[WudScDUw]/g, (ch) => `<span class="${cls[ch]}">${ch}</span>`);
  return `${m[1]}<b>${m[2]}</b>${m[3]}${body}`;
}

function textTraceHtml(lines: readonly string[]): string {
  return lines
    .map((l) => {
      if (l.startsWith('!!')) return `<span class="bad">${esc(l)}</span>`;
      if (/^\s{7}\S/.test(l)) return colourRow(l);
      if (l.startsWith('violation of')) return `<span class="bad">${esc(l)}</span>`;
      return esc(l);
    })
    .join('\n');
}

function verdictHtml(r: ReplayReport): string {
  const v = r.run.violation;
  const parts: string[] = [];
  const one = (x: Violation, what: string): void => {
    const inv = findInvariant(x.invariant);
    parts.push(`<div><b>${what} <a href="#step-${x.step}">${esc(x.invariant)} at step ${x.step}</a></b></div>`);
    if (inv !== undefined) parts.push(`<div class="stmt">${esc(inv.statement)}</div>`);
    parts.push(`<div><code>${esc(x.detail)}</code></div>`);
  };
  if (v !== null) one(v, 'violation of');
  else parts.push('<div><b>no invariant violated</b></div>');
  if (r.other !== null) one(r.other, 'also violated, with every invariant watching:');
  if (r.expected !== null) parts.push(`<div>${r.reproduced ? `reproduced: ${esc(r.expected.invariant)} at step ${r.expected.step}, as recorded` : `<b>NOT reproduced</b>: the file records ${esc(r.expected.invariant)} at step ${r.expected.step}`}</div>`);
  return `<div class="verdict${v === null && r.other === null ? ' ok' : ''}">${parts.join('')}</div>`;
}

/** Steps after which every file is drawn, changed or not: what the sync left is the point. */
const SYNC_OPS = new Set<Step['op']>(['fsync', 'fdatasync', 'sync']);

/** The picture of a replay: the verdict, the legend, each step with its grids, the text trace. */
function pictureHtml(sc: LoadedScenario, r: ReplayReport): { verdict: string; legend: string; steps: string } {
  const run = gridSteps(sc, r.run.steps);
  const names = new Map<number, string>();
  for (const g of run.steps) for (const f of g.files) if (!names.has(f.ino)) names.set(f.ino, f.path);
  const sources = new Map(run.sources.map((s) => [s.id, s]));
  const marked: Array<{ v: Violation; other: boolean }> = [];
  if (r.run.violation !== null) marked.push({ v: r.run.violation, other: false });
  if (r.other !== null) marked.push({ v: r.other, other: true });
  const html = run.steps.map((gs) => {
    const res = r.run.results[gs.n - 1];
    const mine = marked.filter((m) => m.v.step === gs.n);
    const outlines: Outline[] = mine.flatMap((m) => {
      const named = violationTargets(m.v.detail, gs, r.run.steps);
      const ts = named.length > 0 ? named : stepTarget(gs, r.run.steps);
      return ts.map((t) => ({ t, other: m.other, label: m.v.invariant, guessed: named.length === 0 }));
    });
    const cls = ['step', mine.some((m) => !m.other) ? 'bad' : '', mine.some((m) => m.other) ? 'other' : '', gs.crash !== null ? 'crashstep' : ''].filter((x) => x !== '').join(' ');
    const line = `<div class="sl"><span class="num">${mine.length > 0 ? '!! ' : ''}${gs.n}</span>${esc(describeStep(gs.step))} → ${esc(res === undefined ? '' : describeResult(res))}</div>`;
    const body: string[] = [];
    if (gs.error !== null) body.push(`<div class="note">(model error: ${esc(gs.error)})</div>`);
    if (gs.crash !== null || gs.step.op === 'crash') body.push(crashHtml(gs.n, res, gs.crash, gs.step));
    // A violating step or a sync draws every file; other steps the files that changed or that the step's bios touched.
    const all = mine.length > 0 || SYNC_OPS.has(gs.step.op);
    for (const f of gs.files) if (f.changed || f.bios.length > 0 || all) body.push(fileHtml(f, gs.n, outlines, sources));
    if (mine.length > 0 && outlines.length === 0) body.push(`<div class="note viol-none">(the violation names no file range this page can outline)</div>`);
    for (const t of gs.notes) body.push(`<div class="note bio-note">${esc(t)}</div>`);
    if (gs.down && gs.step.op !== 'crash') body.push('<div class="note">(the file system is down until the remount)</div>');
    return `<section class="${cls}" id="step-${gs.n}" data-step="${gs.n}">${line}${body.join('')}</section>`;
  });
  return { verdict: verdictHtml(r), legend: legendHtml(run.sources, names), steps: html.join('\n') };
}

/**
 * The trace as a self-contained HTML page (no scripts, no external files).
 * With the replay (`picture`), the page draws each step's block grids with
 * the verdict and a legend on top; the text trace (`lines`, as printed)
 * follows.  Without it, the text trace alone.
 */
export function traceHtml(title: string, lines: readonly string[], picture?: { readonly sc: LoadedScenario; readonly report: ReplayReport }): string {
  const pic = picture === undefined ? null : pictureHtml(picture.sc, picture.report);
  const text = `<pre>${textTraceHtml(lines)}</pre>`;
  const body = pic === null ? text : `${pic.verdict}\n${pic.legend}\n<div class="steps">\n${pic.steps}\n</div>\n<details><summary>text trace</summary>${text}</details>`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>${CSS}</style></head>
<body><h1>${esc(title)}</h1>
${body}
</body></html>
`;
}

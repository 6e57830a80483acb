/**
 * The state a reviewer needs next to each replayed step: what changed in
 * each file's block map and page cache, the bios the step sent (with their
 * split points and crypto data-unit numbers) and what a crash kept.  Drawn
 * as compact ASCII, one character per file block:
 *
 *   map    W written   u unwritten   d delayed   S shared (reflink)   . hole
 *   cow    c COW fork staging block (XFS)
 *   cache  D dirty   U clean, up to date   w under writeback   . cached, not up to date   - not cached
 *
 * Files of more than MAX_STRIP blocks are listed as runs instead.
 */
import { match } from 'ts-pattern';
import type { Inode } from '../model/fs/inode.ts';
import type { Folio } from '../model/mm/folio.ts';
import type { ModelEvent } from '../model/kernel.ts';
import type { Bio } from '../model/block/bio.ts';
import { REQ_ATOMIC, REQ_FUA, REQ_PREFLUSH } from '../model/block/bio.ts';
import { System } from '../model/system.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { Step } from '../scenario/schema.ts';

const MAX_STRIP = 64;

export interface StepTrace {
  /** Lines to print under the step (empty: nothing that matters changed). */
  readonly lines: string[];
}

/** One character per block of the data fork. */
function mapChar(inode: Inode, lblk: number): string {
  const e = inode.extents.find(lblk);
  if (e === undefined) return '.';
  return match(e.v.type)
    .with('delalloc', () => 'd')
    .with('unwritten', () => 'u')
    .with('mapped', () => (inode.sb.isShared(e.v.pblk + (lblk - e.start)) ? 'S' : 'W'))
    .exhaustive();
}

/** What the page cache holds of one file block. */
export type CacheKind = 'dirty' | 'writeback' | 'uptodate' | 'stale' | 'none';

/** Whether the block at `pos` of folio `f` is up to date (per block with an iomap_folio_state, else the folio's flag). */
export function blockUptodate(f: Folio, pos: number, bs: number): boolean {
  const i = Math.floor((pos - f.pos) / bs);
  return f.ifs !== null ? f.ifs.uptodate[i] === 1 : f.uptodate;
}

export function cacheKind(inode: Inode, lblk: number): CacheKind {
  const bs = inode.blockSize;
  const pos = lblk * bs;
  const f = inode.mapping.folioAt(pos);
  if (f === undefined) return 'none';
  if (f.writeback) return 'writeback';
  const i = Math.floor((pos - f.pos) / bs);
  const dirty = f.ifs !== null ? f.ifs.dirty[i] === 1 : f.dirty;
  if (dirty) return 'dirty';
  return blockUptodate(f, pos, bs) ? 'uptodate' : 'stale';
}

function cacheChar(inode: Inode, lblk: number): string {
  return match(cacheKind(inode, lblk))
    .with('none', () => '-')
    .with('writeback', () => 'w')
    .with('dirty', () => 'D')
    .with('uptodate', () => 'U')
    .with('stale', () => '.')
    .exhaustive();
}

/** A row of characters, one per block, as a strip (small files) or as runs. */
function row(n: number, at: (lblk: number) => string): string {
  if (n <= MAX_STRIP) {
    let s = '';
    for (let b = 0; b < n; b++) s += at(b);
    return s;
  }
  const runs: string[] = [];
  let start = 0;
  let cur = at(0);
  for (let b = 1; b <= n; b++) {
    const c = b < n ? at(b) : '';
    if (c !== cur) {
      runs.push(`${cur}${start}${b - 1 > start ? `-${b - 1}` : ''}`);
      start = b;
      cur = c;
    }
  }
  return runs.join(' ');
}

/** Blocks worth drawing: up to the last extent (of any fork), cached folio or EOF. */
export function extentBlocks(inode: Inode): number {
  const bs = inode.blockSize;
  let n = Math.ceil(inode.i_size / bs);
  const es = inode.extents.entries();
  if (es.length > 0) n = Math.max(n, es[es.length - 1]!.end);
  for (const fork of inode.sb.ops.extra_forks?.(inode) ?? []) {
    const cs = fork.map.entries();
    if (cs.length > 0) n = Math.max(n, cs[cs.length - 1]!.end);
  }
  for (const f of inode.mapping.allFolios()) n = Math.max(n, Math.ceil(f.end / bs));
  return n;
}

/** The state of one file as lines (compared step to step to show what changed). */
export function fileState(inode: Inode): string[] {
  const n = extentBlocks(inode);
  const out = [`size ${inode.i_size} (on disk ${inode.disksize}), ${n} block${n === 1 ? '' : 's'} of ${inode.blockSize}`];
  if (n === 0) return out;
  out.push(`map   ${row(n, (b) => mapChar(inode, b))}`);
  const phys = inode.extents.entries().filter((e) => e.v.pblk >= 0).map((e) => `${e.start}${e.end - e.start > 1 ? `-${e.end - 1}` : ''}@${e.v.pblk}`);
  if (phys.length > 0) out.push(`phys  ${phys.slice(0, 8).join(' ')}${phys.length > 8 ? ` (+${phys.length - 8})` : ''}`);
  for (const fork of inode.sb.ops.extra_forks?.(inode) ?? []) {
    if (!fork.map.isEmpty()) out.push(`${fork.name.padEnd(5)} ${row(n, (b) => (fork.map.find(b) !== undefined ? fork.name[0]! : '.'))}`);
  }
  if (inode.mapping.allFolios().length > 0) out.push(`cache ${row(n, (b) => cacheChar(inode, b))}`);
  return out;
}

function opFlags(b: Bio): string {
  const f: string[] = [];
  if ((b.opf & REQ_ATOMIC) !== 0) f.push('ATOMIC');
  if ((b.opf & REQ_FUA) !== 0) f.push('FUA');
  if ((b.opf & REQ_PREFLUSH) !== 0) f.push('PREFLUSH');
  return f.length > 0 ? ` [${f.join('|')}]` : '';
}

function describeBio(b: Bio): string {
  const where = b.origin.kind === 'journal' || b.origin.kind === 'flush' ? b.origin.kind : `${b.origin.kind} ino ${b.origin.ino} pos ${b.origin.pos}`;
  const crypt = b.crypt === null ? '' : ` dun ${b.crypt.dun} du ${b.crypt.dataUnitSize}`;
  return `#${b.id} ${b.op} sector ${b.sector} +${b.size / 512}${opFlags(b)} (${where})${crypt}`;
}

/** The bios a step sent, its splits and completions. */
function bioLines(events: readonly ModelEvent[]): string[] {
  const out: string[] = [];
  const completed: number[] = [];
  for (const e of events) {
    match(e)
      .with({ t: 'bio-queue' }, (x) => {
        if (x.bio.op !== 'flush' || (x.bio.opf & REQ_PREFLUSH) !== 0) out.push(`bio   ${describeBio(x.bio)}`);
      })
      .with({ t: 'bio-split' }, (x) => {
        const du = x.front.crypt?.dataUnitSize ?? 0;
        const cut = du > 0 && x.front.size % du !== 0 ? ` — inside data unit ${(x.front.crypt?.dun ?? 0) + Math.floor(x.front.size / du)}, ${x.front.size % du} bytes into it` : '';
        out.push(`split #${x.front.id} split off the front of #${x.rest.id} after ${x.front.size} bytes${(x.front.opf & REQ_ATOMIC) !== 0 ? ' (a REQ_ATOMIC bio)' : ''}${cut}`);
      })
      .with({ t: 'bio-complete' }, (x) => {
        completed.push(x.bio.id);
      })
      .otherwise(() => undefined);
  }
  if (completed.length > 0) out.push(`done  ${completed.map((i) => `#${i}`).join(' ')}`);
  return out;
}

/**
 * Run the steps on a recording model and say, after each, what changed:
 * the block map and cache lines of every file whose state differs from
 * before the step, then the step's bios.
 */
export function traceSteps(sc: LoadedScenario, steps: readonly Step[]): StepTrace[] {
  const sys = new System(sc.system, sc.knobs, { recording: true });
  const before = new Map<number, string>();
  const traces: StepTrace[] = [];
  steps.forEach((step, i) => {
    let lines: string[] = [];
    // After a crash or a remount every file is shown afresh (its on-disk state).
    if (step.op === 'remount' || step.op === 'crash') before.clear();
    try {
      sys.exec(step, i + 1);
    } catch (e) {
      traces.push({ lines: [`(model error: ${e instanceof Error ? e.message : String(e)})`] });
      return;
    }
    const names = new Map<number, string>();
    for (const [p, ino] of sys.sb.names) names.set(ino, p);
    // After a crash the in-memory state is gone: the remount shows what recovery left.
    for (const inode of step.op === 'crash' ? [] : sys.sb.inodes.values()) {
      if (inode.kind !== 'reg') continue;
      const st = fileState(inode);
      const key = st.join('\n');
      if (before.get(inode.ino) === key) continue;
      before.set(inode.ino, key);
      lines.push(`${names.get(inode.ino) ?? `inode ${inode.ino}`}: ${st[0]}`, ...st.slice(1).map((l) => `  ${l}`));
    }
    lines = lines.concat(bioLines(sys.events));
    traces.push({ lines });
  });
  return traces;
}

/** The legend printed once under a detailed trace. */
export const TRACE_LEGEND =
  'map: W written, u unwritten, d delayed, S shared, . hole; cow: c staging; cache: D dirty, U up to date, w writeback, . not up to date, - not cached; phys: file blocks@first disk block';

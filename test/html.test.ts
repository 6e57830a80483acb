/**
 * `replay --html`: the page draws each file's blocks as a grid per step
 * (coloured by the write whose bytes they hold, the block map marked), the
 * bios under the blocks they cover, the crash as a line and the violating
 * range outlined.  Checked twice: on the HTML string (stable class names and
 * data- attributes), and in a real browser — headless Chromium renders the
 * page where it is installed (Debian: apt-get install chromium), and the
 * dumped DOM and the screenshot must show the grid.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadScenario } from '../scenario/load.ts';
import { replay } from '../checker/replay.ts';
import { traceSteps } from '../checker/trace.ts';
import { traceHtml } from '../checker/trace-html.ts';

const DIR = join(import.meta.dirname, '..', 'counterexamples');

function page(file: string): string {
  const sc = loadScenario(join(DIR, file));
  const report = replay(sc);
  return traceHtml(`${file} — ${sc.system.fs}`, ['a text line'], { sc, report });
}

/** The HTML of one step's section. */
function section(html: string, n: number): string {
  const m = new RegExp(`<section class="[^"]*" id="step-${n}" data-step="${n}">([\\s\\S]*?)</section>`).exec(html);
  expect(m, `step ${n} has a section`).not.toBeNull();
  return m![1]!;
}

interface Cell {
  readonly cls: string[];
  readonly block: number;
  readonly sources: number[];
}

/** The data cells of one file's grid in a step section. */
function cells(sec: string): Cell[] {
  return [...sec.matchAll(/<div class="cell ([^"]*)" data-block="(\d+)" data-blocks="\d+" data-map="[a-z]+" data-m="[^"]*" data-sources="([^"]*)"/g)].map((m) => ({
    cls: m[1]!.split(' '),
    block: Number(m[2]),
    sources: m[3]!.split(',').map(Number),
  }));
}

function diskStrip(sec: string): Array<{ cls: string[]; block: number }> {
  return [...sec.matchAll(/<div class="(dk[^"]*)" data-block="(\d+)"/g)].map((m) => ({ cls: m[1]!.split(' '), block: Number(m[2]) }));
}

describe('replay --html: the block grid', () => {
  it('a torn atomic write (XFS): hole, written, COW staging, bios, the crash, the torn range outlined', () => {
    const f = 'xfs-atomic-end-cow.atomic--no-torn-write.1.json';
    const html = page(f);
    // One section per step; the title names the invariant, and its statement is on top.
    expect(html.match(/<section /g)).toHaveLength(7);
    expect(html).toMatch(/violation of <a href="#step-7">atomic\/no-torn-write at step 7<\/a>/);
    expect(html).toContain('never a mix of old and new bytes');
    // The legend maps each writer's colour to its step and fill byte.
    expect(html).toMatch(/<li data-source="1">.*#1: pwrite at step 2, fill 0x01/);
    expect(html).toMatch(/<li data-source="2">.*#2: pwrite at step 3, fill 0x02/);
    // A grid for the file at every step where the text trace shows it changed.
    const sc = loadScenario(join(DIR, f));
    traceSteps(sc, replay(sc).run.steps).forEach((t, i) => {
      if (t.lines.some((l) => l.startsWith('f: '))) expect(section(html, i + 1), `step ${i + 1}`).toMatch(/<div class="file( empty)?" data-file="f" data-ino="\d+" data-step="\d+">/);
    });
    // Step 2: block 0 a hole, block 1 written with #1's bytes, not durable yet (device write cache); bio #1 under block 1.
    const s2 = section(html, 2);
    expect(cells(s2).map((c) => [c.block, c.cls[0], c.sources.join()])).toEqual([[0, 'hole', '0'], [1, 'written', '1']]);
    expect(diskStrip(s2)).toEqual([{ cls: ['dk', 'nodisk'], block: 0 }, { cls: ['dk', 'volatile'], block: 1 }]);
    expect(s2).toMatch(/<div class="bio write dio done" data-bio="1" data-from="1" data-to="2"/);
    // Step 3: the atomic write's two blocks hold #2, one bio over its contiguous COW staging blocks; the COW fork's staging blocks.
    const s3 = section(html, 3);
    expect(cells(s3).slice(0, 2).map((c) => c.sources.join())).toEqual(['2', '2']);
    expect(s3).toMatch(/data-bio="2" data-from="0" data-to="2"/);
    expect(s3).toMatch(/<div class="cw staged"/);
    // Step 4: the crash, as a line.
    expect(section(html, 4)).toMatch(/<div class="crash" data-step="4"><span>crash: every write had reached the medium/);
    // Step 7: after recovery block 0 reads new (#2), block 1 old (#1): torn, and outlined.
    const s7 = section(html, 7);
    expect(cells(s7).map((c) => c.sources.join())).toEqual(['2', '1']);
    expect(s7).toMatch(/<div class="viol" data-step="7" data-from="0" data-to="8192" style="grid-row:2 \/ 5;grid-column:2 \/ 4"/);
    expect(html).toMatch(/<section class="step bad" id="step-7"/);
    // Self-contained: no scripts, no external files.
    expect(html).not.toMatch(/<script|<link|src=|url\(/);
  });

  it('fsync without a flush: the device cache striped, the crash losing it, the old bytes read back', () => {
    const html = page('fsync-no-flush.durability--fsync.1.json');
    const s3 = section(html, 3);
    expect(cells(s3)[0]!.sources).toEqual([2]);
    expect(diskStrip(s3)).toEqual([{ cls: ['dk', 'volatile'], block: 0 }]);
    // fsync draws every file: still not durable after it.
    expect(diskStrip(section(html, 4))).toEqual([{ cls: ['dk', 'volatile'], block: 0 }]);
    const s5 = section(html, 5);
    expect(s5).toMatch(/<div class="crash" data-step="5"><span>crash keep=&quot;none&quot;: 1 write in flight or in the device cache, none kept/);
    expect(s5).toMatch(/<div class="file crashfile" data-file="f" data-ino="\d+" data-step="5">.*<div class="kp lost" data-block="0"/);
    expect(cells(section(html, 6))[0]!.sources).toEqual([1]);
    expect(section(html, 8)).toMatch(/<div class="viol" data-step="8" data-from="0" data-to="4096"/);
  });

  it('delayed, shared and moved blocks (a clone), a violation naming no range outlines the file', () => {
    const html = page('cow-type-overwritten.iomap--valid-mapping.1.json');
    const s2 = cells(section(html, 2));
    expect(s2[0]!.cls).toContain('delayed');
    expect(section(html, 2)).toMatch(/<div class="cs dirty" data-block="0"/);
    const s3 = cells(section(html, 3));
    expect(s3.map((c) => c.cls[0])).toEqual(['shared', 'shared']);
    // Block 1 holds #1's bytes written at offset 0: the clone put them there.
    expect(s3[1]!.sources).toEqual([1]);
    expect(s3[1]!.cls).toContain('moved');
    expect(section(html, 4)).toMatch(/<div class="viol whole" data-step="4" data-from="" data-to=""/);
  });

  it('unwritten blocks over never-written device bytes, the block the violation names outlined', () => {
    const html = page('writeback-range-clears-folio.folio--no-clean-while-block-dirty.1.json');
    const s3 = section(html, 3);
    const cs = cells(s3);
    expect(cs).toHaveLength(16);
    expect(cs[0]!.cls[0]).toBe('written');
    expect(cs.slice(1).every((c) => c.cls[0] === 'unwritten' && c.sources.join() === '1')).toBe(true);
    // The disk behind the unwritten blocks: bytes nobody wrote.
    expect(s3).toMatch(/<div class="dk" data-block="1" style="grid-row:\d+;grid-column:3;background:#6b6b6b"/);
    expect(s3).toMatch(/<div class="cs uptodate" data-block="1"/);
    expect(s3).toMatch(/<div class="viol" data-step="3" data-from="4096" data-to="8192"/);
  });

  it('split atomic bios, a crash keeping part of the writes, and a second invariant outlined too', () => {
    const html = page('atomic-split-max-sectors.atomic--no-torn-write.1.json');
    const s3 = section(html, 3);
    expect(s3.match(/<div class="bio write dio atomic split done"/g)?.length).toBe(3);
    expect(s3).toMatch(/<div class="viol other" data-step="3" data-from="0" data-to="8192"/);
    const kept = [...section(html, 4).matchAll(/<div class="kp (kept|lost|partial)" data-block="(\d+)"/g)].map((m) => m[1]);
    expect(kept).toContain('kept');
    expect(kept).toContain('lost');
    expect(cells(section(html, 7)).map((c) => c.sources.join())).toEqual(['2', '2', '1', '1']);
  });

  it('every counterexample in the corpus draws its violating step, outlined or said why not', () => {
    const files = readdirSync(DIR).filter((x) => x.endsWith('.json')).sort();
    let outlined = 0;
    for (const f of files) {
      const html = page(f);
      const v = loadScenario(join(DIR, f)).doc.violates!;
      const sec = section(html, v.step);
      expect(sec, f).toMatch(/<div class="viol[ "]|viol-none/);
      if (/<div class="viol[ "]/.test(sec)) outlined++;
      expect(html, f).not.toMatch(/<script|<link|src=/);
    }
    // Most violations name a file range the page can outline.
    expect(outlined).toBeGreaterThanOrEqual(Math.floor(files.length * 0.8));
  });
});

// ---- in a real browser ------------------------------------------------------

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
}

const CHROMIUM = which('chromium') ?? which('chromium-browser');
if (CHROMIUM === null) console.log('note: no chromium on PATH: the page is not rendered in a browser (Debian: apt-get install chromium)');

/** An 8-bit RGB or RGBA PNG, decoded (zlib, the five row filters). */
function decodePng(buf: Buffer): { width: number; height: number; px: (x: number, y: number) => [number, number, number] } {
  expect(buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  let off = 8;
  let width = 0;
  let height = 0;
  let type = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const name = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (name === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8], 'bit depth').toBe(8);
      type = data[9]!;
      expect(data[12], 'interlace').toBe(0);
    } else if (name === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const bpp = type === 6 ? 4 : type === 2 ? 3 : 0;
  expect(bpp, `colour type ${type}`).toBeGreaterThan(0);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const img = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= bpp ? img[y * stride + i - bpp]! : 0;
      const b = y > 0 ? img[(y - 1) * stride + i]! : 0;
      const c = i >= bpp && y > 0 ? img[(y - 1) * stride + i - bpp]! : 0;
      let p = 0;
      if (f === 1) p = a;
      else if (f === 2) p = b;
      else if (f === 3) p = (a + b) >> 1;
      else if (f === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      img[y * stride + i] = (x + p) & 0xff;
    }
  }
  return { width, height, px: (x, y) => [img[y * stride + x * bpp]!, img[y * stride + x * bpp + 1]!, img[y * stride + x * bpp + 2]!] };
}

describe('replay --html in headless Chromium', () => {
  it.skipIf(CHROMIUM === null)(`renders the grid${CHROMIUM === null ? ' — skipped: no chromium on PATH' : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'iospec-html-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'torn.html');
    writeFileSync(file, page('xfs-atomic-end-cow.atomic--no-torn-write.1.json'));
    const common = ['--headless', '--disable-gpu', '--no-sandbox', '--hide-scrollbars', `--user-data-dir=${join(dir, 'profile')}`, '--force-color-profile=srgb', '--window-size=1200,1600'];
    // The DOM as the browser built it: the grids, their cells and the outline are elements.
    const dom = execFileSync(CHROMIUM!, [...common, '--dump-dom', `file://${file}`], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] });
    expect(dom.match(/<div class="grid"/g)?.length ?? 0).toBeGreaterThanOrEqual(4);
    expect(dom.match(/<div class="cell /g)?.length ?? 0).toBeGreaterThanOrEqual(30);
    expect(dom).toMatch(/<div class="viol" data-step="7"/);
    expect(dom).toMatch(/<div class="crash" data-step="4">/);
    // The screenshot: a picture, with the writers' colours filling cells and the red outline.
    const png = join(dir, 'torn.png');
    execFileSync(CHROMIUM!, [...common, `--screenshot=${png}`, `file://${file}`], { timeout: 120_000, stdio: 'ignore' });
    const img = decodePng(readFileSync(png));
    expect(img.width).toBe(1200);
    const count = new Map<string, number>();
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        const k = img.px(x, y).join(',');
        count.set(k, (count.get(k) ?? 0) + 1);
      }
    }
    expect(count.size, 'distinct colours').toBeGreaterThan(50);
    // Source #2 (the atomic write, #f6b26b) fills cells well beyond its legend swatch (24x14 pixels).
    expect(count.get('246,178,107') ?? 0).toBeGreaterThan(6 * 24 * 14);
    // Source #1 (#6fa8dc) too; and the violation's outline (#e00), beyond the legend's sample of it (about 230 pixels).
    expect(count.get('111,168,220') ?? 0).toBeGreaterThan(4 * 24 * 14);
    expect(count.get('238,0,0') ?? 0).toBeGreaterThan(550);
  });
});

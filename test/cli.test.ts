/**
 * The command line as a user meets it: exit codes, one clear error line for
 * malformed input, JSON listings, check -> counterexample file -> replay.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { invariantsMarkdown } from '../checker/invariants-doc.ts';
import { iospec } from './cli-helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'iospec.mjs');

/** The command in a new process: where the process boundary is the point (exit status, the bin script). */
function spawnIospec(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}


const tmp = mkdtempSync(join(tmpdir(), 'iospec-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
function file(name: string, content: string): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

const ok = { format: 'iospec-scenario/1', system: { fs: 'xfs' }, steps: [{ op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] }, { op: 'pwrite', fd: 'A', offset: 0, length: 10, fill: 1 }, { op: 'pread', fd: 'A', offset: 0, length: 20 }] };

describe('iospec run', () => {
  it('prints one JSON result per step (the real binary, in a new process)', () => {
    const r = spawnIospec('run', file('ok.json', JSON.stringify(ok)));
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { step: 1, op: 'open', ret: 0 },
      { step: 2, op: 'pwrite', ret: 10 },
      { step: 3, op: 'pread', ret: 10, data: [['0x01', 10]] },
    ]);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['bad JSON', '{"format": ', /not valid JSON/],
    ['unknown op', JSON.stringify({ ...ok, steps: [{ op: 'frobnicate' }] }), /steps\[0\].*(unknown|malformed)/],
    ['missing field', JSON.stringify({ ...ok, steps: [{ op: 'pwrite', fd: 'A', offset: 0, fill: 1 }] }), /steps\[0\] \(step 1, pwrite\)\.length/],
    ['mistyped field', JSON.stringify({ ...ok, steps: [{ op: 'pread', fd: 'A', offset: '0', length: 1 }] }), /steps\[0\] \(step 1, pread\)\.offset: .*number/],
    ['unknown flag', JSON.stringify({ ...ok, steps: [{ op: 'open', path: 'f', fd: 'A', flags: ['O_FROB'] }] }), /flags: unknown open flag "O_FROB"/],
    ['impossible geometry', JSON.stringify({ ...ok, system: { fs: 'ext4', blockSize: 1024, device: { logicalBlockSize: 4096 } } }), /system\.blockSize: .*smaller than the device's logicalBlockSize/],
    ['xfs too small', JSON.stringify({ ...ok, system: { fs: 'xfs', device: { sizeMiB: 64 } } }), /system\.device\.sizeMiB/],
    ['unknown file system', JSON.stringify({ ...ok, system: { fs: 'zfs' } }), /system\.fs: unknown file system "zfs" \(this iospec models ext4, xfs/],
    ['a feature of another file system', JSON.stringify({ ...ok, system: { fs: 'ext4', features: ['reflink'] } }), /system\.features: "reflink" is not a feature of ext4 \(ext4 takes: encrypt, stable_inodes, bigalloc\)/],
    ['an unknown invariant in violates', JSON.stringify({ ...ok, violates: { invariant: 'nope/nope', step: 1, detail: 'x' } }), /violates\.invariant: unknown invariant "nope\/nope"/],
    ['unknown variant', JSON.stringify({ ...ok, variant: { nope: true } }), /variant\.nope: unknown variant/],
    ['unknown top-level field', JSON.stringify({ ...ok, sytem: {} }), /sytem|Unrecognized/],
    ['store outside the buffer', JSON.stringify({ ...ok, steps: [{ op: 'pwrite', fd: 'A', offset: 0, length: 512, fill: 1, storeDuringIo: { offset: 500, length: 100, fill: 2 } }] }), /steps\[0\] \(step 1, pwrite\)\.storeDuringIo: the store must lie inside the write's 512-byte buffer/],
    ['max_sectors_kb above max_hw_sectors_kb', JSON.stringify({ ...ok, system: { fs: 'ext4', device: { maxSectorsKb: 2048, maxHwSectorsKb: 1024 } } }), /system\.device\.maxSectorsKb: maxSectorsKb 2048 is larger than maxHwSectorsKb 1024/],
    ['bigalloc cluster not a multiple of the block', JSON.stringify({ ...ok, system: { fs: 'ext4', blockSize: 4096, features: ['bigalloc'], clusterSize: 2048 } }), /system\.clusterSize/],
    ['device_error without a length', JSON.stringify({ ...ok, steps: [{ op: 'device_error', fd: 'A', offset: 0 }] }), /steps\[0\] \(step 1, device_error\)\.length/],
    ['a negative read_ahead_kb', JSON.stringify({ ...ok, system: { fs: 'ext4', device: { readAheadKb: -1 } } }), /system\.device\.readAheadKb: .*a size in KiB/],
    ['a write ending past 2^53', JSON.stringify({ ...ok, steps: [{ op: 'pwrite', fd: 'A', offset: 2 ** 53 - 4096, length: 8192, fill: 1 }] }), /steps\[0\] \(step 1, pwrite\)\.offset: offset 9007199254736896 \+ length 8192 ends past 2\^53 - 1: the model computes byte positions exactly only below 2\^53/],
    ['a clone source past 2^53', JSON.stringify({ ...ok, steps: [{ op: 'clone', fd: 'A', src: 'A', srcOffset: 2 ** 53 - 4096, offset: 0, length: 8192 }] }), /steps\[0\] \(step 1, clone\)\.srcOffset: srcOffset .* ends past 2\^53 - 1/],
  ];
  for (const [what, content, msg] of bad) {
    it(`rejects ${what} with one error line and exit status 2`, async () => {
      const r = await iospec('run', file(`${what.replace(/ /g, '-')}.json`, content));
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      const lines = r.err.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: /);
      expect(lines[0]).toMatch(msg);
    });
  }

  it('says what is missing for an unreadable file', async () => {
    const r = await iospec('run', join(tmp, 'absent.json'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read .*ENOENT/);
  });
});

describe('registries', () => {
  it('invariants --json lists ids, statements and sources', async () => {
    const r = await iospec('invariants', '--json');
    const rows = JSON.parse(r.out) as Array<{ id: string; statement: string; source: string }>;
    expect(rows.map((x) => x.id)).toContain('data/no-stale-exposure');
    for (const x of rows) expect(x.statement.length).toBeGreaterThan(40);
  });
  it('variants --json lists names, descriptions, sources and what they break', async () => {
    const rows = JSON.parse((await iospec('variants', '--json')).out) as Array<{ name: string; breaks: string[] }>;
    expect(rows.find((x) => x.name === 'fsync-no-flush')?.breaks).toContain('durability/fsync');
  });
  it('findings lists each known upstream finding with its scenarios, report and fix', async () => {
    const rows = JSON.parse((await iospec('findings', '--json')).out) as Array<{ id: string; fs: string; scenarios: string[]; report: string | null; fix: string | null }>;
    const f = rows.find((x) => x.id === 'xfs-dio-append-unaligned-cow');
    expect(f).toMatchObject({ fs: 'xfs', report: 'docs/findings/xfs-dio-append-unaligned-cow.md', fix: 'fix-xfs-dio-append-unaligned' });
    expect(f?.scenarios).toContain('test/conformance/xfs-dio-append-reflink-copy.json');
    const text = (await iospec('findings')).out;
    expect(text).toContain('proposed fix (checked clean): iospec check --variant fix-xfs-dio-append-unaligned');
  });
  it('replay --variant replays a finding with its fix; an unknown variant is refused', async () => {
    const file = join(import.meta.dirname, 'conformance', 'xfs-dio-append-reflink-copy.json');
    const up = await iospec('replay', '--brief', file);
    expect([up.code, up.out]).toEqual([1, expect.stringContaining('violation of data/no-stale-exposure at step 12')]);
    const fixed = await iospec('replay', '--brief', file, '--variant', 'fix-xfs-dio-append-unaligned');
    expect([fixed.code, fixed.out]).toEqual([0, expect.stringContaining('no invariant violated')]);
    const bad = await iospec('replay', file, '--variant', 'fix-nothing');
    expect([bad.code, bad.err.trim()]).toEqual([2, 'error: --variant fix-nothing: unknown variant (see `iospec variants`)']);
    const run = await iospec('run', '--kernel', file, '--variant', 'fix-xfs-dio-append-unaligned');
    expect(run.code).toBe(2);
  });
});

describe('check and replay', () => {
  it('exits 0 on upstream with a summary', async () => {
    const r = await iospec('check', '--runs', '200', '--seed', '3', '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as { runs: number; counterexample: unknown };
    expect(s.runs).toBe(200);
    expect(s.counterexample).toBeNull();
  });

  it('exits 1 on a variant, writes a counterexample, and replay reproduces it', async () => {
    const out = join(tmp, 'cx');
    const r = await iospec('check', '--variant', 'write-end-no-dirty-bits', '--seed', '1', '--jobs', '1', '--time', '60', '--out', out);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/COUNTEREXAMPLE: folio\/dirty-iff-dirty-blocks/);
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    const rep = await iospec('replay', join(out, files[0]!));
    expect(rep.code).toBe(1);
    expect(rep.out).toMatch(/reproduced: folio\/dirty-iff-dirty-blocks at step \d+, as recorded/);
  });

  it('replay draws what each step changed; --brief does not; --html writes the same trace as a page', async () => {
    const cx = join(import.meta.dirname, '..', 'counterexamples', 'xfs-atomic-end-cow.atomic--no-torn-write.1.json');
    const full = await iospec('replay', cx, '--html', join(tmp, 'trace.html'));
    expect(full.code).toBe(1);
    // The block map after the atomic write: two written blocks, and the COW fork's staging blocks.
    expect(full.out).toMatch(/^ {9}map {3}WW/m);
    expect(full.out).toMatch(/^ {9}cow {3}\.\.c/m);
    expect(full.out).toMatch(/^ {7}bio {3}#\d+ write sector \d+ \+16 \(dio ino \d+ pos 0\)/m);
    const brief = await iospec('replay', cx, '--brief');
    expect(brief.out).not.toMatch(/^ {9}map/m);
    expect(brief.out).toMatch(/reproduced: atomic\/no-torn-write at step 7/);
    const html = readFileSync(join(tmp, 'trace.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<span class="bad">!!   7  pread A 0 8192');
    expect(html).not.toMatch(/<script|<link|src=/);
    // A page that cannot be written is one error line naming the file, exit 2.
    const bad = await iospec('replay', cx, '--brief', '--html', '/nonexistent-dir/trace.html');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/error: \/nonexistent-dir\/trace.html: ENOENT/);
  });

  it('check --systems restricts generated systems, and names the kinds it knows', async () => {
    expect((await iospec('check', '--systems', 'atomic-bigalloc', '--runs', '50', '--seed', '2', '--json')).code).toBe(0);
    expect((await iospec('check', '--systems', 'nope')).err).toMatch(/--systems: one of inline-crypto, stable-writes, atomic-bigalloc, atomic-hw/);
  });

  it('rejects unknown options and values', async () => {
    expect((await iospec('check', '--variant', 'nope')).err).toMatch(/unknown variant "nope"/);
    expect((await iospec('check', '--invariant', 'data/nope')).code).toBe(2);
    expect((await iospec('check', '--seed', '-1')).code).toBe(2);
  });
});

describe('a verdict is a promise', () => {
  it('refuses option combinations that would check nothing of what they name', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['check', '--variant', 'dio-no-cow', '--fs', 'ext4'], /dio-no-cow changes xfs code only: on --fs ext4 nothing it changes would run/],
      [['check', '--fs', 'xfs', '--systems', 'inline-crypto'], /systems of kind inline-crypto: xfs makes none \(ext4 does\)/],
      [['check', '--max-steps', '0'], /--max-steps: at least 1/],
      [['check', '--runs', '0'], /--runs: at least 1/],
      [['check', '--exhaustive', '--depth', '0'], /--depth: at least 1/],
      [['run', '--record', join(import.meta.dirname, 'conformance', 'xfs-statx.json')], /--record .* needs --kernel/],
      [['diff', '--fuzz', '--count', '0'], /--count: at least 1/],
      [['diff', '--fuzz', '--jobs', '0'], /--jobs: at least 1/],
      [['diff', '--fuzz', '--jobs', 'two'], /--jobs: expected a positive integer, got "two"/],
      [['diff', '--jobs', '2', join(import.meta.dirname, 'conformance', 'xfs-statx.json')], /--jobs goes with --fuzz/],
      [['diff', '--fuzz', '--worker-slice', '3/2', '--fs', 'xfs'], /--worker-slice: I\/N with 1 <= I <= N, not "3\/2"/],
    ];
    for (const [args, msg] of cases) {
      const r = await iospec(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });

  it('prints a command that repeats the run exactly, and it does', async () => {
    const first = JSON.parse((await iospec('check', '--seed', '11', '--time', '2', '--json', '--out', join(tmp, 'rep'))).out) as { repeat: string; repeatRuns: number; steps: number; counterexample: unknown };
    expect(first.repeat).toMatch(/^npx iospec check --seed 11 --runs \d+ /);
    const args = first.repeat.replace(/^npx iospec /, '').split(' ');
    const again = JSON.parse((await iospec(...args, '--json', '--out', join(tmp, 'rep'))).out) as { runs: number; steps: number; counterexample: unknown };
    expect(again.runs).toBe(first.repeatRuns);
    expect(again.steps).toBe(first.steps);
    expect(again.counterexample).toEqual(first.counterexample);
  });

  it('says how often a variant\'s changed code ran, and gives no verdict when it never did', async () => {
    const r = JSON.parse((await iospec('check', '--variant', 'write-end-no-dirty-bits', '--seed', '5', '--runs', '50', '--json', '--out', join(tmp, 'v'))).out) as { variantSequences: number };
    expect(r.variantSequences).toBeGreaterThan(0);
    // Two short sequences on XFS rarely reach a direct write over a clone.
    const none = await iospec('check', '--variant', 'dio-no-cow', '--seed', '1', '--runs', '2', '--out', join(tmp, 'v'));
    expect(none.out).toMatch(/variant dio-no-cow: its changed code ran in 0 of 2 sequences/);
    expect(none.out).toMatch(/NO VERDICT: the variant's changed code ran in none of the 2 sequences \(exit 5\)/);
    expect(none.code).toBe(5);
  });

  it('keeps its time budget in exhaustive and soak mode, and says what it covered', async () => {
    const ex = await iospec('check', '--exhaustive', '--depth', '4', '--time', '0.5');
    expect(ex.code).toBe(5);
    expect(ex.out).toMatch(/the --time budget ran out after \d+ of the \d+ sequences: NOT the whole scope/);
    expect(ex.out).toMatch(/NO VERDICT: the time budget ran out before the scope was covered/);
    // Soak sequences of 5,000-10,000 steps: the one being generated or run when 3 s are up is cut, always.
    const soak = await iospec('check', '--soak', '--fs', 'ext4', '--seed', '1', '--time', '3', '--out', join(tmp, 'soak'));
    expect(soak.out).toMatch(/the time budget cut 1 sequence short/);
    expect(soak.out).toMatch(/repeat: npx iospec check --soak --seed 1 --runs \d+ /);
  });

  it('never writes over a counterexample: runs go to counterexamples/new, a second one gets the next number', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iospec-corpus-'));
    try {
      const run = () => spawnSync(process.execPath, [BIN, 'check', '--variant', 'write-end-no-dirty-bits', '--seed', '1', '--jobs', '1', '--time', '60'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      expect(run().status).toBe(1);
      expect(run().status).toBe(1);
      const files = readdirSync(join(dir, 'counterexamples', 'new'));
      expect(files).toHaveLength(2);
      expect(files.filter((f) => /\.\d+\.2\.json$/.test(f))).toHaveLength(1);
      expect(readdirSync(join(dir, 'counterexamples')).filter((f) => f.endsWith('.json'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('replay watches every invariant, and says when another one breaks', async () => {
    const cx = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'counterexamples', 'fsync-no-flush.sync--dsync-durable.1.json'), 'utf8')) as { violates: { invariant: string } };
    cx.violates.invariant = 'data/read-your-writes';
    const r = await iospec('replay', file('edited.json', JSON.stringify(cx)));
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/also violated, with every invariant watching: sync\/dsync-durable at step 7/);
    cx.violates.invariant = 'nope/nope';
    expect((await iospec('replay', file('unknown.json', JSON.stringify(cx)))).code).toBe(2);
  });

  it('the bundle starts from a V8 code cache: written by the first run, used as it is by the next', () => {
    const cache = mkdtempSync(join(tmpdir(), 'iospec-code-cache-'));
    try {
      const run = () => spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', env: { ...process.env, IOSPEC_CODE_CACHE: cache } });
      expect(run().stdout).toMatch(/^iospec \d/);
      const [file, ...more] = readdirSync(cache);
      expect(more).toEqual([]);
      const made = statSync(join(cache, file!)).mtimeMs;
      expect(run().stdout).toMatch(/^iospec \d/);
      // Not written again: V8 took it.
      expect(readdirSync(cache)).toEqual([file]);
      expect(statSync(join(cache, file!)).mtimeMs).toBe(made);
      // A cache V8 refuses (garbage) costs nothing but the cache: the command runs, and the file is made anew.
      writeFileSync(join(cache, file!), 'not a code cache');
      expect(run().stdout).toMatch(/^iospec \d/);
      expect(readdirSync(cache)).toEqual([file]);
      expect(readFileSync(join(cache, file!), 'utf8')).not.toBe('not a code cache');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
  it('prints one invariant to cite, and the version', async () => {
    const r = await iospec('invariants', 'atomic/no-torn-write');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^## `atomic\/no-torn-write`/);
    expect(r.out).toMatch(/Witness, variant `/);
    expect((await iospec('invariants', 'nope/nope')).code).toBe(2);
    expect((await iospec('--version')).out).toMatch(/^iospec \d+\.\d+\.\d+, upstream model: Linux 6\.18/);
  });
});

describe('INVARIANTS.md', () => {
  it('is current (regenerate with: npx iospec invariants --markdown > INVARIANTS.md)', async () => {
    const root = join(import.meta.dirname, '..');
    expect(readFileSync(join(root, 'INVARIANTS.md'), 'utf8')).toBe(invariantsMarkdown(root));
  });
});

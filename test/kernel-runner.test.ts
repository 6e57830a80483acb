/**
 * The kernel runner on this machine: cleanup when a run is killed, crash
 * exploration, diff with a partial crash (the short differential fuzz is
 * test/kernel-diff.test.ts, a file of its own so that it runs beside
 * these).  Skipped, with the reason in the test name, where the kernel
 * cannot be used (no root, no loop devices, no mkfs, no compiler).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeKernel } from '../kernel/probe.ts';
import { sweepLeftovers, WORKSPACE_ROOT } from '../kernel/workspace.ts';
import { ensureRecorder } from '../kernel/build.ts';
import { exploreCrashes } from '../kernel/crashes.ts';
import { loadScenario } from '../scenario/load.ts';
import { resolveSystem } from '../scenario/resolve.ts';
import type { Step } from '../scenario/schema.ts';
import { crashMethod, KernelUnavailable, withKernel } from '../kernel/runner.ts';
import { requestLine } from '../kernel/protocol.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'iospec.mjs');
// The scenarios this file writes, removed when it is done.
const TMP = mkdtempSync(join(tmpdir(), 'iospec-kr-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const probe = { xfs: probeKernel('xfs'), ext4: probeKernel('ext4') };
const why = probe.xfs.ok && probe.ext4.ok ? null : [...probe.xfs.missing, ...probe.ext4.missing].join('; ');
const skip = (name: string) => `${name}${why !== null ? ` — skipped: ${why}` : ''}`;

function mounts(): string {
  return readFileSync('/proc/self/mounts', 'utf8');
}

function loopBackingFiles(): string {
  try {
    return readdirSync('/sys/block')
      .filter((d) => d.startsWith('loop'))
      .map((d) => {
        try {
          return readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8').trim();
        } catch {
          return '';
        }
      })
      .join('\n');
  } catch {
    return '';
  }
}

/** A scenario that keeps the kernel busy for a few seconds (ending with a crash: the run uses the FUSE recorder). */
function longScenario(crash: boolean): string {
  const steps: unknown[] = [{ op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] }];
  for (let i = 0; i < 4000; i++) steps.push({ op: 'pwrite', fd: 'A', offset: (i % 64) * 4096, length: 4096, fill: (i % 255) + 1 }, { op: 'fsync', fd: 'A' });
  if (crash) steps.push({ op: 'crash', keep: 'none' }, { op: 'remount' });
  const f = join(mkdtempSync(join(TMP, 'long-')), 'long.json');
  writeFileSync(f, JSON.stringify({ format: 'iospec-scenario/1', system: { fs: 'ext4' }, steps }));
  return f;
}

/** Start a kernel run and wait until its file system is mounted; returns the child and its run directory. */
async function startRun(crash: boolean): Promise<{ child: ReturnType<typeof spawn>; dir: string }> {
  const child = spawn(process.execPath, [BIN, 'run', '--kernel', longScenario(crash)], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.resume();
  const prefix = `run-${child.pid}-`;
  for (let i = 0; i < 400; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const d = existsSync(WORKSPACE_ROOT) ? readdirSync(WORKSPACE_ROOT).find((x) => x.startsWith(prefix)) : undefined;
    if (d !== undefined && mounts().includes(join(WORKSPACE_ROOT, d, 'mnt'))) return { child, dir: join(WORKSPACE_ROOT, d) };
  }
  child.kill('SIGKILL');
  throw new Error('the kernel run did not mount its file system');
}

function leftovers(dir: string, recorder: number | null = null): string[] {
  const out: string[] = [];
  if (existsSync(dir)) out.push(`directory ${dir}`);
  if (mounts().includes(dir)) out.push(`mount under ${dir}`);
  if (loopBackingFiles().includes(dir)) out.push(`loop device on ${dir}/image`);
  if (recorder !== null && alive(recorder)) out.push(`FUSE recorder process ${recorder}`);
  return out;
}

/** A process that still runs (an exited one waiting to be reaped, a zombie, does not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The FUSE recorder's pid, while its run directory says it has one. */
function recorderOf(dir: string): number | null {
  try {
    return Number(readFileSync(join(dir, 'recorder.pid'), 'utf8'));
  } catch {
    return null;
  }
}

describe('kernel runner cleanup', () => {
  const recorderWhy = why ?? ('missing' in ensureRecorder() ? (ensureRecorder() as { missing: string }).missing : null);
  for (const crash of [false, true]) {
    const how = crash ? ' (through the FUSE recorder: its mount and process too)' : '';
    const w = crash ? recorderWhy : why;
    const name = (s: string) => `${s}${how}${w !== null ? ` — skipped: ${w}` : ''}`;
    it.skipIf(w !== null)(name('after SIGKILL mid-run, the next run removes the mount, the loop device and the directory'), async () => {
      const { child, dir } = await startRun(crash);
      await new Promise((r) => setTimeout(r, 300));
      const recorder = recorderOf(dir);
      if (crash) expect(recorder).not.toBeNull();
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      expect(leftovers(dir, recorder).length).toBeGreaterThan(0); // a killed run cannot clean up after itself
      const removed = sweepLeftovers();
      expect(removed).toContain(dir);
      expect(leftovers(dir, recorder)).toEqual([]);
    });

    // SIGINT (Ctrl-C) too where the FUSE recorder runs: its daemon and mount go with the run.
    for (const [sig, status] of crash ? ([['SIGTERM', 143], ['SIGINT', 130]] as const) : ([['SIGTERM', 143]] as const)) {
      it.skipIf(w !== null)(name(`on ${sig} the run cleans up before it exits`), async () => {
        const { child, dir } = await startRun(crash);
        const recorder = recorderOf(dir);
        child.kill(sig);
        const code = await new Promise((r) => child.on('exit', (c, s) => r(c ?? s)));
        expect(code).toBe(status);
        expect(leftovers(dir, recorder)).toEqual([]);
      });
    }
  }
});

describe('loop device queue settings', () => {
  // A loop device keeps max_sectors_kb, write_cache and read_ahead_kb when it is detached, and the
  // next run usually gets the same device: each run must set all three, its defaults included.
  it.skipIf(why !== null)(skip("a run gets the scenario's settings, not those of the run before on the same device"), async () => {
    const queue = (ws: { dev: string | null }, attr: string) => readFileSync(`/sys/block/${ws.dev!.replace('/dev/', '')}/queue/${attr}`, 'utf8').trim();
    const settings = (ws: { dev: string | null }) => ['max_sectors_kb', 'write_cache', 'read_ahead_kb'].map((a) => queue(ws, a));
    const steps: Step[] = [{ op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT'] }];
    const odd = resolveSystem({ fs: 'ext4', device: { maxSectorsKb: 8, writeCache: false, readAheadKb: 512 } });
    const plain = resolveSystem({ fs: 'ext4' });
    expect(await withKernel(odd, steps, async (_send, ws) => settings(ws))).toEqual(['8', 'write through', '512']);
    expect(await withKernel(plain, steps, async (_send, ws) => settings(ws))).toEqual([String(plain.device.maxSectorsKb), 'write back', String(plain.device.readAheadKb)]);
  });
});

describe('diff and run --kernel on a counterexample of a variant', () => {
  it.skipIf(why !== null)(skip('say what the kernel cannot do of the file, and compare the kernel with upstream'), () => {
    const cx = join(import.meta.dirname, '..', 'counterexamples', 'fsync-no-flush.sync--dsync-durable.1.json');
    const r = spawnSync(process.execPath, [BIN, 'diff', cx], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toMatch(/note: the file's variant fsync-no-flush is not run: the kernel is upstream/);
    // Its crash keeps none of the writes not flushed: the FUSE recorder does exactly that, no note.
    expect(r.stderr).not.toMatch(/note: step 4/);
    expect(r.stdout).toMatch(/model \(upstream\) and kernel agree on all 7 steps/);
    expect(r.status).toBe(0);
    const k = spawnSync(process.execPath, [BIN, 'run', '--kernel', cx], { encoding: 'utf8', timeout: 120_000 });
    expect(k.stderr).toMatch(/note: the file's variant fsync-no-flush is not run/);
  });
});

describe('crash exploration on the kernel (iospec crashes)', () => {
  const w = why ?? ('missing' in ensureRecorder() ? (ensureRecorder() as { missing: string }).missing : null);
  const conf = (f: string) => loadScenario(join(import.meta.dirname, 'conformance', f));
  it.skipIf(w !== null)(`enumerates crash states of the writes not flushed and judges each with the oracle${w !== null ? ` — skipped: ${w}` : ''}`, async () => {
    const r = await exploreCrashes(conf('ext4-dsync-crash.json'), { max: 12, seed: 1 });
    expect(r.crashStep).toBe(7);
    expect(r.writes.length).toBeGreaterThan(0);
    expect(r.states.map((s) => s.state.name).slice(0, 2)).toEqual(['none of the writes not flushed', 'all of them']);
    expect(r.states.length).toBe(12);
    for (const s of r.states) expect(s.violation, s.state.name).toBeNull();
  });
  it.skipIf(w !== null)(`a kernel bug shows in the states, as its known finding${w !== null ? ` — skipped: ${w}` : ''}`, async () => {
    const r = await exploreCrashes(conf('xfs-dio-sync-cow-ondisk-size.json'), { max: 4, seed: 1 });
    expect(r.states.length).toBeGreaterThan(0);
    for (const s of r.states) expect([s.violation?.invariant, s.known]).toEqual(['sync/dsync-durable', 'xfs-atomic-cow-ondisk-size']);
  });
});

describe('diff with a crash that keeps a subset', () => {
  const w = why ?? ('missing' in ensureRecorder() ? (ensureRecorder() as { missing: string }).missing : null);
  it.skipIf(w !== null)(`compares up to that crash, then judges the kernel by the oracle${w !== null ? ` — skipped: ${w}` : ''}`, () => {
    const steps = [
      { op: 'open', path: 'f', fd: 'A', flags: ['O_RDWR', 'O_CREAT', 'O_DIRECT'] },
      { op: 'pwrite', fd: 'A', offset: 0, length: 16384, fill: 1 },
      { op: 'fsync', fd: 'A' },
      { op: 'pwrite', fd: 'A', offset: 0, length: 16384, fill: 2 },
      { op: 'crash', pattern: [3] },
      { op: 'remount' },
      { op: 'open', path: 'f', fd: 'A', flags: ['O_RDONLY'] },
      { op: 'pread', fd: 'A', offset: 0, length: 16384 },
    ];
    const f = join(TMP, 'subset.json');
    writeFileSync(f, JSON.stringify({ format: 'iospec-scenario/1', system: { fs: 'xfs' }, steps }));
    const r = spawnSync(process.execPath, [BIN, 'diff', f], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toMatch(/note: step 5: this crash keeps a subset/);
    expect(r.stdout).toMatch(/agree on steps 1 to 5; step 5 is a crash that keeps a subset/);
    expect(r.stdout).toMatch(/no invariant violated after the crash/);
    expect(r.status).toBe(0);
  });
});

describe('device_error on the kernel: over the FUSE recorder, or refused with the reason', () => {
  const de = { op: 'device_error', fd: 'A', offset: 0, length: 4096 } as const satisfies Step;
  const clone = { op: 'clone', fd: 'B', src: 'A', srcOffset: 0, offset: 0, length: 4096 } as const satisfies Step;
  it('is sent to the helper', () => {
    expect(requestLine(de, 3)).toBe('step=3 op=device_error fd=A offset=0 length=4096');
  });
  it('is refused where the sectors cannot be found or failed', () => {
    expect(() => crashMethod(resolveSystem({ fs: 'btrfs' }), [de])).toThrow(/device_error on btrfs: FIEMAP's physical addresses are btrfs logical addresses/);
    expect(() => crashMethod(resolveSystem({ fs: 'xfs' }), [clone, de])).toThrow(/COW fork/);
    const old = process.env['IOSPEC_KERNEL_CRASH'];
    process.env['IOSPEC_KERNEL_CRASH'] = 'fs';
    try {
      expect(() => crashMethod(resolveSystem({ fs: 'ext4' }), [de])).toThrow(KernelUnavailable);
    } finally {
      if (old === undefined) delete process.env['IOSPEC_KERNEL_CRASH'];
      else process.env['IOSPEC_KERNEL_CRASH'] = old;
    }
  });
  it.skipIf(!('bin' in ensureRecorder()))('uses the recorder even without a crash', () => {
    expect(crashMethod(resolveSystem({ fs: 'ext4' }), [de]).name).toBe('recorder');
    expect(crashMethod(resolveSystem({ fs: 'xfs' }), [de]).name).toBe('recorder');
  });
});

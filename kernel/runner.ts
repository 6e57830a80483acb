/**
 * `iospec run --kernel`: a scenario executed on this machine's kernel, on a
 * loop-mounted image made for it, through the native helper.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { StepResult } from '../model/system.ts';
import { PlacementOrigin } from '../scenario/placement.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import type { Step } from '../scenario/schema.ts';
import { LOOP_DEVICE_DEFAULTS } from '../model/block/blk-settings.ts';
import { ensureHelper, ensureRecorder } from './build.ts';
import { probeKernel } from './probe.ts';
import { requestLine } from './protocol.ts';
import { join } from 'node:path';
import { sweepLeftovers, Workspace } from './workspace.ts';
import { fsTypeOf } from '../model/filesystems.ts';
import type { KernelFs } from '../model/fs/registry.ts';

export class KernelUnavailable extends Error {}

/**
 * Why this system cannot be set up with a loop device on this kernel, or
 * null.  (The model can configure devices a loop device cannot be.)
 */
export function kernelUnsupportedReason(s: ResolvedSystem): string | null {
  const d = s.device;
  const loop = LOOP_DEVICE_DEFAULTS;
  if (kernelFs(s) === null) return `${s.fs} is modelled only (its type has no kernel runner)`;
  if (d.atomicWriteUnitMax > 0 || d.atomicWriteUnitMin > 0) return 'a loop device has no hardware atomic writes';
  if (d.inlineCrypto !== false) return 'a loop device has no inline encryption engine';
  if (d.stableWrites) return 'a loop device does not require stable writes';
  if (d.fua) return 'a loop device does not support FUA';
  if (d.physicalBlockSize !== d.logicalBlockSize) return 'a loop device has physical block size = logical block size';
  if (d.dmaAlignment !== 511) return "a loop device's dma_alignment is 511";
  if (d.maxHwSectorsKb !== loop.maxHwSectorsKb) return "a loop device's max_hw_sectors_kb is 1280";
  if (d.maxSegments !== loop.maxSegments || d.maxSegmentSize !== loop.maxSegmentSize || d.virtBoundary !== 0) return 'a loop device\'s segment limits cannot be changed';
  if (s.folioSize !== 0) return 'a fixed page cache folio size is a model knob (the kernel sizes folios itself: folioSize 0)';
  return null;
}

/** How this machine's kernel makes the system's file system, or null when the model alone knows it. */
export function kernelFs(s: ResolvedSystem): KernelFs | null {
  return fsTypeOf(s).harness.kernel;
}

/** The mkfs command line for the system (the device is appended). */
export function mkfsCommand(s: ResolvedSystem): [string, string[]] {
  const k = kernelFs(s);
  if (k === null) throw new KernelUnavailable(`${s.fs} is modelled only; this iospec cannot make it on the kernel`);
  return k.mkfs(s);
}

export function sysfsSettings(s: ResolvedSystem): Array<[string, string]> {
  // All three always: a loop device keeps them when it is detached, so a device set up for an
  // earlier scenario (or reproducer) would pass its max_sectors_kb on to the next one.
  const out: Array<[string, string]> = [['max_sectors_kb', String(s.device.maxSectorsKb)]];
  // A loop device's cache mode depends on how it was set up; make it what the scenario says.
  out.push(['write_cache', s.device.writeCache ? 'write back' : 'write through']);
  // Its readahead window depends on the kernel version; the same.
  out.push(['read_ahead_kb', String(s.device.readAheadKb)]);
  return out;
}

export interface KernelRunOptions {
  /** Per-step time limit. */
  readonly stepTimeoutMs?: number;
  readonly onResult?: (r: StepResult) => void;
}

/**
 * How a run crashes: through the FUSE recorder (a power cut under the loop
 * device; what survives of the writes not yet flushed is the crash's keep)
 * wherever it runs, unless IOSPEC_KERNEL_CRASH=fs asks for the file
 * system's own method (the shutdown ioctl, or a copy of the image), which a
 * crash keeping only part of the writes cannot use.  A scenario with
 * device_error always runs over the FUSE recorder (it fails the sectors),
 * or is refused.
 */
export function crashMethod(system: ResolvedSystem, steps: readonly Step[]): { recorder: string | null; name: 'recorder' | 'shutdown' | 'image-copy' } {
  const own = kernelFs(system)!.crash;
  if (steps.some((s) => s.op === 'device_error')) {
    // Failing sectors: the FUSE device returns EIO for them (kernel/helper/iospec-blkrec.c), nothing else can here.
    const refused = kernelFs(system)!.deviceErrorRefusal(steps);
    if (refused !== null) throw new KernelUnavailable(refused);
    if (process.env['IOSPEC_KERNEL_CRASH'] === 'fs') throw new KernelUnavailable(`device_error needs the FUSE device under the loop device (IOSPEC_KERNEL_CRASH=fs asks for ${own})`);
    const r = ensureRecorder();
    if ('bin' in r) return { recorder: r.bin, name: 'recorder' };
    throw new KernelUnavailable(`device_error needs the FUSE device under the loop device: ${r.missing}`);
  }
  const partial = steps.some((s) => s.op === 'crash' && ((s.keep !== undefined && s.keep !== 'all') || s.pattern !== undefined));
  if (!steps.some((s) => s.op === 'crash')) return { recorder: null, name: own };
  if (process.env['IOSPEC_KERNEL_CRASH'] === 'fs') {
    if (partial) throw new KernelUnavailable(`a crash that keeps only part of the writes needs the FUSE recorder (IOSPEC_KERNEL_CRASH=fs asks for ${own})`);
    return { recorder: null, name: own };
  }
  const r = ensureRecorder();
  if ('bin' in r) return { recorder: r.bin, name: 'recorder' };
  if (partial) throw new KernelUnavailable(`a crash that keeps only part of the writes needs the FUSE recorder: ${r.missing}`);
  return { recorder: null, name: own };
}

/** Run `steps` on the real kernel. Throws KernelUnavailable when it cannot. */
export async function runOnKernel(system: ResolvedSystem, steps: readonly Step[], opts: KernelRunOptions = {}): Promise<StepResult[]> {
  return withKernel(system, steps, async (send) => {
    const results: StepResult[] = [];
    for (let i = 0; i < steps.length; i++) {
      const r = await send(requestLine(steps[i]!, i + 1), opts.stepTimeoutMs);
      results.push(r);
      opts.onResult?.(r);
    }
    return results;
  });
}

/** A request to the helper and its answer (kernel/helper/README.md). */
export type KernelSend = (line: string, timeoutMs?: number) => Promise<StepResult>;

/**
 * A file system made on this kernel as the system says, mounted, with the
 * helper ready for requests: `fn` sends them.  `steps` are the scenario's
 * (they decide how it crashes).  Everything is removed afterwards.
 */
export async function withKernel<T>(system: ResolvedSystem, steps: readonly Step[], fn: (send: KernelSend, ws: Workspace) => Promise<T>): Promise<T> {
  const reason = kernelUnsupportedReason(system);
  if (reason !== null) throw new KernelUnavailable(reason);
  const probe = probeKernel(system.fs);
  if (!probe.ok) throw new KernelUnavailable(probe.missing.join('; '));
  sweepLeftovers();
  const helper = ensureHelper();
  const ws = new Workspace();
  try {
    const kfs = kernelFs(system)!;
    const mountOpts = [...system.mount, ...(kfs.mountOptions ?? [])].join(',');
    const method = crashMethod(system, steps);
    ws.setUp(system.device.sizeMiB, system.device.logicalBlockSize, mkfsCommand(system), system.fs, mountOpts, sysfsSettings(system), system.device.fill, method.recorder);
    const args = ['--mnt', ws.mnt, '--dev', ws.dev!, '--fstype', system.fs];
    if (mountOpts !== '') args.push('--mntopts', mountOpts);
    // The recorder cuts the power and builds the crash image from its write log; without it, a file
    // system with no shutdown ioctl crashes by a copy of the backing image, which the remount mounts.
    if (ws.recorder !== null) args.push('--image', ws.image, '--recorder', String(ws.recorder.pid), '--log', ws.recorder.log);
    else if (kfs.crash === 'image-copy') args.push('--image', ws.image, '--crash-copy', join(ws.dir, 'crash-image'));
    const child = spawn(helper, args, { cwd: ws.mnt, stdio: ['pipe', 'pipe', 'pipe'] });
    ws.children.push(child);
    const lines = createInterface({ input: child.stdout });
    const queue: string[] = [];
    let waiter: ((l: string | null) => void) | null = null;
    let closed = false;
    lines.on('line', (l) => {
      if (waiter !== null) {
        const w = waiter;
        waiter = null;
        w(l);
      } else queue.push(l);
    });
    lines.on('close', () => {
      closed = true;
      if (waiter !== null) waiter(null);
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const next = (timeout: number): Promise<string | null> =>
      new Promise((resolve, reject) => {
        const q = queue.shift();
        if (q !== undefined) return resolve(q);
        if (closed) return resolve(null);
        const t = setTimeout(() => {
          waiter = null;
          reject(new Error(`the kernel did not answer within ${timeout / 1000}s`));
        }, timeout);
        waiter = (l) => {
          clearTimeout(t);
          resolve(l);
        };
      });
    const placement = new PlacementOrigin();
    const send: KernelSend = async (line, timeoutMs) => {
      child.stdin.write(`${line}\n`);
      const answer = await next(timeoutMs ?? 120000);
      if (answer === null) throw new Error(`the helper exited early: ${stderr.trim()}`);
      const r = JSON.parse(answer) as StepResult & { error?: string };
      // After a remount that failed (its own answer says how), nothing is mounted to run the steps on.
      if (r.error !== undefined && r.error.startsWith('file system not mounted')) return { step: r.step, op: r.op, unsupported: 'the file system is not mounted (the remount failed)' };
      if (r.error !== undefined) throw new Error(`helper rejected ${line.split(' ').slice(0, 2).join(' ')}: ${r.error}`);
      const st = steps[r.step - 1];
      if (st?.op === 'fiemap' && st.placement === true && r.extents !== undefined) r.placement = placement.of(r.extents);
      return r;
    };
    const out = await fn(send, ws);
    child.stdin.end();
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) resolve();
      else child.on('exit', () => resolve());
    });
    return out;
  } finally {
    ws.dispose();
  }
}

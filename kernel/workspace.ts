/**
 * The kernel runner's footprint on the machine: one directory per run under
 * iospec-kernel in /dev/shm (or $TMPDIR, see workspaceBase) holding the image and the mount point, the loop
 * device bound to that image (or to the FUSE recorder's file serving it,
 * with the recorder's mount and process), and nothing else.  Everything is removed on
 * success, on error, on SIGINT/SIGTERM and at process exit; a run that finds
 * the directory of a run whose process is gone (SIGKILL) removes it first.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the run directories go: $IOSPEC_KERNEL_TMPDIR when set, else
 * /dev/shm when it is a writable tmpfs, else $TMPDIR.  On tmpfs the loop
 * device's writes stay in memory: a scenario runs about a fifth faster
 * than over a disk-backed /tmp (measured with `diff --fuzz`), and runs in
 * parallel stop waiting on the disk.  The file system under test does not
 * see the difference (the loop driver does buffered I/O on its backing
 * file either way, a flush being an fsync of that file).
 */
function workspaceBase(): string {
  const env = process.env['IOSPEC_KERNEL_TMPDIR'];
  if (env !== undefined && env !== '') return env;
  return defaultBase();
}

/** Why $IOSPEC_KERNEL_TMPDIR cannot hold the run directories (it must be a writable directory), or null. */
export function workspaceProblem(): string | null {
  const env = process.env['IOSPEC_KERNEL_TMPDIR'];
  if (env === undefined || env === '') return null;
  try {
    if (!statSync(env).isDirectory()) return `IOSPEC_KERNEL_TMPDIR=${env} is not a directory`;
    accessSync(env, constants.W_OK);
    return null;
  } catch (e) {
    return `IOSPEC_KERNEL_TMPDIR=${env}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (it must be a writable directory)`;
  }
}

function defaultBase(): string {
  try {
    const tmpfs = readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => {
      const [, at, type] = l.split(' ');
      return at === '/dev/shm' && type === 'tmpfs';
    });
    if (tmpfs) {
      accessSync('/dev/shm', constants.W_OK);
      return '/dev/shm';
    }
  } catch {
    // no /proc, or /dev/shm not writable
  }
  return tmpdir();
}

export const WORKSPACE_ROOT = join(workspaceBase(), 'iospec-kernel');

function sh(cmd: string, args: string[], timeout = 60000): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout });
}

function tryRun(cmd: string, args: string[]): boolean {
  try {
    sh(cmd, args, 30000);
    return true;
  } catch {
    return false;
  }
}

function isMounted(path: string): boolean {
  try {
    const mounts = readFileSync('/proc/self/mounts', 'utf8');
    return mounts.split('\n').some((l) => l.split(' ')[1] === path);
  } catch {
    return false;
  }
}

/** The loop devices whose backing file is `file` (from sysfs: works when the file can no longer be stat'ed). */
function loopsOf(file: string): string[] {
  const out: string[] = [];
  try {
    for (const name of readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
      try {
        if (readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim() === file) out.push(`/dev/${name}`);
      } catch {
        // not bound
      }
    }
  } catch {
    // no sysfs
  }
  return out;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Unmount, detach and delete a run directory (idempotent, synchronous). */
export function removeRunDir(dir: string): void {
  const mnt = join(dir, 'mnt');
  for (let i = 0; i < 10 && isMounted(mnt); i++) {
    if (tryRun('umount', [mnt])) break;
    sleepMs(200);
  }
  if (isMounted(mnt)) tryRun('umount', ['-l', mnt]);
  const image = join(dir, 'image');
  const fuse = join(dir, 'fuse');
  for (const dev of [...loopsOf(image), ...loopsOf(join(fuse, 'disk'))]) tryRun('losetup', ['-d', dev]);
  // The FUSE recorder: unmounting its file system ends it; a process that is still there is killed.
  for (let i = 0; i < 10 && isMounted(fuse); i++) {
    if (tryRun('umount', [fuse])) break;
    sleepMs(100);
  }
  if (isMounted(fuse)) tryRun('umount', ['-l', fuse]);
  try {
    const pid = Number(readFileSync(join(dir, 'recorder.pid'), 'utf8'));
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
  } catch {
    // no recorder
  }
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // Something in it is still busy (a mount that would not go): the next sweep removes it.
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove the run directories of processes that no longer exist. Returns what was removed. */
export function sweepLeftovers(): string[] {
  if (!existsSync(WORKSPACE_ROOT)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(WORKSPACE_ROOT)) {
    const dir = join(WORKSPACE_ROOT, name);
    let pid = -1;
    try {
      pid = (JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as { pid: number }).pid;
    } catch {
      pid = -1;
    }
    if (pid > 0 && alive(pid)) continue;
    // A directory another process is creating this instant has no owner file yet.
    if (pid < 0) {
      try {
        if (Date.now() - statSync(dir).mtimeMs < 10_000) continue;
      } catch {
        continue; // removed meanwhile
      }
    }
    removeRunDir(dir);
    if (!existsSync(dir)) removed.push(dir);
  }
  return removed;
}

const active = new Set<Workspace>();
let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanAll = (): void => {
    for (const w of [...active]) w.dispose();
  };
  process.on('exit', cleanAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      cleanAll();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

let seq = 0;

export class Workspace {
  readonly dir: string;
  readonly image: string;
  readonly mnt: string;
  dev: string | null = null;
  /** The FUSE recorder under the loop device, when the run uses it. */
  recorder: { readonly pid: number; readonly log: string } | null = null;
  /** Processes to kill on dispose (the helper). */
  readonly children: Array<{ kill(sig?: NodeJS.Signals): boolean }> = [];
  private disposed = false;

  constructor() {
    installHandlers();
    mkdirSync(WORKSPACE_ROOT, { recursive: true });
    this.dir = join(WORKSPACE_ROOT, `run-${process.pid}-${++seq}-${Date.now().toString(36)}`);
    this.image = join(this.dir, 'image');
    this.mnt = join(this.dir, 'mnt');
    mkdirSync(this.dir);
    writeFileSync(join(this.dir, 'owner.json'), JSON.stringify({ pid: process.pid, created: new Date().toISOString() }));
    mkdirSync(this.mnt);
    active.add(this);
  }

  /**
   * Make the image (sparse, or every byte `fill`: a used disk's old
   * contents, which mkfs must then not discard), bind a loop device, mkfs,
   * mount.
   */
  setUp(sizeMiB: number, sectorSize: number, mkfs: [string, string[]], fstype: string, mountOpts: string, sysfs: Array<[string, string]>, fill = 0, recorder: string | null = null): void {
    if (fill === 0) {
      writeFileSync(this.image, '');
      truncateSync(this.image, sizeMiB * 1024 * 1024);
    } else fillImage(this.image, sizeMiB, fill);
    const args = ['-f', '--show'];
    if (sectorSize !== 512) args.push('--sector-size', String(sectorSize));
    args.push(recorder === null ? this.image : this.startRecorder(recorder, sysfs.some(([k, v]) => k === 'write_cache' && v === 'write through')));
    this.dev = sh('losetup', args).trim();
    const name = this.dev.replace('/dev/', '');
    // Only what differs: a write to write_cache or max_sectors_kb freezes the queue (about 20 ms),
    // even when it writes the value already there.
    for (const [attr, value] of sysfs) {
      const file = `/sys/block/${name}/queue/${attr}`;
      if (readFileSync(file, 'utf8').trim() !== value) writeFileSync(file, value);
    }
    sh(mkfs[0], [...mkfs[1], this.dev], 120000);
    const margs = ['-t', fstype];
    if (mountOpts !== '') margs.push('-o', mountOpts);
    sh('mount', [...margs, this.dev, this.mnt]);
  }

  /**
   * Start the FUSE recorder (kernel/helper/iospec-blkrec.c) serving the
   * image as fuse/disk, which the loop device then uses: it logs every write
   * since the last flush, and a crash cuts its power.  Returns the file.
   */
  private startRecorder(bin: string, writethrough: boolean): string {
    const fuse = join(this.dir, 'fuse');
    const log = join(this.dir, 'writes.log');
    mkdirSync(fuse);
    const child = spawn(bin, [this.image, log, fuse, ...(writethrough ? ['writethrough'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    if (child.pid === undefined) throw new Error('the FUSE recorder did not start');
    writeFileSync(join(this.dir, 'recorder.pid'), String(child.pid));
    const disk = join(fuse, 'disk');
    for (let i = 0; i < 500 && !isMounted(fuse); i++) sleepMs(10);
    if (!isMounted(fuse) || !existsSync(disk)) throw new Error(`the FUSE recorder did not start: ${stderr.trim() || 'no mount after 5 s'}`);
    this.recorder = { pid: child.pid, log };
    return disk;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const c of this.children) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    removeRunDir(this.dir);
    active.delete(this);
  }
}

/** An image of `sizeMiB` MiB with every byte `fill`. */
function fillImage(path: string, sizeMiB: number, fill: number): void {
  const mib = Buffer.alloc(1 << 20, fill);
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < sizeMiB; i++) writeSync(fd, mib);
  } finally {
    closeSync(fd);
  }
}

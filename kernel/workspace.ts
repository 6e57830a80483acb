/**
 * The kernel runner's footprint on the machine: one directory per run under
 * $TMPDIR/iospec-kernel holding the image and the mount point, the loop
 * device bound to that image, and nothing else.  Everything is removed on
 * success, on error, on SIGINT/SIGTERM and at process exit; a run that finds
 * the directory of a run whose process is gone (SIGKILL) removes it first.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const WORKSPACE_ROOT = join(tmpdir(), 'iospec-kernel');

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

function loopsOf(image: string): string[] {
  try {
    const out = sh('losetup', ['-j', image]);
    return out
      .split('\n')
      .map((l) => l.split(':')[0] ?? '')
      .filter((d) => d.startsWith('/dev/loop'));
  } catch {
    return [];
  }
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
  for (const dev of loopsOf(image)) tryRun('losetup', ['-d', dev]);
  rmSync(dir, { recursive: true, force: true });
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
    removed.push(dir);
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
  setUp(sizeMiB: number, sectorSize: number, mkfs: [string, string[]], fstype: string, mountOpts: string, sysfs: Array<[string, string]>, fill = 0): void {
    if (fill === 0) sh('truncate', ['-s', `${sizeMiB}M`, this.image]);
    else fillImage(this.image, sizeMiB, fill);
    const args = ['-f', '--show'];
    if (sectorSize !== 512) args.push('--sector-size', String(sectorSize));
    args.push(this.image);
    this.dev = sh('losetup', args).trim();
    const name = this.dev.replace('/dev/', '');
    for (const [attr, value] of sysfs) writeFileSync(`/sys/block/${name}/queue/${attr}`, value);
    sh(mkfs[0], [...mkfs[1], this.dev], 120000);
    const margs = ['-t', fstype];
    if (mountOpts !== '') margs.push('-o', mountOpts);
    sh('mount', [...margs, this.dev, this.mnt]);
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

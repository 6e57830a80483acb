/**
 * What the kernel runner needs from this machine, and how to get it.
 */
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { get_fs_type } from '../model/filesystems.ts';
import { workspaceProblem } from './workspace.ts';

export interface Probe {
  readonly ok: boolean;
  /** One line per missing capability, saying how to get it. */
  readonly missing: string[];
}

function which(cmd: string): boolean {
  for (const dir of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (existsSync(`${dir}/${cmd}`)) return true;
  }
  return false;
}

function filesystems(): string {
  try {
    return execFileSync('cat', ['/proc/filesystems'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

let cached: Map<string, Probe> = new Map();

/** Probe for running scenarios of file system `fs` (a registered type) on the real kernel. */
export function probeKernel(fs: string): Probe {
  const have = cached.get(fs);
  if (have !== undefined) return have;
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('not Linux');
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) missing.push('needs root (loop devices and mount); run as root');
  if (!existsSync('/dev/loop-control')) missing.push('no /dev/loop-control: loop devices unavailable (modprobe loop, or a machine that allows them)');
  if (!which('losetup')) missing.push('no losetup: apt-get install -y mount');
  if (!which('mount') || !which('umount')) missing.push('no mount/umount: apt-get install -y mount');
  if (!which('cc') && !which('gcc')) missing.push('no C compiler for the helper: apt-get install -y gcc libc6-dev');
  const ws = workspaceProblem();
  if (ws !== null) missing.push(ws);
  const k = get_fs_type(fs)?.harness.kernel ?? null;
  if (k === null) missing.push(`${fs} is modelled only (no kernel runner for it)`);
  for (const t of k?.tools ?? []) if (!which(t.cmd)) missing.push(`no ${t.cmd}: apt-get install -y ${t.pkg}`);
  const fss = filesystems();
  if (fss !== '' && !new RegExp(`\\b${fs}\\b`).test(fss)) missing.push(`the kernel has no ${fs} (modprobe ${fs})`);
  const p = { ok: missing.length === 0, missing };
  cached.set(fs, p);
  return p;
}

export function resetProbeCache(): void {
  cached = new Map();
}

/**
 * IOSPEC_KERNEL_TMPDIR, where the kernel runner puts its run directories:
 * anything but a writable directory is one clear reason the kernel cannot
 * be used (probeKernel reports it; `diff` exits 4 naming it), never a
 * crash or a hang (Node's recursive mkdir spins under /proc).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { workspaceProblem } from '../../kernel/workspace.ts';

describe('IOSPEC_KERNEL_TMPDIR', () => {
  const saved = process.env['IOSPEC_KERNEL_TMPDIR'];
  afterEach(() => {
    if (saved === undefined) delete process.env['IOSPEC_KERNEL_TMPDIR'];
    else process.env['IOSPEC_KERNEL_TMPDIR'] = saved;
  });
  const problem = (v: string | undefined): string | null => {
    if (v === undefined) delete process.env['IOSPEC_KERNEL_TMPDIR'];
    else process.env['IOSPEC_KERNEL_TMPDIR'] = v;
    return workspaceProblem();
  };
  it('unset, empty or a writable directory: no problem', () => {
    expect(problem(undefined)).toBeNull();
    expect(problem('')).toBeNull();
    expect(problem(tmpdir())).toBeNull();
  });
  it('a missing path or a file: named, with what it must be', () => {
    expect(problem('/proc/nope')).toBe('IOSPEC_KERNEL_TMPDIR=/proc/nope: ENOENT (it must be a writable directory)');
    expect(problem('/etc/passwd')).toBe('IOSPEC_KERNEL_TMPDIR=/etc/passwd is not a directory');
  });
});

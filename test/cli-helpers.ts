/**
 * The command's main function run in this process with its output captured:
 * the same code as the binary runs (bin/iospec.mjs calls main with argv),
 * without a Node start per call.
 */
import { main } from '../cli/main.ts';

export async function iospec(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = process.stdout.write;
  const stderr = process.stderr.write;
  const capture = (sink: (s: string) => void): typeof process.stdout.write =>
    ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      rest.find((x): x is () => void => typeof x === 'function')?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture((x) => (out += x));
  process.stderr.write = capture((x) => (err += x));
  try {
    return { code: await main(args), out, err };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
}

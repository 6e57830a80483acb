/**
 * Scenario steps as request lines for the native helper
 * (kernel/helper/README.md).  One function per op, so adding a step to the
 * kernel runner is one case here and one handler in iospec-helper.c.
 */
import type { Step } from '../scenario/schema.ts';
import { MODEL_ONLY_OPS } from '../scenario/schema.ts';

/** The span of each file the helper's kept mapping covers (MAP_SPAN in iospec-helper.c). */
export const HELPER_MAP_SPAN = 2 ** 36;

function flags(list: readonly string[] | undefined): string {
  return list === undefined || list.length === 0 ? '0' : list.join('|');
}

/**
 * A step the kernel runner does not send (the helper answers it
 * "unsupported"): a model-only op; a store racing with a write's I/O, which
 * cannot be timed on a real machine; a store through mmap past the span the
 * helper keeps mapped.
 */
export function modelOnlyStep(step: Step): boolean {
  return MODEL_ONLY_OPS.has(step.op) || (step.op === 'pwrite' && step.storeDuringIo !== undefined) || (step.op === 'mmap_write' && step.offset + step.length > HELPER_MAP_SPAN);
}

export function requestLine(step: Step, n: number): string {
  const head = `step=${n} op=${step.op}`;
  if (modelOnlyStep(step)) return `step=${n} op=unsupported name=${step.op}`;
  switch (step.op) {
    case 'open':
      return `${head} path=${step.path} fd=${step.fd} flags=${flags(step.flags)}`;
    case 'close':
      return `${head} fd=${step.fd}`;
    case 'mkdir':
      return `${head} path=${step.path}`;
    case 'encrypt_dir':
      return `${head} path=${step.path} key=${step.key ?? 'iospec'} log2dus=${step.log2DataUnitSize ?? 0}${step.flags !== undefined && step.flags.length > 0 ? ` flags=${step.flags.join('|')}` : ''}`;
    case 'pwrite': {
      const iov = step.iov ?? [{ length: step.length ?? 0, fill: step.fill ?? 0, bufOffset: step.bufOffset }];
      return `${head} fd=${step.fd} offset=${step.offset} iov=${iov.map((v) => `${v.length}:${v.fill}:${v.bufOffset ?? 0}`).join(',')} flags=${flags(step.flags)}`;
    }
    case 'pread':
      return `${head} fd=${step.fd} offset=${step.offset} length=${step.length} bufoff=${step.bufOffset ?? 0} flags=${flags(step.flags)}`;
    case 'fsync':
    case 'fdatasync':
      return `${head} fd=${step.fd}`;
    case 'ftruncate':
      return `${head} fd=${step.fd} length=${step.length}`;
    case 'fallocate':
      return `${head} fd=${step.fd} mode=${step.mode === 0 ? '0' : flags(step.mode)} offset=${step.offset} length=${step.length}`;
    case 'clone':
      return `${head} fd=${step.fd} src=${step.src} srcoffset=${step.srcOffset} offset=${step.offset} length=${step.length}`;
    case 'mmap_write':
      return `${head} fd=${step.fd} offset=${step.offset} length=${step.length} fill=${step.fill}`;
    case 'statx':
      return `${head} fd=${step.fd} mask=${flags(step.mask ?? ['STATX_BASIC_STATS'])}`;
    case 'setflags':
      return `${head} fd=${step.fd} flags=${flags(step.flags)}`;
    case 'fiemap':
      return `${head} fd=${step.fd}${step.length !== undefined && step.length > 0 ? ` length=${step.length}` : ''}`;
    case 'crash': {
      // What survives of the writes not yet durable (the FUSE recorder applies it).
      const keep = step.keep === undefined || typeof step.keep === 'string' ? (step.keep ?? 'all') : step.keep.map(([i, s, c]) => `${i}:${s}:${c}`).join(',');
      return `${head} keep=${keep}${step.pattern !== undefined ? ` pattern=${step.pattern.join(',')}` : ''}`;
    }
    case 'sync':
    case 'remount':
      return head;
    case 'device_error':
      // The FUSE device under the loop device fails the sectors mapped there now (the runner uses it: crashMethod).
      return `${head} fd=${step.fd} offset=${step.offset} length=${step.length}`;
    case 'writeback':
    case 'complete':
    case 'journal_commit':
    case 'reclaim':
      // MODEL_ONLY_OPS, answered above.
      return `step=${n} op=unsupported name=${step.op}`;
    default: {
      const unhandled: never = step;
      throw new Error(`no request line for ${JSON.stringify(unhandled)}`);
    }
  }
}

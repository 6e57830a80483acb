/**
 * Comparing a model result with the kernel's answer for the same step.
 * Physical block addresses (fiemap `physical`) are not compared as they
 * are: where the allocator puts blocks is not part of the specification.
 * A fiemap step that asks for `placement` compares their shape (relative
 * addresses, contiguity: scenario/placement.ts).
 */
import type { StepResult } from '../model/system.ts';

export interface Disagreement {
  readonly field: string;
  readonly model: unknown;
  readonly kernel: unknown;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function outcome(r: StepResult): string {
  if (r.unsupported !== undefined) return 'unsupported';
  if (r.signal !== undefined) return r.signal;
  if (r.errno !== undefined) return r.errno;
  return `ret ${r.ret ?? 0}`;
}

/** Null when they agree, else the first field that differs. */
export function compareResults(model: StepResult, kernel: StepResult): Disagreement | null {
  if (kernel.unsupported !== undefined) return null;
  const mo = outcome(model);
  const ko = outcome(kernel);
  if (mo !== ko) return { field: 'result', model: mo, kernel: ko };
  if (kernel.data !== undefined && !same(model.data, kernel.data)) return { field: 'data', model: model.data, kernel: kernel.data };
  if (kernel.statx !== undefined) {
    const ks = kernel.statx;
    const ms = model.statx ?? {};
    for (const key of new Set([...Object.keys(ks), ...Object.keys(ms)])) {
      if (ks[key] !== ms[key]) return { field: `statx.${key}`, model: ms[key], kernel: ks[key] };
    }
  }
  if (kernel.extents !== undefined) {
    const strip = (es: StepResult['extents']) => (es ?? []).map((e) => ({ logical: e.logical, length: e.length, flags: e.flags }));
    if (!same(strip(model.extents), strip(kernel.extents))) return { field: 'extents', model: strip(model.extents), kernel: strip(kernel.extents) };
  }
  if (kernel.placement !== undefined && !same(model.placement, kernel.placement)) return { field: 'placement', model: model.placement, kernel: kernel.placement };
  return null;
}

/** Small integer helpers named after include/linux/math.h and log2.h. */

export function roundDown(x: number, a: number): number {
  return x - (x % a);
}

export function roundUp(x: number, a: number): number {
  const r = x % a;
  return r === 0 ? x : x + (a - r);
}

export function isPowerOf2(x: number): boolean {
  return x > 0 && Number.isInteger(x) && 2 ** Math.round(Math.log2(x)) === x;
}

export function ilog2(x: number): number {
  return Math.floor(Math.log2(x));
}

export function roundDownPowOf2(x: number): number {
  return x <= 0 ? 0 : 2 ** ilog2(x);
}

export function isAligned(x: number, a: number): boolean {
  return x % a === 0;
}

export function min(a: number, b: number): number {
  return a < b ? a : b;
}

export function max(a: number, b: number): number {
  return a > b ? a : b;
}

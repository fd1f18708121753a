import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Every timed loop stops at whichever comes first: `maxOps` operations or `seconds`. */
export interface Bounds {
  maxOps: number;
  seconds: number;
}

/** Untimed warm-up before a measurement, bounded the same way. */
export interface Phase {
  warmup: Bounds;
  measure: Bounds;
}

export interface Rate {
  ops: number;
  seconds: number;
  perSecond: number;
}

export function rateOf(ops: number, ms: number): Rate {
  const seconds = ms / 1000;
  return { ops, seconds, perSecond: seconds > 0 ? ops / seconds : 0 };
}

export function nowMs(): number {
  return performance.now();
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A fresh directory under the OS temp dir, removed after `fn` whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

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

/**
 * Runs `one` (one synchronous operation) through the warm-up, untimed, then
 * through the measured phase; each stops at its count or its time.
 */
export function measureLoop(phase: Phase, one: () => void): Rate {
  const loop = (bounds: Bounds): Rate => {
    const start = nowMs();
    const deadline = start + bounds.seconds * 1000;
    let done = 0;
    while (done < bounds.maxOps && nowMs() < deadline) {
      one();
      done++;
    }
    return rateOf(done, nowMs() - start);
  };
  loop(phase.warmup);
  return loop(phase.measure);
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

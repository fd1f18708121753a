import { CairnError } from '../core/errors.js';
import { LruMap } from '../core/lru-map.js';

/** A rate: `perMinute` sustained, up to `burst` at once. */
export interface KvRate {
  perMinute: number;
  burst: number;
}

/** Per-install rate limits (SPEC §12): off unless configured (reads 200/min burst 400, writes 60/min burst 180 suggested). */
export interface KvRateLimits {
  read: KvRate;
  write: KvRate;
}

export const SUGGESTED_KV_RATES: Readonly<KvRateLimits> = Object.freeze({
  read: { perMinute: 200, burst: 400 },
  write: { perMinute: 60, burst: 180 },
});

/** Installs whose buckets are kept (a forgotten one starts full again). */
const BUCKETS_KEPT = 100_000;

/**
 * Token buckets per (space, install, read|write), in memory per process.
 * Over the limit is `429 RateLimited` with how long until the next token
 * (`retryAfterSec`, the `Retry-After` header).
 */
export class KvRateLimiter {
  private readonly buckets = new LruMap<string, { tokens: number; atMs: number }>(BUCKETS_KEPT);

  constructor(
    private readonly limits: KvRateLimits,
    private readonly now: () => number = Date.now,
  ) {}

  take(space: string, install: string, kind: 'read' | 'write'): void {
    const rate = this.limits[kind];
    const key = JSON.stringify([space, install, kind]);
    const nowMs = this.now();
    const b = this.buckets.get(key) ?? { tokens: rate.burst, atMs: nowMs };
    b.tokens = Math.min(rate.burst, b.tokens + ((nowMs - b.atMs) * rate.perMinute) / 60_000);
    b.atMs = nowMs;
    this.buckets.set(key, b);
    if (b.tokens < 1) {
      const retryAfterSec = Math.max(1, Math.ceil(((1 - b.tokens) * 60) / rate.perMinute));
      throw new RateLimitedError(retryAfterSec, kind);
    }
    b.tokens -= 1;
  }
}

/** `RateLimited` with the seconds a client should wait. */
export class RateLimitedError extends CairnError {
  constructor(
    readonly retryAfterSec: number,
    kind: string,
  ) {
    super('RateLimited', `too many ${kind}s for this install: retry after ${retryAfterSec} s`, {
      limit: `kv.${kind}`,
    });
  }
}

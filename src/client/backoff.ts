/** Reconnect delays: doubling from `minMs` to `maxMs`, each jittered to 50-100 %. */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Uniform in [0, 1); seeded in tests. */
  random: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 100, maxMs: 10_000, random: Math.random };

/**
 * The delay before reconnect attempt `attempt` (0 for the first). Jitter
 * keeps a fleet of clients that lost the same server from coming back in
 * lockstep.
 */
export function backoffDelayMs(attempt: number, o: BackoffOptions): number {
  const ceiling = Math.min(o.maxMs, o.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + o.random() / 2));
}

/**
 * Every bounded quantity has a name here (SPEC §10). Defaults are the SPEC's;
 * each is configurable through `createCairn({ limits })`.
 */
export interface Limits {
  /** Largest HTTP request body accepted. */
  maxRequestBytes: number;
  /** Largest single change (decoded bytes). */
  maxChangeBytes: number;
  /** Writes per transaction. */
  maxWritesPerTx: number;
  /** Reads per transaction (not in SPEC §10; bounded like writes). */
  maxReadsPerTx: number;
  /** Changes per write. */
  maxChangesPerWrite: number;
  /** Heads listed in one `heads`, `baseHeads` or selector. */
  maxHeadsPerRef: number;
  /** Open spaces kept in the storage handle LRU (each holds a writer and a reader connection). */
  maxOpenSpaces: number;
  /** How long committed `clientTxId`s are remembered. */
  idempotencyRetentionMs: number;
  /** Transactions merged into one database transaction by group commit. */
  maxTxPerBatch: number;
  /** Transactions waiting in one space's write queue before `RateLimited`. */
  maxQueuedTxPerSpace: number;
  /** Items in one page of a paged route. */
  maxPageItems: number;
  /** Estimated memory of materialized docs kept for hot reads. */
  materializedCacheBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxRequestBytes: 16 * 1024 * 1024,
  maxChangeBytes: 4 * 1024 * 1024,
  maxWritesPerTx: 100,
  maxReadsPerTx: 100,
  maxChangesPerWrite: 10_000,
  maxHeadsPerRef: 1_000,
  maxOpenSpaces: 256,
  idempotencyRetentionMs: 24 * 60 * 60 * 1000,
  maxTxPerBatch: 256,
  maxQueuedTxPerSpace: 10_000,
  maxPageItems: 10_000,
  materializedCacheBytes: 256 * 1024 * 1024,
});

export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  return { ...DEFAULT_LIMITS, ...overrides };
}

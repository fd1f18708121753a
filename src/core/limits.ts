/**
 * Every bounded quantity has a name here (SPEC §10), with the reason for its
 * default. Each is configurable through `createCairn({ limits })`.
 */
export interface Limits {
  /** Largest HTTP request body accepted. */
  maxRequestBytes: number;
  /** Largest single change (decoded bytes). */
  maxChangeBytes: number;
  /** Operations in one change. */
  maxChangeOps: number;
  /** Writes per transaction. */
  maxWritesPerTx: number;
  /** Reads per transaction (not in SPEC §10; bounded like writes). */
  maxReadsPerTx: number;
  /** Changes per write. */
  maxChangesPerWrite: number;
  /** Heads listed in one `heads`, `baseHeads` or selector. */
  maxHeadsPerRef: number;
  /** Forks of forks: a branch's depth below its root branch. */
  maxForkDepth: number;
  /** Open spaces kept in the storage handle LRU (each holds a writer and a reader connection). */
  maxOpenSpaces: number;
  /** How long committed `clientTxId`s are remembered. */
  idempotencyRetentionMs: number;
  /** Transactions merged into one database transaction by group commit. */
  maxTxPerBatch: number;
  /** Transactions and tasks waiting in one space's write queue before `RateLimited`. */
  maxQueuedTxPerSpace: number;
  /** Items in one page of a paged route (`limit=`). */
  maxPageItems: number;
  /** Items in a page when `limit=` is not given. */
  defaultPageItems: number;
  /** Estimated memory of materialized docs kept for hot reads. */
  materializedCacheBytes: number;
  /** Delivery frames queued for one live connection before they are coalesced (SPEC §6). */
  maxDeliveryQueue: number;
  /** Bytes of delivery frames queued for one live connection before they are coalesced. */
  maxDeliveryQueueBytes: number;
  /** Transactions one live connection may have awaiting receipts (SPEC §6). */
  maxInFlightTx: number;
  /** Subscriptions one live connection may hold. */
  maxSubscriptionsPerConnection: number;
  /** Largest frame a live client may send (a transaction body, like `maxRequestBytes`). */
  maxFrameBytes: number;
  /** How long a live connection may stay over its delivery budget before it is closed with 4008. */
  deliveryOverBudgetMs: number;
  /** How long a live client's acknowledgements are kept for resume after it was last seen. */
  clientAckRetentionMs: number;
  /** Tokens in one UCAN delegation chain, the presented one included. */
  maxTokenChainDepth: number;
  /** Length of a presented UCAN, its proofs included. */
  maxTokenBytes: number;
  /** Tolerated clock difference for a UCAN's `exp` and `nbf`. */
  tokenClockSkewSec: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  // SPEC §10. Big enough for a 4 MiB change base64-encoded with room to spare,
  // small enough that a request is always buffered whole without concern.
  maxRequestBytes: 16 * 1024 * 1024,
  // SPEC §10: a pasted document or image fits; decoding it stays in the tens of ms.
  maxChangeBytes: 4 * 1024 * 1024,
  // SPEC §10: materializing a change costs per operation (1M ops is seconds of
  // CPU and hundreds of MiB), and the op count is read from the header alone.
  maxChangeOps: 1_000_000,
  // SPEC §10: a transaction is checked and appended in one database
  // transaction; 100 docs keep one commit short for the rest of the batch.
  maxWritesPerTx: 100,
  // Read assertions cost one lookup each, like writes.
  maxReadsPerTx: 100,
  // SPEC §10: a replica catching up after a long offline session sends its
  // backlog in a few writes; 10,000 decoded headers are a few ms of CPU.
  maxChangesPerWrite: 10_000,
  // A doc has as many heads as concurrent writers merged since; 1,000 is far
  // beyond real use and bounds the set comparisons of every check.
  maxHeadsPerRef: 1_000,
  // SPEC §10: every read of a branch walks its ancestors (one lookup each),
  // so the chain is bounded; 63 keeps a lineage at 64 segments.
  maxForkDepth: 63,
  // SPEC §10: each open space holds two SQLite connections with a 32 MiB page
  // cache ceiling; 256 keeps file handles and memory well inside OS defaults.
  maxOpenSpaces: 256,
  // SPEC §2: a client retrying after a lost answer does so within hours; 24 h
  // covers an overnight offline laptop.
  idempotencyRetentionMs: 24 * 60 * 60 * 1000,
  // One fsync for many receipts; 256 bounds the latency the last of a batch
  // waits for the first (measured: 64 writers fill ~64 per batch).
  maxTxPerBatch: 256,
  // Backpressure: a space that cannot keep up refuses with RateLimited before
  // its queue holds more than ~40 batches (seconds of work) in memory.
  maxQueuedTxPerSpace: 10_000,
  // Bounds one answer's size and the rows one request reads (10,000 changes
  // of ~100 B are ~1.5 MiB of JSON).
  maxPageItems: 10_000,
  // One default for every paged route: a screenful of history, a cheap read.
  defaultPageItems: 100,
  // Hot docs stay materialized (a cold read of a long history costs a full
  // load); 256 MiB is a small share of a server's memory.
  materializedCacheBytes: 256 * 1024 * 1024,
  // SPEC §6: 1,000 frames is seconds of a busy doc's commits; past it a slow
  // client gets one catch-up per doc instead of a queue that grows.
  maxDeliveryQueue: 1000,
  // A frame count alone does not bound memory (one frame can hold a 4 MiB
  // change): 8 MiB per connection keeps 1,000 slow clients under 8 GiB.
  maxDeliveryQueueBytes: 8 * 1024 * 1024,
  // SPEC §6: enough pipelined transactions to fill several group-commit
  // batches (256 each) from one connection.
  maxInFlightTx: 1024,
  // Each subscription costs a registry entry and a cursor; an editor watches
  // a handful of docs, an indexer uses the whole-space feed instead.
  maxSubscriptionsPerConnection: 1000,
  // The same bound as an HTTP body: a frame is buffered whole before parsing.
  maxFrameBytes: 16 * 1024 * 1024,
  // SPEC §6: long enough for a phone on a bad network to drain its backlog
  // (it then gets one coalesced catch-up), short enough that a client that
  // stopped reading releases its socket buffers soon.
  deliveryOverBudgetMs: 30_000,
  // A client that comes back within a month resumes with changes, not the
  // whole doc; after that its acks are pruned and it gets the saved doc.
  clientAckRetentionMs: 30 * 24 * 60 * 60 * 1000,
  // A space owner → an app → a device → a session is 4 links; 8 leaves room
  // and bounds one token's work (each link is a signature check).
  maxTokenChainDepth: 8,
  // Fits 8 links of a few capabilities each; an Authorization header stays
  // far below what proxies accept (commonly 8-64 KiB).
  maxTokenBytes: 32 * 1024,
  // Phones and laptops drift by seconds; a minute keeps skewed clocks working
  // while an expired token stops within a minute.
  tokenClockSkewSec: 60,
});

export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  return { ...DEFAULT_LIMITS, ...overrides };
}

import { ChainSigner } from '../auth/chain-signer.js';
import { KindWorkers } from '../crdt/kind-workers.js';
import type { ServerIdentity } from '../auth/server-identity.js';
import { CairnError, isCairnError, type ErrorCode } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { TxOutcome } from '../protocol/receipt.js';
import type { TxRequest } from '../protocol/tx-request.js';
import type { StorageBackend } from '../storage/types.js';
import { chainedWrite, type ChainedResult, type ChainedTask } from './chained-write.js';
import { InvariantRegistry } from './invariants.js';
import { prepareTx } from './prepared-tx.js';
import { SpaceWriter, type CommittedTx, type WriteTask, type WriterStats } from './space-writer.js';

export interface CommitPipelineOptions {
  backend: StorageBackend;
  identity: ServerIdentity;
  limits: Limits;
  logger: Logger;
  invariants?: InvariantRegistry;
  /** Worker threads for invariant checks (default: threads of its own, started when needed). */
  workers?: KindWorkers;
  now?: () => number;
}

/** Told of every answered transaction: `ok`, or its error code, and how long it took. */
export type OutcomeObserver = (result: 'ok' | ErrorCode, latencyMs: number) => void;

/** Hears committed batches in commit order; may return a promise (not awaited). */
export type CommitListener = (committed: CommittedTx[]) => unknown;

/** Hears the epochs a `commitRecords` write took, after its durable commit. */
export type RecordListener = (spaceId: string, epochs: number[]) => void;

/** Idle writers kept around before the idle ones are dropped. */
const MAX_IDLE_WRITERS = 1024;

/**
 * The write path: decode → queue per space → group commit → answer →
 * publish. `commit` never throws for a refused transaction; it resolves with
 * the failure envelope.
 */
export class CommitPipeline {
  readonly invariants: InvariantRegistry;
  /** Batches and transactions since start, over all spaces. */
  readonly stats: WriterStats = { batches: 0, transactions: 0, committed: 0, refused: 0 };
  private readonly writers = new Map<string, SpaceWriter>();
  private readonly listeners = new Set<CommitListener>();
  private readonly recordListeners = new Set<RecordListener>();
  /** Committed batches not yet handed to the listeners, oldest first. */
  private readonly outbox: CommittedTx[][] = [];
  private readonly signer: ChainSigner;
  private closed = false;
  private readonly observers = new Set<OutcomeObserver>();
  /**
   * Storage refused the last write (`StorageUnavailable`) and none has
   * succeeded since: the degraded mode of SPEC §8 (`/readyz` fails).
   */
  degraded = false;

  private readonly workers: KindWorkers;

  constructor(private readonly options: CommitPipelineOptions) {
    this.invariants = options.invariants ?? new InvariantRegistry();
    this.workers = options.workers ?? new KindWorkers('commits', options.logger);
    this.signer = new ChainSigner(options.identity, options.logger);
  }

  /** Runs one transaction of SPEC §2 (already shape-checked) against a space. */
  async commit(spaceId: string, request: TxRequest, clientDid?: string): Promise<TxOutcome> {
    if (this.closed) {
      return refuse(request, new CairnError('StorageUnavailable', 'server is shutting down'));
    }
    const { maxChangeOps, maxChangeBytes } = this.options.limits;
    const limits = { maxOps: maxChangeOps, maxBytes: maxChangeBytes };
    const startMs = performance.now();
    const outcome = await this.writerFor(spaceId).submit(prepareTx(request, limits, clientDid));
    const result = outcome.ok ? 'ok' : outcome.error.code;
    if (result === 'ok') this.degraded = false;
    else if (result === 'StorageUnavailable') this.degraded = true;
    if (this.observers.size > 0) {
      const ms = performance.now() - startMs;
      for (const o of this.observers) o(result, ms);
    }
    return outcome;
  }

  /** Observes every answered transaction (metrics); returns a remover. */
  observe(observer: OutcomeObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Transactions and tasks waiting in every space's writer queue. */
  get queued(): number {
    let n = 0;
    for (const w of this.writers.values()) n += w.depth;
    return n;
  }

  /**
   * Runs a write that is not a transaction (branch creation, snapshot
   * bookkeeping) in the space's writer queue, so it is serialized with the
   * space's transactions.
   */
  async runWrite<T>(spaceId: string, task: WriteTask<T>): Promise<T> {
    if (this.closed) throw new CairnError('StorageUnavailable', 'server is shutting down');
    return this.writerFor(spaceId).run(task);
  }

  /**
   * Commits a write that is not a SPEC §2 transaction but shares the space's
   * epochs and tx chain (Yjs updates): see chained-write.ts. Storage that
   * refuses it puts the pipeline in degraded mode like a refused
   * transaction; one that succeeds takes it out. Record listeners hear the
   * epochs after the durable commit.
   */
  async commitRecords<T>(spaceId: string, task: ChainedTask<T>): Promise<ChainedResult<T>> {
    if (this.closed) throw new CairnError('StorageUnavailable', 'server is shutting down');
    const { identity } = this.options;
    const write = chainedWrite(task, {
      spaceId,
      serverDid: identity.did,
      signer: this.signer,
      now: this.options.now ?? Date.now,
    });
    let result: ChainedResult<T>;
    try {
      result = await this.writerFor(spaceId).run(write);
    } catch (err) {
      if (isCairnError(err) && err.code === 'StorageUnavailable') this.degraded = true;
      throw err;
    }
    this.degraded = false;
    if (result.epochs.length > 0) {
      for (const listener of this.recordListeners) {
        try {
          listener(spaceId, result.epochs);
        } catch (err) {
          this.listenerFailed(err);
        }
      }
    }
    return result;
  }

  /** Hears the epochs of every committed `commitRecords` write; returns an unsubscribe function. */
  onRecords(listener: RecordListener): () => void {
    this.recordListeners.add(listener);
    return () => this.recordListeners.delete(listener);
  }

  /** Subscribes to committed transactions; returns an unsubscribe function. */
  onCommitted(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops accepting transactions and waits until every queued one is answered. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.writers.values()].map((w) => w.flush()));
    await this.signer.close();
    await this.workers.close();
  }

  private writerFor(spaceId: string): SpaceWriter {
    let writer = this.writers.get(spaceId);
    if (writer) return writer;
    if (this.writers.size >= MAX_IDLE_WRITERS) {
      for (const [id, w] of this.writers) if (w.idle) this.writers.delete(id);
    }
    const { backend, identity, limits, logger } = this.options;
    writer = new SpaceWriter(spaceId, {
      backend,
      signer: this.signer,
      context: {
        spaceId,
        identity,
        workers: this.workers,
        invariants: this.invariants,
        idempotencyRetentionMs: limits.idempotencyRetentionMs,
        now: this.options.now ?? Date.now,
      },
      maxTxPerBatch: limits.maxTxPerBatch,
      maxQueued: limits.maxQueuedTxPerSpace,
      onCommitted: (committed) => this.publish(committed),
      onBatchError: (err) => logger.error({ err, spaceId }, 'write batch failed'),
      stats: this.stats,
    });
    this.writers.set(spaceId, writer);
    return writer;
  }

  /**
   * Hands a committed batch to the listeners outside the writer's drain loop
   * (a microtask: after the batch's receipts, before anything the writer does
   * next), in commit order. A listener's returned promise is not awaited, so
   * a slow one never stalls a space's writer; its failure is logged.
   */
  private publish(committed: CommittedTx[]): void {
    this.outbox.push(committed);
    if (this.outbox.length === 1) queueMicrotask(() => this.deliver());
  }

  private deliver(): void {
    for (let batch = this.outbox.shift(); batch; batch = this.outbox.shift()) {
      for (const listener of this.listeners) {
        try {
          const pending = listener(batch);
          if (pending instanceof Promise) pending.catch((err: unknown) => this.listenerFailed(err));
        } catch (err) {
          this.listenerFailed(err);
        }
      }
    }
  }

  private listenerFailed(err: unknown): void {
    this.options.logger.error({ err }, 'commit listener failed');
  }
}

function refuse(request: TxRequest, err: CairnError): TxOutcome {
  return {
    ok: false,
    error: err.toJSON(),
    results: request.writes.map((w) => ({
      docId: w.docId,
      branch: w.branch,
      status: 'notChecked',
    })),
  };
}

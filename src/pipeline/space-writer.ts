import type { ChainSigner } from '../auth/chain-signer.js';
import { CairnError, isCairnError } from '../core/errors.js';
import type { TxFailure, TxOutcome } from '../protocol/receipt.js';
import type { BatchResult, SpaceLease, SpaceWriteOps, StorageBackend } from '../storage/types.js';
import { applyTransaction, failureOf, type TxContext, type TxResult } from './apply-transaction.js';
import type { PreparedTx } from './prepared-tx.js';

export interface CommittedTx {
  spaceId: string;
  epoch: number;
  result: TxResult;
}

/** Counters of one writer (and, summed, of the pipeline): what group commit achieved. */
export interface WriterStats {
  batches: number;
  transactions: number;
  committed: number;
  refused: number;
}

export interface SpaceWriterOptions {
  backend: StorageBackend;
  context: TxContext;
  signer: ChainSigner;
  maxTxPerBatch: number;
  maxQueued: number;
  /**
   * Called once per batch, after its durable commit and after its receipts
   * resolved, with what committed (in epoch order). It must not block: the
   * pipeline defers listeners out of the drain loop.
   */
  onCommitted: (committed: CommittedTx[]) => void;
  onBatchError: (err: unknown) => void;
  /** Shared counters, updated after every batch. */
  stats: WriterStats;
}

interface Job {
  tx: PreparedTx;
  resolve: (outcome: TxOutcome) => void;
}

/**
 * Other writes serialized with the space's transactions (branch creation,
 * snapshots): one runs alone in its own database transaction.
 */
export type WriteTask<T> = (ops: SpaceWriteOps) => Promise<T>;

interface TaskJob {
  task: WriteTask<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** What a batch answered; `failed` when it failed as a whole (and nothing of it was kept). */
interface BatchOutcome {
  outcomes: TxOutcome[];
  committed: CommittedTx[];
  failed?: CairnError;
}

/** How often a writer forgets receipts older than the retention. */
const RECEIPT_PRUNE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * The single writer of one space. Transactions queue here; each drain takes
 * what has queued and runs it as one database transaction (group commit: one
 * durable commit for many receipts). Each transaction stays all-or-nothing on
 * its own because it checks everything before it writes anything. Answers go
 * out only after the batch is durable.
 */
export class SpaceWriter {
  private queue: (Job | TaskJob)[] = [];
  private draining = false;
  private lastPruneMs = 0;

  constructor(
    readonly spaceId: string,
    private readonly options: SpaceWriterOptions,
  ) {}

  get idle(): boolean {
    return !this.draining && this.queue.length === 0;
  }

  get depth(): number {
    return this.queue.length;
  }

  submit(tx: PreparedTx): Promise<TxOutcome> {
    if (this.queue.length >= this.options.maxQueued) {
      return Promise.resolve(
        failure(
          tx,
          new CairnError('RateLimited', `write queue of space is full (${this.options.maxQueued})`),
        ),
      );
    }
    return new Promise((resolve) => {
      this.queue.push({ tx, resolve });
      this.scheduleDrain();
    });
  }

  /** Runs `task` in its own database transaction, in queue order with the transactions. */
  run<T>(task: WriteTask<T>): Promise<T> {
    if (this.queue.length >= this.options.maxQueued) {
      const { maxQueued } = this.options;
      return Promise.reject(
        new CairnError('RateLimited', `write queue of space is full (${maxQueued})`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ task, resolve: resolve as (v: unknown) => void, reject });
      this.scheduleDrain();
    });
  }

  private scheduleDrain(): void {
    if (this.draining) return;
    this.draining = true;
    // Let the transactions that arrive in this turn of the event loop join the batch.
    setImmediate(() => void this.drain());
  }

  /** Resolves when everything queued so far has been answered. */
  async flush(): Promise<void> {
    while (!this.idle) await new Promise((r) => setImmediate(r));
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0] as Job | TaskJob;
        if ('task' in head) {
          this.queue.shift();
          await this.runTask(head);
          continue;
        }
        // A batch is the run of transactions up to the next task.
        const end = this.queue.findIndex((j) => 'task' in j);
        const size = Math.min(end < 0 ? this.queue.length : end, this.options.maxTxPerBatch);
        const batch = this.queue.splice(0, size) as Job[];
        const { outcomes, committed } = await this.runIsolated(batch);
        const stats = this.options.stats;
        stats.batches++;
        stats.transactions += batch.length;
        stats.committed += committed.length;
        stats.refused += outcomes.filter((o) => !o.ok).length;
        batch.forEach((job, i) => job.resolve(outcomes[i] as TxOutcome));
        if (committed.length > 0) this.options.onCommitted(committed);
      }
    } finally {
      this.draining = false;
    }
  }

  private async runTask(job: TaskJob): Promise<void> {
    const { backend } = this.options;
    let lease: SpaceLease | undefined;
    let ok = false;
    try {
      lease = await backend.acquireSpace(this.spaceId, { create: true });
      if (!lease) throw new CairnError('StorageUnavailable', 'space could not be opened');
      const value = await lease.store.writeBatch(async (ops) => ({
        result: await job.task(ops),
        commit: true,
      }));
      ok = true;
      job.resolve(value);
    } catch (err) {
      job.reject(err);
    } finally {
      lease?.release();
      if (lease?.isNew) await backend.settleNewSpace(this.spaceId, ok);
    }
  }

  /**
   * Runs a batch. A batch that fails as a whole (not a broken rule: a storage
   * error, text the database refuses, a bug) rolled back entirely; if it held
   * several transactions each runs again alone, in order, so that one bad
   * member fails alone with its own error and the others commit. Storage that
   * is unavailable fails every one at once (retrying would only fail again).
   */
  private async runIsolated(batch: Job[]): Promise<BatchOutcome> {
    const whole = await this.runBatch(batch);
    if (!whole.failed || batch.length === 1 || whole.failed.code === 'StorageUnavailable') {
      return whole;
    }
    const outcomes: TxOutcome[] = [];
    const committed: CommittedTx[] = [];
    for (const job of batch) {
      const alone = await this.runBatch([job]);
      outcomes.push(alone.outcomes[0] as TxOutcome);
      committed.push(...alone.committed);
    }
    return { outcomes, committed };
  }

  private async runBatch(batch: Job[]): Promise<BatchOutcome> {
    const { backend } = this.options;
    let lease: SpaceLease | undefined;
    let result: BatchOutcome | undefined;
    try {
      lease = await backend.acquireSpace(this.spaceId, { create: true });
      if (!lease) throw new CairnError('StorageUnavailable', 'space could not be opened');
      result = await lease.store.writeBatch((ops) => this.runInTransaction(ops, batch));
    } catch (err) {
      this.options.onBatchError(err);
      const error = isCairnError(err)
        ? err
        : new CairnError('Internal', 'the write batch failed', {}, { cause: err });
      result = { outcomes: batch.map((j) => failure(j.tx, error)), committed: [], failed: error };
    } finally {
      lease?.release();
    }
    // Before any receipt goes out: a new space exists once something committed in it.
    if (lease?.isNew) await backend.settleNewSpace(this.spaceId, result.committed.length > 0);
    return result;
  }

  private async runInTransaction(
    ops: SpaceWriteOps,
    batch: Job[],
  ): Promise<BatchResult<{ outcomes: TxOutcome[]; committed: CommittedTx[] }>> {
    const ctx = this.options.context;
    let pruned = 0;
    if (ctx.now() - this.lastPruneMs > RECEIPT_PRUNE_INTERVAL_MS) {
      pruned = await ops.pruneReceipts(ctx.now() - ctx.idempotencyRetentionMs);
      this.lastPruneMs = ctx.now();
    }
    let tip = await ops.chainTip();
    const outcomes: TxOutcome[] = [];
    const committed: CommittedTx[] = [];
    const signing = this.options.signer.begin(batch.length);
    for (const job of batch) {
      try {
        const result = await applyTransaction(ops, job.tx, tip, ctx);
        tip = result.tip;
        outcomes.push(result.outcome);
        if (result.committed) {
          signing.add(result.committed.record.txHash);
          committed.push({ spaceId: this.spaceId, epoch: result.committed.epoch, result });
        }
      } catch (err) {
        const refused = failureOf(job.tx, err);
        // Anything but a broken rule (a storage error, a bug) aborts the whole batch;
        // a broken rule is found before its transaction writes anything.
        if (!refused) throw err;
        outcomes.push(refused);
      }
    }
    // Every record goes in with its signature, before the one durable commit.
    const sigs = await signing.finish();
    await ops.appendTxRecords(
      committed.map((c, i) =>
        Object.assign((c.result.committed as NonNullable<TxResult['committed']>).record, {
          serverSig: sigs[i] as Uint8Array,
        }),
      ),
    );
    // Nothing to keep (only refusals and no-ops): roll back, no fsync.
    return { result: { outcomes, committed }, commit: committed.length > 0 || pruned > 0 };
  }
}

function failure(tx: PreparedTx, err: CairnError): TxFailure {
  return {
    ok: false,
    error: err.toJSON(),
    results: tx.request.writes.map((w) => ({
      docId: w.docId,
      branch: w.branch,
      status: 'notChecked',
    })),
  };
}

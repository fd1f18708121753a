import type { Logger } from '../core/logger.js';
import { claimOf, splitChunks } from '../crdt/yjs/yjs-checkpoint.js';
import { stateOf } from '../crdt/yjs/yjs-update.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import { withSpaceReader } from '../storage/space-access.js';
import type { StorageBackend } from '../storage/types.js';
import { loadYjsDoc } from '../read/yjs-loader.js';
import type { YjsLimits } from './yjs-limits.js';

/** A doc's compaction state: its debt since the last checkpoint and its breaker. */
interface DocState {
  rows: number;
  bytes: number;
  failures: number;
  backoffMs: number;
  openUntilMs?: number;
}

/** Where a test may inject a fault (throwing): after the chunks are written, before the flip. */
export type CompactionStep = 'chunks' | 'flip';

export interface YjsCompactorOptions {
  backend: StorageBackend;
  pipeline: CommitPipeline;
  limits: YjsLimits;
  logger: Logger;
  now?: () => number;
}

/** Docs tracked at most; forgetting one only delays its next checkpoint. */
const MAX_TRACKED = 100_000;

const keyOf = (spaceId: string, docId: string) => JSON.stringify([spaceId, docId]);

/**
 * Checkpoints off the commit path (SPEC §11): once a doc's journal since
 * its last checkpoint passes the limits, its state is rebuilt in a
 * temporary `Y.Doc` from storage, written as chunks in one transaction and
 * made visible by a second, small one (the flip). One doc at a time; a
 * failing doc opens its breaker after `breakerFailures` tries in a row and
 * is retried after a back-off that doubles up to `breakerMaxBackoffMs`.
 */
export class YjsCompactor {
  readonly stats = { checkpoints: 0, failures: 0 };
  private readonly docs = new Map<string, DocState>();
  private readonly queue: { spaceId: string; docId: string }[] = [];
  /** Docs queued or being checkpointed (a doc is never queued twice). */
  private readonly active = new Set<string>();
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly now: () => number;
  /** Called before each step of a checkpoint: a seam where tests inject faults (by throwing). */
  faults: ((step: CompactionStep, docId: string) => void) | undefined;

  constructor(private readonly options: YjsCompactorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A commit added `bytes` to a doc's journal (or a checkpoint, `bytes` 0 and reset). */
  committed(spaceId: string, docId: string, bytes: number, checkpointed: boolean): void {
    const key = keyOf(spaceId, docId);
    const state = this.stateOf(key);
    if (checkpointed) {
      state.rows = 0;
      state.bytes = 0;
      return;
    }
    state.rows++;
    state.bytes += bytes;
    if (this.isDue(state) && (state.openUntilMs ?? 0) <= this.now()) this.enqueue(spaceId, docId);
  }

  private isDue(state: DocState): boolean {
    const { compactAfterUpdates, compactAfterBytes } = this.options.limits;
    return state.rows >= compactAfterUpdates || state.bytes >= compactAfterBytes;
  }

  /** Makes a checkpoint now and resets the doc's breaker (`POST /admin/compact`). */
  async compactNow(spaceId: string, docId: string): Promise<{ epoch: number; generation: number }> {
    const state = this.stateOf(keyOf(spaceId, docId));
    state.failures = 0;
    delete state.openUntilMs;
    return this.checkpoint(spaceId, docId, true);
  }

  /** Docs whose breaker is open, with when they are retried. */
  openBreakers(): { key: string; untilMs: number }[] {
    const now = this.now();
    return [...this.docs]
      .filter(([, s]) => (s.openUntilMs ?? 0) > now)
      .map(([key, s]) => ({ key, untilMs: s.openUntilMs as number }));
  }

  breakerOf(spaceId: string, docId: string): { failures: number; breakerOpenUntil?: number } {
    const s = this.docs.get(keyOf(spaceId, docId));
    return s
      ? { failures: s.failures, ...(s.openUntilMs ? { breakerOpenUntil: s.openUntilMs } : {}) }
      : { failures: 0 };
  }

  /** Resolves once queued compactions ran (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    await this.idle();
  }

  private stateOf(key: string): DocState {
    let s = this.docs.get(key);
    if (!s) {
      if (this.docs.size >= MAX_TRACKED) this.docs.delete(this.docs.keys().next().value as string);
      s = { rows: 0, bytes: 0, failures: 0, backoffMs: this.options.limits.breakerBackoffMs };
      this.docs.set(key, s);
    }
    return s;
  }

  private enqueue(spaceId: string, docId: string): void {
    const key = keyOf(spaceId, docId);
    // Queued or running already: commits meanwhile are counted, and owed again after it.
    if (this.closed || this.active.has(key)) return;
    this.active.add(key);
    this.queue.push({ spaceId, docId });
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    for (let job = this.queue.shift(); job; job = this.queue.shift()) {
      const key = keyOf(job.spaceId, job.docId);
      const state = this.stateOf(key);
      try {
        await this.checkpoint(job.spaceId, job.docId);
        state.failures = 0;
        state.backoffMs = this.options.limits.breakerBackoffMs;
        delete state.openUntilMs;
        this.active.delete(key);
        // What was committed while it ran may already be due again.
        if (this.isDue(state)) this.enqueue(job.spaceId, job.docId);
        continue;
      } catch (err) {
        this.stats.failures++;
        state.failures++;
        this.options.logger.warn(
          { err, docId: job.docId, failures: state.failures },
          'Yjs compaction failed',
        );
        if (state.failures >= this.options.limits.breakerFailures) {
          // Open: no try until the back-off ends; then one try (a failure reopens it, twice as long).
          state.openUntilMs = this.now() + state.backoffMs;
          state.backoffMs = Math.min(state.backoffMs * 2, this.options.limits.breakerMaxBackoffMs);
          this.active.delete(key);
        } else {
          this.queue.push(job); // tried again at once, up to the breaker
        }
      }
    }
  }

  /** Chunks in one transaction, then the flip in another: a crash between leaves the old one in force. */
  private async checkpoint(
    spaceId: string,
    docId: string,
    force = false,
  ): Promise<{ epoch: number; generation: number }> {
    const { backend, pipeline, limits } = this.options;
    const loaded = await withSpaceReader(backend, spaceId, (ops) => loadYjsDoc(ops, docId));
    if (!force && loaded.checkpoint && loaded.checkpoint.epoch >= loaded.epoch) {
      // Nothing since the newest checkpoint (the debt was heard twice): no second copy.
      loaded.doc.destroy();
      const s = this.stateOf(keyOf(spaceId, docId));
      s.rows = 0;
      s.bytes = 0;
      return { epoch: loaded.epoch, generation: loaded.checkpoint.generation };
    }
    const { state, stateVector } = stateOf(loaded.doc);
    loaded.doc.destroy();
    const chunks = splitChunks(state);
    this.faults?.('chunks', docId);
    const generation = await pipeline.runWrite(spaceId, async (ops) => {
      const next = (await ops.yjs.maxGeneration(docId)) + 1;
      await ops.yjs.putCheckpointChunks(docId, next, chunks);
      return next;
    });
    this.faults?.('flip', docId);
    await pipeline.runWrite(spaceId, async (ops) => {
      await ops.yjs.publishCheckpoint(docId, {
        generation,
        epoch: loaded.epoch,
        ...claimOf(chunks),
        stateVector,
        createdAt: this.now(),
      });
      // Only checkpoints the journal also covers may go: one at an epoch with no
      // journal row holds an oversized update, and point-in-time reads need it.
      const drop: number[] = [];
      for (const cp of (await ops.yjs.checkpoints(docId)).slice(limits.keepCheckpoints)) {
        if ((await ops.yjs.journal(docId, cp.epoch - 1, cp.epoch, 1)).length > 0)
          drop.push(cp.generation);
      }
      await ops.yjs.dropCheckpoints(docId, drop);
    });
    this.stats.checkpoints++;
    // What is owed now is what storage holds after the checkpoint's epoch (commits that
    // landed while it was built stay owed; counting a just-committed one twice only
    // brings the next checkpoint forward).
    const owed = await withSpaceReader(backend, spaceId, (ops) =>
      ops.yjs.journalSizeAfter(docId, loaded.epoch),
    );
    const s = this.stateOf(keyOf(spaceId, docId));
    s.rows = owed.rows;
    s.bytes = owed.bytes;
    return { epoch: loaded.epoch, generation };
  }
}

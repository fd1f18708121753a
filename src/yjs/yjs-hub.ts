import * as Y from 'yjs';
import { CairnError, isCairnError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { checkUpdate } from '../crdt/yjs/yjs-update.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import { withSpaceReader } from '../storage/space-access.js';
import type { StorageBackend } from '../storage/types.js';
import { loadYjsDoc } from '../read/yjs-loader.js';
import { LegacyMigrator, type YjsLegacyConfig } from './legacy-migration.js';
import { OpenYjsDoc, type UpdateOutcome } from './open-doc.js';
import { YjsCommitter } from './yjs-committer.js';
import { YjsCompactor } from './yjs-compactor.js';
import { committedAfter, yjsDocDebug } from './yjs-doc-debug.js';
import { RelayRecovery } from './relay-recovery.js';
import type { YjsLimits } from './yjs-limits.js';

export interface YjsHubOptions {
  backend: StorageBackend;
  pipeline: CommitPipeline;
  limits: YjsLimits;
  logger: Logger;
  /** Lazy migration (SPEC §11): docs of `space` move in from `source` when first opened; the hub closes the source. */
  legacy?: YjsLegacyConfig;
}

/** Cold-load times kept for /debug's p50 and max. */
const LOAD_TIMES_KEPT = 256;

const keyOf = (spaceId: string, docId: string) => JSON.stringify([spaceId, docId]);

/**
 * The Yjs docs held in memory: loaded on first use (a socket, an HTTP
 * write), shared by every connection to the doc, unloaded when the last
 * one leaves (bounded memory) — except a doc in relay mode, which stays
 * until its state is checkpointed (SPEC §11: nothing relayed is lost while
 * the process lives).
 */
export class YjsHub {
  readonly committer: YjsCommitter;
  readonly compactor: YjsCompactor;
  readonly stats = { badCheckpoints: 0 };
  /** Lazy migration from a legacy store, when configured (legacy-migration.ts). */
  readonly legacy: LegacyMigrator | undefined;
  private readonly open = new Map<string, Promise<OpenYjsDoc>>();
  private readonly holds = new Map<string, number>();
  private readonly relay: RelayRecovery;
  private readonly loadTimesMs: number[] = [];
  private closed = false;

  constructor(private readonly options: YjsHubOptions) {
    this.compactor = new YjsCompactor(options);
    this.committer = new YjsCommitter(options.pipeline, (spaceId, item) =>
      this.compactor.committed(spaceId, item.docId, item.update.byteLength, !!item.stateWith),
    );
    this.relay = new RelayRecovery(this.committer, options.logger, (doc) => {
      const key = keyOf(doc.spaceId, doc.docId);
      if (!this.holds.has(key)) this.unloadIfUnused(key, doc);
    });
    this.legacy =
      options.legacy &&
      new LegacyMigrator({
        ...options,
        ...options.legacy,
        oversizedUpdateBytes: options.limits.oversizedUpdateBytes,
        onCommitted: (s, d, bytes, cp) => this.compactor.committed(s, d, bytes, cp),
      });
  }

  /** Docs moved in from the legacy store by this process (/debug `migrated`). */
  get migrated(): number {
    return this.legacy?.migrated ?? 0;
  }

  /** The legacy store lazy migration reads (/debug `legacySource`), if any. */
  get legacySource(): string | undefined {
    return this.legacy?.description;
  }

  /** Moves a doc in from the legacy store if it is there and not yet in cairn (HTTP reads call it first). */
  async ensureMigrated(spaceId: string, docId: string): Promise<void> {
    await this.legacy?.ensure(spaceId, docId);
  }

  /** The doc, loaded (or new and empty: it is created by its first commit); hold it until `release`. */
  async acquire(spaceId: string, docId: string): Promise<OpenYjsDoc> {
    if (this.closed) throw new CairnError('StorageUnavailable', 'server is shutting down');
    const key = keyOf(spaceId, docId);
    this.holds.set(key, (this.holds.get(key) ?? 0) + 1);
    let loading = this.open.get(key);
    if (!loading) {
      loading = this.load(spaceId, docId);
      this.open.set(key, loading);
      loading.catch(() => this.open.delete(key));
    }
    try {
      return await loading;
    } catch (err) {
      this.drop(key);
      throw err;
    }
  }

  /** Lets go of a doc held by `acquire`; the last holder's release unloads it when it is idle. */
  release(doc: OpenYjsDoc): void {
    const key = keyOf(doc.spaceId, doc.docId);
    const left = this.drop(key);
    if (left > 0 || doc.relayOnly) return;
    if (!doc.idle) {
      // Unload once its queue is done (a read after the last update resolves then).
      void doc.read(() => undefined).then(() => this.unloadIfUnused(key, doc));
      return;
    }
    this.unloadIfUnused(key, doc);
  }

  /** SPEC §11 `POST …/updates`: after the durable commit, what the update did. */
  async postUpdate(
    spaceId: string,
    docId: string,
    bytes: Uint8Array,
  ): Promise<UpdateOutcome & { stateVector: Uint8Array; epoch: number }> {
    checkUpdate(bytes);
    // Writes are refused fast while storage refuses them (no work, no hanging request).
    if (this.options.pipeline.degraded) {
      throw new CairnError('StorageUnavailable', 'storage is refusing writes (degraded mode)');
    }
    const doc = await this.acquire(spaceId, docId);
    try {
      const outcome = await doc.update(bytes);
      const stateVector = await doc.read((d) => Y.encodeStateVector(d));
      if (outcome.applied === 1) return { ...outcome, stateVector, epoch: outcome.slot.epoch };
      // Nothing to commit: the answer names the space's current epoch.
      const epoch = await withSpaceReader(
        this.options.backend,
        spaceId,
        async (ops) => (await ops.chainTip()).epoch,
      ).catch(() => 0);
      return { ...outcome, stateVector, epoch };
    } finally {
      this.release(doc);
    }
  }

  /**
   * Another process committed in this space (PostgreSQL NOTIFY; our own
   * commits come back too): every open doc of the space applies the
   * journal rows it has not seen, and its clients get what they add.
   * `undefined`: notifications may have been missed, every space.
   */
  committedElsewhere(spaceId: string | undefined): void {
    for (const [key, loading] of this.open) {
      if (spaceId !== undefined && (JSON.parse(key) as string[])[0] !== spaceId) continue;
      void loading.then(
        (doc) =>
          doc.catchUp((after) =>
            committedAfter(this.options.backend, doc.spaceId, doc.docId, after),
          ),
        () => undefined,
      );
    }
  }

  /** Open docs, and the docs holding state only memory has. */
  get openDocs(): number {
    return this.open.size;
  }

  get degradedDocs(): number {
    return this.relay.size;
  }

  /** Cold-load times (ms): median and max of the recent ones. */
  coldLoadMs(): { p50: number; max: number } | undefined {
    if (this.loadTimesMs.length === 0) return undefined;
    const sorted = [...this.loadTimesMs].sort((a, b) => a - b);
    return { p50: sorted[sorted.length >> 1] as number, max: sorted.at(-1) as number };
  }

  /** SPEC §11 `GET …/yjs/:docId/debug`: one doc's storage facts. */
  async docDebug(spaceId: string, docId: string): Promise<Record<string, unknown>> {
    const open = await this.open.get(keyOf(spaceId, docId))?.catch(() => undefined);
    const breaker = this.compactor.breakerOf(spaceId, docId);
    return yjsDocDebug(this.options.backend, spaceId, docId, open, breaker);
  }

  /** `POST /admin/compact` of a Yjs doc: a checkpoint now (its breaker reset); `DocNotFound` if none. */
  async compactNow(spaceId: string, docId: string): Promise<{ epoch: number; generation: number }> {
    return this.compactor.compactNow(spaceId, docId);
  }

  /**
   * SPEC §11 `/debug` facts (no space or doc ids: /debug is public): open
   * docs, relay mode, open breakers (when each retries), oversized
   * updates, cold-load times, migrations.
   */
  debug(): Record<string, unknown> {
    return {
      openDocs: this.openDocs,
      degraded: this.relay.size > 0,
      relayOnlyDocs: this.relay.size,
      breakerOpen: this.compactor.openBreakers().map((b) => ({ retryAtMs: b.untilMs })),
      oversizedUpdates: this.committer.stats.oversized,
      committed: this.committer.stats.committed,
      checkpoints: this.compactor.stats.checkpoints,
      compactionFailures: this.compactor.stats.failures,
      badCheckpoints: this.stats.badCheckpoints,
      recovered: this.relay.stats.recovered,
      coldLoadMs: this.coldLoadMs() ?? null,
      migrated: this.migrated,
      legacySource: this.legacySource ?? null,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.relay.close();
    await this.compactor.close();
    await this.legacy?.close();
    for (const loading of this.open.values()) {
      const doc = await loading.catch(() => undefined);
      if (doc) await doc.read(() => undefined);
      doc?.destroy();
    }
    this.open.clear();
  }

  private async load(spaceId: string, docId: string, migrated = false): Promise<OpenYjsDoc> {
    let doc: Y.Doc;
    let loadMs: number | undefined;
    let caughtUpTo = 0;
    try {
      const loaded = await withSpaceReader(this.options.backend, spaceId, (ops) =>
        loadYjsDoc(ops, docId),
      );
      this.stats.badCheckpoints += loaded.badCheckpoints;
      this.loadTimesMs.push(loaded.loadMs);
      if (this.loadTimesMs.length > LOAD_TIMES_KEPT) this.loadTimesMs.shift();
      doc = loaded.doc;
      loadMs = loaded.loadMs;
      caughtUpTo = loaded.epoch;
    } catch (err) {
      if (!isCairnError(err) || err.code !== 'DocNotFound') throw err;
      // SPEC §11 lazy migration: a doc the legacy store has moves in now, then loads as any other.
      if (!migrated && (await this.legacy?.ensure(spaceId, docId))) {
        return this.load(spaceId, docId, true);
      }
      doc = new Y.Doc({ gc: true });
    }
    const open = new OpenYjsDoc(spaceId, docId, doc, {
      commit: (item) => this.committer.commit(spaceId, item),
      oversizedUpdateBytes: this.options.limits.oversizedUpdateBytes,
      onRelayOnly: (d) => this.relay.add(d),
    });
    if (loadMs !== undefined) open.loadMs = loadMs;
    open.caughtUpTo = caughtUpTo;
    return open;
  }

  private drop(key: string): number {
    const left = (this.holds.get(key) ?? 1) - 1;
    if (left > 0) this.holds.set(key, left);
    else this.holds.delete(key);
    return left;
  }

  private unloadIfUnused(key: string, doc: OpenYjsDoc): void {
    if ((this.holds.get(key) ?? 0) > 0 || doc.relayOnly || !doc.idle) return;
    this.open.delete(key);
    doc.destroy();
  }
}

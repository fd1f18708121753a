import { CairnError } from '../core/errors.js';
import { claimOf, splitChunks } from '../crdt/yjs/yjs-checkpoint.js';
import { sha256, toHex } from '../crdt/yjs/yjs-update.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import type { RecordSlot } from '../pipeline/chained-write.js';
import type { YjsJournalRow } from '../storage/yjs-types.js';

/** One update to commit: what it added to the doc, and for an oversized one the state with it. */
export interface YjsCommitItem {
  docId: string;
  update: Uint8Array;
  /** Set when the update is oversized: the doc's full state including it (it becomes a checkpoint). */
  stateWith?: { state: Uint8Array; stateVector: Uint8Array };
}

interface Pending {
  item: YjsCommitItem;
  resolve: (slot: RecordSlot) => void;
  reject: (err: unknown) => void;
}

/** Updates one database transaction commits at most. */
const MAX_GROUP = 1000;

export interface YjsCommitStats {
  committed: number;
  oversized: number;
}

/**
 * Group commit of Yjs updates, per space: the updates that arrive in one
 * turn of the event loop (and while the previous group was committing) go
 * to storage as one database transaction — each with its own epoch and tx
 * record — and resolve only after that transaction is durable.
 */
export class YjsCommitter {
  readonly stats: YjsCommitStats = { committed: 0, oversized: 0 };
  private readonly queues = new Map<string, { pending: Pending[]; running: boolean }>();

  constructor(
    private readonly pipeline: CommitPipeline,
    /** Hears each committed item after the durable commit (compaction debt). */
    private readonly onCommitted: (spaceId: string, item: YjsCommitItem) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  commit(spaceId: string, item: YjsCommitItem): Promise<RecordSlot> {
    let q = this.queues.get(spaceId);
    if (!q) this.queues.set(spaceId, (q = { pending: [], running: false }));
    const queue = q;
    return new Promise((resolve, reject) => {
      queue.pending.push({ item, resolve, reject });
      if (!queue.running) {
        queue.running = true;
        setImmediate(() => void this.drain(spaceId, queue));
      }
    });
  }

  private async drain(spaceId: string, q: { pending: Pending[]; running: boolean }): Promise<void> {
    while (q.pending.length > 0) {
      // Bounded groups: one transaction stays short, and readers see commits as they land.
      const group = q.pending.splice(0, MAX_GROUP);
      try {
        const { value: slots } = await this.pipeline.commitRecords(spaceId, async (ops, record) => {
          const out: RecordSlot[] = [];
          const rows = new Map<string, YjsJournalRow[]>();
          for (const docId of new Set(group.map((p) => p.item.docId))) {
            await ops.yjs.createDoc(docId, this.now());
          }
          for (const { item } of group) {
            const hash = sha256(item.update);
            const slot = record([
              {
                docId: item.docId,
                kind: 'yjs',
                updateHash: toHex(hash),
                bytes: item.update.byteLength,
              },
            ]);
            out.push(slot);
            if (item.stateWith) {
              // Oversized (SPEC §11): never one journal row; a checkpoint at its epoch instead.
              const chunks = splitChunks(item.stateWith.state);
              const generation = (await ops.yjs.maxGeneration(item.docId)) + 1;
              await ops.yjs.putCheckpointChunks(item.docId, generation, chunks);
              await ops.yjs.publishCheckpoint(item.docId, {
                generation,
                epoch: slot.epoch,
                ...claimOf(chunks),
                stateVector: item.stateWith.stateVector,
                createdAt: slot.committedAt,
              });
              continue;
            }
            const list = rows.get(item.docId) ?? [];
            list.push({
              epoch: slot.epoch,
              committedAt: slot.committedAt,
              hash,
              bytes: item.update,
            });
            rows.set(item.docId, list);
          }
          // One insert per doc (its rows' epochs increase); in the same transaction as any
          // checkpoint of an oversized update, so the order between them does not matter.
          for (const [docId, list] of rows) await ops.yjs.appendJournal(docId, list);
          return out;
        });
        this.stats.committed += group.length;
        this.stats.oversized += group.filter((p) => p.item.stateWith).length;
        for (const p of group) this.onCommitted(spaceId, p.item);
        group.forEach((p, i) => p.resolve(slots[i] as RecordSlot));
      } catch (err) {
        const error =
          err instanceof CairnError
            ? err
            : new CairnError(
                'Internal',
                'the Yjs journal could not be written',
                {},
                { cause: err },
              );
        for (const p of group) p.reject(error);
      }
    }
    q.running = false;
  }
}

import type { Logger } from '../core/logger.js';
import type { WriteTask } from '../pipeline/space-writer.js';
import type { ClientAck } from '../read/epoch-feed.js';

/** How often pending acknowledgements are written (one write per space with any). */
export const ACK_FLUSH_INTERVAL_MS = 1000;
/** How often a space's old acknowledgements are pruned (at most). */
const ACK_PRUNE_INTERVAL_MS = 60 * 60 * 1000;

/** Where acknowledgements are written: the space's writer queue (`CommitPipeline.runWrite`). */
export type RunWrite = <T>(spaceId: string, task: WriteTask<T>) => Promise<T>;

const ackKey = (a: ClientAck) => JSON.stringify([a.clientId, a.docId, a.branch]);

/**
 * Keeps what live clients acknowledged, per client, doc and branch, durably
 * (SPEC §6 resume survives a server restart). Acks are frequent and losing
 * the last second of them only means a resuming client gets some changes
 * twice, so they are collected in memory and written once a second per
 * space — one small transaction in the space's writer queue, not one per ack.
 */
export class AckRecorder {
  /** Per space, the newest ack per (client, doc, branch) not yet written. */
  private readonly pending = new Map<string, Map<string, ClientAck>>();
  private readonly lastPruneMs = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly runWrite: RunWrite,
    private readonly logger: Logger,
    private readonly retentionMs: number,
  ) {}

  record(spaceId: string, acks: readonly ClientAck[]): void {
    if (acks.length === 0) return;
    let space = this.pending.get(spaceId);
    if (!space) this.pending.set(spaceId, (space = new Map()));
    for (const a of acks) space.set(ackKey(a), a);
    this.timer ??= setTimeout(() => void this.flush(), ACK_FLUSH_INTERVAL_MS).unref();
  }

  /** Writes everything pending; resolves when it is durable (or failed and was logged). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending];
    this.pending.clear();
    // Flushes run one after another, so an older batch never overwrites a newer one.
    this.flushing = this.flushing.then(() => this.write(batch));
    return this.flushing;
  }

  private async write(batch: [string, Map<string, ClientAck>][]): Promise<void> {
    await Promise.all(
      batch.map(async ([spaceId, acks]) => {
        const nowMs = Date.now();
        const prune = nowMs - (this.lastPruneMs.get(spaceId) ?? 0) > ACK_PRUNE_INTERVAL_MS;
        if (prune) this.lastPruneMs.set(spaceId, nowMs);
        try {
          await this.runWrite(spaceId, async (ops) => {
            await ops.putClientAcks([...acks.values()], nowMs);
            if (prune) await ops.pruneClientAcks(nowMs - this.retentionMs);
          });
        } catch (err) {
          // Lost acks cost a resuming client duplicates, never data.
          this.logger.warn({ err, spaceId }, 'live acknowledgements not written');
        }
      }),
    );
  }
}

import type { Logger } from '../core/logger.js';
import type { CommittedTx } from '../pipeline/space-writer.js';
import type { EpochFeed } from '../read/epoch-feed.js';
import type { AckRecorder } from './ack-recorder.js';
import { SpaceFeed } from './space-feed.js';

/** What live connections did since start. */
export interface LiveStats {
  /** Deliver frames written to sockets. */
  framesSent: number;
  /** Acks received. */
  acks: number;
  /** Times a connection's queued deliveries were dropped for one catch-up per doc. */
  coalesced: number;
  /** Connections closed with 4008 (behind for too long, or answers unread). */
  closedOverBudget: number;
  /** Sessions closed with 4001 (their token lapsed). */
  expired: number;
}

/**
 * Every live connection's way to its space's feed: one `SpaceFeed` per space
 * with a connection, made on the first and dropped with the last, told of
 * each commit after it is durable (the pipeline's commit listener).
 */
export class LiveHub {
  private readonly feeds = new Map<string, SpaceFeed>();
  /** Counters of every live connection (for /metrics). */
  readonly stats: LiveStats = {
    framesSent: 0,
    acks: 0,
    coalesced: 0,
    closedOverBudget: 0,
    expired: 0,
  };

  constructor(
    readonly epochs: EpochFeed,
    private readonly logger: Logger,
    /** What live clients acknowledged, kept durably for resume. */
    readonly acks: AckRecorder,
  ) {}

  /** The space's feed, held until `release`. */
  acquire(spaceId: string): SpaceFeed {
    let feed = this.feeds.get(spaceId);
    if (!feed) this.feeds.set(spaceId, (feed = new SpaceFeed(spaceId, this.epochs, this.logger)));
    feed.holders++;
    return feed;
  }

  release(feed: SpaceFeed): void {
    feed.holders--;
    if (feed.holders === 0 && this.feeds.get(feed.spaceId) === feed) {
      this.feeds.delete(feed.spaceId);
    }
  }

  /** The pipeline's commit listener: committed batches (one space's each), in commit order. */
  committed(batch: readonly CommittedTx[]): void {
    const last = batch.at(-1);
    if (last) this.feeds.get(last.spaceId)?.committed(last.epoch);
  }

  /** A commit announced by another process (PostgreSQL NOTIFY), durable like ours. */
  committedElsewhere(spaceId: string, epoch: number): void {
    this.feeds.get(spaceId)?.committed(epoch);
  }

  /** Announcements may have been lost (the listener reconnected): every feed catches up. */
  resync(): void {
    for (const feed of this.feeds.values()) feed.resync();
  }

  /** Spaces with a feed (for tests and metrics). */
  get spaces(): number {
    return this.feeds.size;
  }
}

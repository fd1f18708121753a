import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { EpochFeed } from '../read/epoch-feed.js';
import type { ReadApi } from '../read/read-api.js';
import type { LiveStats } from './live-hub.js';
import { encodeCborFrame } from '../protocol/live-cbor.js';
import { catchUpFrom } from './doc-entries.js';
import { OutgoingQueue, type LiveSocket } from './outgoing-queue.js';
import { encodedFrame, type DeliveredEntry, type SpaceFeed } from './space-feed.js';
import type { SentMark, Subscriptions } from './subscriptions.js';

/** Close code of a client whose deliveries are over budget (SPEC §6); it resumes on reconnect. */
export const CLOSE_OVER_BUDGET = 4008;
/** Close code of a session whose token expired (SPEC §6); it reconnects with a fresh one. */
export const CLOSE_UNAUTHORIZED = 4001;
/** Timers fire at most this far ahead (Node's limit is ~24.8 days); later ones are re-armed. */
const MAX_TIMER_MS = 24 * 60 * 60 * 1000;

/** A channel's undelivered frames and state. */
export interface ChannelState {
  /** Live deliveries queued, and their bytes. */
  frames: number;
  bytes: number;
  /** Answers and whole frames queued (their own budget). */
  keptBytes: number;
  /** Deliveries were dropped; a catch-up is due once the client reads. */
  behind: boolean;
  closed: boolean;
}

export interface ChannelDeps {
  stats: LiveStats;
  read: ReadApi;
  epochs: EpochFeed;
  limits: Limits;
  logger: Logger;
}

/**
 * What one live connection sends, with SPEC §6 backpressure: live
 * deliveries are queued up to the caps; past them they are dropped and the
 * connection falls behind until the client has read what its socket holds,
 * then each doc they touched gets one catch-up (changes after what was
 * written to the socket, or the saved doc). A client still behind after
 * `deliveryOverBudgetMs` is closed with 4008 and resumes on reconnect.
 */
export class DeliveryChannel {
  private readonly out: OutgoingQueue;
  /** The newest epoch of a frame handed to the socket (acks cannot pass it). */
  sentEpoch = 0;
  /** Deliveries were dropped: none is queued until the catch-up went out. */
  private behind = false;
  private overBudgetTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** When the session's token stops being valid (ms); nothing goes out from then on. */
  private expiresAtMs = Infinity;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: LiveSocket,
    private readonly feed: SpaceFeed,
    private readonly subs: Subscriptions,
    private readonly deps: ChannelDeps,
    /** The session's encoding (CBOR after `hello {encoding: "cbor"}`). */
    private readonly cbor: () => boolean,
    /** Lets the session go (the socket was closed by the channel). */
    private readonly onClosed: () => void,
  ) {
    const caps = { frames: deps.limits.maxDeliveryQueue, bytes: deps.limits.maxDeliveryQueueBytes };
    this.out = new OutgoingQueue(socket, caps, cbor);
  }

  /** One epoch's entries from the feed: the ones the connection wants are delivered. */
  deliver(epoch: number, entries: DeliveredEntry[]): void {
    if (this.behind) return this.subs.missed(entries);
    const { docs, marks } = this.subs.take(entries);
    // All of them (the usual case): the feed's shared list, whose frame
    // bytes are encoded once for every connection that gets it.
    if (docs.length > 0) this.live(epoch, docs.length === entries.length ? entries : docs, marks);
  }

  /** A live delivery: dropped, with the rest, when the connection is or falls behind. */
  live(epoch: number, docs: readonly DeliveredEntry[], marks: SentMark[]): void {
    if (this.closed || this.expired()) return;
    if (!this.behind) {
      if (this.out.delivery(this.frame(epoch, docs), this.sent(epoch, marks))) return;
      this.fallBehind();
    }
    for (const [s] of marks) {
      s.behind = true;
      s.seq = s.sentSeq;
    }
  }

  /** A frame that goes out whole (a get's doc, a catch-up), outside the delivery caps. */
  whole(epoch: number, docs: readonly DeliveredEntry[], marks: SentMark[]): void {
    if (this.closed || this.expired()) return;
    const ok = this.out.keep(this.frame(epoch, docs), this.sent(epoch, marks));
    if (!ok) this.overBudget('frames are not being read');
  }

  /** An answer (`task/return`), already encoded. */
  answer(data: string | Uint8Array): void {
    if (this.closed) return;
    if (!this.out.keep(data)) this.overBudget('answers are not being read');
  }

  /** Stops sending; what is queued is dropped. */
  stop(): void {
    this.closed = true;
    clearTimeout(this.overBudgetTimer);
    clearTimeout(this.expiryTimer);
    this.out.stop();
  }

  /** The session's token is valid until `atMs`: at that moment the session is closed (4001). */
  expireAt(atMs: number): void {
    this.expiresAtMs = atMs;
    clearTimeout(this.expiryTimer);
    if (!Number.isFinite(atMs)) return;
    const inMs = Math.min(MAX_TIMER_MS, Math.max(0, atMs - Date.now()));
    this.expiryTimer = setTimeout(() => (this.expired() ? undefined : this.expireAt(atMs)), inMs);
  }

  /**
   * SPEC §6: the token lapsed. Queued frames are dropped (nothing is
   * delivered after the expiry), the error frame goes out ahead of them,
   * then the socket is closed with 4001.
   */
  expire(): void {
    if (this.closed) return;
    this.deps.stats.expired++;
    const frame = {
      type: 'error',
      error: { code: 'Unauthorized', message: 'the token expired: reconnect with a fresh one' },
    };
    this.out.stop();
    this.socket.send(this.cbor() ? encodeCborFrame(frame) : JSON.stringify(frame), {
      binary: this.cbor(),
    });
    this.close(CLOSE_UNAUTHORIZED, 'token expired');
  }

  /** Whether the token has lapsed (the session is then closed). */
  private expired(): boolean {
    if (Date.now() < this.expiresAtMs) return false;
    this.expire();
    return true;
  }

  /** What waits for the socket, and the channel's state (for tests and metrics). */
  get queued(): ChannelState {
    return { ...this.out.queued, behind: this.behind, closed: this.closed };
  }

  private frame(epoch: number, docs: readonly DeliveredEntry[]): Uint8Array {
    return encodedFrame(epoch, docs, this.cbor() ? 'cbor' : 'json');
  }

  /** What becomes true once a frame is on the socket. */
  private sent(epoch: number, marks: SentMark[]): () => void {
    return () => {
      this.deps.stats.framesSent++;
      this.sentEpoch = Math.max(this.sentEpoch, epoch);
      for (const [s, seq] of marks) s.sentSeq = Math.max(s.sentSeq, seq);
    };
  }

  private fallBehind(): void {
    this.deps.stats.coalesced++;
    this.behind = true;
    this.out.dropDeliveries();
    this.subs.fallBehind();
    this.overBudgetTimer = setTimeout(
      () => this.overBudget('delivery queue over budget: reconnect and resume'),
      this.deps.limits.deliveryOverBudgetMs,
    );
    this.out.whenDrained(() => void this.catchUp());
  }

  /** In the feed's chain, so no live delivery passes it: one entry per doc that fell behind. */
  private async catchUp(): Promise<void> {
    try {
      await this.feed.run(async (epoch) => {
        const docs: DeliveredEntry[] = [];
        const marks: SentMark[] = [];
        for (const group of this.subs.behindDocs()) {
          const { docId, branch } = group[0] as (typeof group)[0];
          const held = Math.min(...group.map((s) => s.sentSeq));
          const at = { spaceId: this.feed.spaceId, docId, branch };
          const state = await catchUpFrom(this.deps.read, this.deps.epochs, at, held);
          for (const s of group) {
            s.behind = false;
            if (!state) continue;
            s.seq = state.seq;
            s.baseEpoch = epoch;
            marks.push([s, state.seq]);
          }
          if (state?.entry) docs.push(state.entry);
        }
        this.behind = false;
        clearTimeout(this.overBudgetTimer);
        if (docs.length > 0) this.whole(epoch, docs, marks);
      });
    } catch (err) {
      this.deps.logger.error({ err, spaceId: this.feed.spaceId }, 'live catch-up failed');
      this.close(1011, 'catch-up failed: reconnect and resume');
    }
  }

  private overBudget(reason: string): void {
    if (!this.closed) this.deps.stats.closedOverBudget++;
    this.close(CLOSE_OVER_BUDGET, reason);
  }

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.socket.close(code, reason);
    this.onClosed();
  }
}

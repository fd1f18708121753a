import { CairnError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { ReadApi } from '../read/read-api.js';
import { currentState } from './doc-entries.js';
import type { LiveHub } from './live-hub.js';
import {
  changesEntry,
  type DeliveredEntry,
  type FeedSubscriber,
  type SpaceFeed,
} from './space-feed.js';

export interface SseDeps {
  hub: LiveHub;
  read: ReadApi;
  limits: Limits;
  logger: Logger;
}

/** What an SSE request asked for. */
export interface SseRequest {
  spaceId: string;
  /** Doc ids, or `*` for every doc of the space (all branches). */
  docs: readonly string[] | '*';
  /** The branch of the named docs (default main). */
  branch: string;
  /** `Last-Event-ID`: the epoch the client holds; resume after it. */
  lastEventId?: number;
  /** When the request's token stops being valid (ms): the stream ends then (SPEC §6). */
  expiresAtMs?: number;
}

/** Epochs read per storage round trip while catching up from `Last-Event-ID`. */
const EPOCHS_PER_PAGE = 256;
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 25_000;
const UTF8 = new TextEncoder();
/** Timers fire at most this far ahead (Node's limit is ~24.8 days); later ones are re-armed. */
const MAX_TIMER_MS = 24 * 60 * 60 * 1000;

/**
 * One `GET /v1/:space/subscribe` stream (SPEC §6): `event: deliver` frames
 * with `id: <epoch>`, in epoch order, after the durable commit. With
 * `Last-Event-ID: E` every commit after E of the watched docs comes first,
 * read back by epoch (none missed, none twice); without it, named docs start
 * with their current state and `*` with the next commit.
 */
export class SseSession implements FeedSubscriber {
  private readonly feed: SpaceFeed;
  private readonly named: Set<string> | undefined;
  private ready = false;
  private closed = false;
  private keepalive: NodeJS.Timeout | undefined;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private room: (() => void) | undefined;
  private expiresAtMs = Infinity;
  private expiry: NodeJS.Timeout | undefined;
  /** The stream this session writes; hand it to the HTTP answer. */
  readonly stream: ReadableStream<Uint8Array>;

  constructor(
    private readonly request: SseRequest,
    private readonly deps: SseDeps,
  ) {
    this.named = request.docs === '*' ? undefined : new Set(request.docs);
    this.feed = deps.hub.acquire(request.spaceId);
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => {
          this.room?.();
          this.room = undefined;
        },
        cancel: () => this.close(),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
    );
    if (this.named) for (const d of this.named) this.feed.watch(this, d, request.branch);
    else this.feed.watchAll(this);
    this.keepalive = setInterval(() => this.write(': keepalive\n\n'), KEEPALIVE_MS);
    this.keepalive.unref();
    this.armExpiry(request.expiresAtMs ?? Infinity);
    void this.begin().catch((err: unknown) => {
      this.deps.logger.error({ err, spaceId: request.spaceId }, 'SSE stream failed');
      this.close(err);
    });
  }

  /** From the feed: one epoch's entries for the watched docs. */
  deliver(epoch: number, entries: DeliveredEntry[]): void {
    if (!this.ready) return; // the catch-up or initial state covers it
    const docs = entries.filter((e) => this.wants(e.docId, e.branch)).map((e) => e.json);
    if (docs.length > 0) this.emit(epoch, docs);
  }

  close(err?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    clearTimeout(this.expiry);
    if (this.named) for (const d of this.named) this.feed.unwatch(this, d, this.request.branch);
    else this.feed.unwatchAll(this);
    this.deps.hub.release(this.feed);
    this.room?.();
    try {
      if (err) this.controller.error(err);
      else this.controller.close();
    } catch {
      // already closed by the client
    }
  }

  private wants(docId: string, branch: string): boolean {
    return this.named ? this.named.has(docId) && branch === this.request.branch : true;
  }

  private async begin(): Promise<void> {
    const since = this.request.lastEventId;
    if (since === undefined) {
      await this.feed.run(async (upTo) => {
        if (this.named) await this.sendStates(upTo);
        this.ready = true;
      });
      return;
    }
    // Catch up page by page outside the feed's chain (others keep getting
    // theirs); the last step, in the chain, switches to live deliveries.
    let from = since;
    while (!this.closed) {
      const upTo = await this.feed.run(async (deliveredUpTo) => {
        if (from >= deliveredUpTo) this.ready = true;
        return deliveredUpTo;
      });
      if (this.ready) return;
      const epochs = await this.deps.hub.epochs.committedAfter(
        this.request.spaceId,
        from,
        upTo,
        EPOCHS_PER_PAGE,
        (docId, branch) => this.wants(docId, branch),
      );
      for (const e of epochs) {
        const docs = e.writes.filter((w) => this.wants(w.docId, w.branch));
        if (docs.length > 0)
          this.emit(
            e.epoch,
            docs.map((w) => changesEntry(w).json),
          );
        await this.roomToWrite();
      }
      from = epochs.length > 0 ? (epochs.at(-1)?.epoch ?? upTo) : upTo;
    }
  }

  /** The named docs' current states, as one deliver stamped `epoch`. */
  private async sendStates(epoch: number): Promise<void> {
    const docs: string[] = [];
    for (const docId of this.named ?? []) {
      const { spaceId, branch } = this.request;
      const state = await currentState(this.deps.read, spaceId, docId, branch);
      if (state) docs.push(state.entry.json);
    }
    if (docs.length > 0) this.emit(epoch, docs);
  }

  /**
   * The token lapses at `atMs`: an `event: error` (Unauthorized), then the
   * stream ends; nothing is delivered after it. The client reconnects with a
   * fresh token and `Last-Event-ID`.
   */
  private armExpiry(atMs: number): void {
    this.expiresAtMs = atMs;
    if (!Number.isFinite(atMs)) return;
    const inMs = Math.min(MAX_TIMER_MS, Math.max(0, atMs - Date.now()));
    this.expiry = setTimeout(() => {
      if (Date.now() < atMs) return this.armExpiry(atMs);
      this.expire();
    }, inMs);
  }

  private expire(): void {
    const error = {
      code: 'Unauthorized',
      message: 'the token expired: reconnect with a fresh one',
    };
    this.write(`event: error\ndata: ${JSON.stringify({ type: 'error', error })}\n\n`);
    this.close();
  }

  private emit(epoch: number, docs: string[]): void {
    if (Date.now() >= this.expiresAtMs) return this.expire();
    const data = `{"type":"deliver","epoch":${epoch},"docs":[${docs.join(',')}]}`;
    this.write(`event: deliver\nid: ${epoch}\ndata: ${data}\n\n`);
  }

  /**
   * Queues text; a reader too far behind (over the delivery byte budget) is
   * closed, and resumes with `Last-Event-ID` — nothing is lost.
   */
  private write(text: string): void {
    if (this.closed) return;
    const backlog = -(this.controller.desiredSize ?? 0);
    if (backlog > this.deps.limits.maxDeliveryQueueBytes) {
      this.close(
        new CairnError('RateLimited', 'SSE reader too slow: reconnect with Last-Event-ID'),
      );
      return;
    }
    this.controller.enqueue(UTF8.encode(text));
  }

  /** Resolves when the stream wants more (catch-up never outruns the reader). */
  private roomToWrite(): Promise<void> {
    if (this.closed || (this.controller.desiredSize ?? 0) > 0) return Promise.resolve();
    return new Promise((resolve) => (this.room = resolve));
  }
}

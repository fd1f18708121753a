import { CairnError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import { decodeCborFrame, encodeCborFrame } from '../protocol/live-cbor.js';
import {
  parseClientFrame,
  taskError,
  type Invocation,
  type TaskReturn,
} from '../protocol/live-frames.js';
import { txRequestFrom, type RawTx } from '../protocol/tx-request.js';
import type { ReadApi } from '../read/read-api.js';
import type { LiveHub } from './live-hub.js';
import {
  deliveredEntry,
  encodedFrame,
  type DeliveredEntry,
  type FeedSubscriber,
  type SpaceFeed,
} from './space-feed.js';

/** The socket as a connection needs it (a `ws` WebSocket in the server). */
export interface LiveSocket {
  /** `binary: false` sends bytes as a text frame (UTF-8 JSON). */
  send(data: string | Uint8Array, options: { binary: boolean }): void;
  /** Bytes accepted by `send` and not yet written to the network. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
}

export interface LiveDeps {
  hub: LiveHub;
  read: ReadApi;
  pipeline: CommitPipeline;
  limits: Limits;
  serverDid: string;
  logger: Logger;
}

/** SPEC §6: no writes while the socket buffers more than this. */
const SOCKET_HIGH_WATER_BYTES = 1024 * 1024;
const FLUSH_RETRY_MS = 10;
/**
 * A resuming subscription gets at most this many missed changes as changes;
 * more, and the saved doc is smaller and faster to apply (one load).
 */
const MAX_CATCH_UP_CHANGES = 1000;
/** Close code of a client whose deliveries are over budget (SPEC §6); it resumes on reconnect. */
export const CLOSE_OVER_BUDGET = 4008;

interface Subscription {
  docId: string;
  branch: string;
  /** The seq the client holds; deliveries at or below it are skipped. */
  seq: number;
  /** False until the initial state went out (the state includes what came before). */
  ready: boolean;
}

/** Outgoing frames in order; deliveries count against the queue limits, answers do not. */
interface Outgoing {
  data: string | Uint8Array;
  delivery: boolean;
}

/**
 * One WebSocket session of SPEC §6 on one space: `hello` first, then `get`,
 * `subscribe`, `unsubscribe`, `tx` and acks; exactly one `task/return` per
 * invocation; one `deliver` per epoch holding every subscribed doc the
 * commit touched, in epoch order, after the durable commit.
 */
export class LiveConnection implements FeedSubscriber {
  private readonly feed: SpaceFeed;
  private readonly subs = new Map<string, Subscription>();
  private nextSub = 1;
  private helloDone = false;
  /** `hello {encoding: "cbor"}`: binary CBOR frames both ways (JSON text is still read). */
  private cbor = false;
  private closed = false;
  private readonly out: Outgoing[] = [];
  private queuedDeliveries = 0;
  private queuedBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private inFlightTx = 0;
  /** Receipts go out in the order the transactions came in. */
  private txReplies: Promise<void> = Promise.resolve();
  /** The highest epoch the client acknowledged. */
  lastAck = 0;
  /** What the client said it holds at `hello` (0: nothing); subscriptions resume from it. */
  private sinceEpoch = 0;
  clientId: string | undefined;

  constructor(
    readonly spaceId: string,
    private readonly socket: LiveSocket,
    private readonly deps: LiveDeps,
  ) {
    this.feed = deps.hub.acquire(spaceId);
  }

  /** A text frame from the client. */
  onText(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.reply(taskError(null, new CairnError('ValidationError', 'frame is not JSON')));
      return;
    }
    this.onFrame(value);
  }

  private onFrame(value: unknown): void {
    const frame = parseClientFrame(value);
    if (frame.type === 'ack') this.lastAck = Math.max(this.lastAck, frame.epoch);
    else if (frame.type === 'refused') this.reply(taskError(frame.id, frame.error));
    else this.invoke(frame.invocation);
  }

  /** A binary frame: CBOR, on a connection that chose it at hello. */
  onBinary(bytes: Uint8Array): void {
    if (!this.cbor) {
      const err = new CairnError('ValidationError', 'binary frames need hello {encoding: "cbor"}');
      this.reply(taskError(null, err));
      return;
    }
    let value: unknown;
    try {
      value = decodeCborFrame(bytes);
    } catch {
      this.reply(taskError(null, new CairnError('ValidationError', 'frame is not CBOR')));
      return;
    }
    this.onFrame(value);
  }

  /** The socket closed: everything the connection held is let go. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.flushTimer);
    for (const s of this.subs.values()) this.feed.unwatch(this, s.docId, s.branch);
    this.subs.clear();
    this.out.length = 0;
    this.deps.hub.release(this.feed);
  }

  /** From the feed: one epoch's entries for docs this connection watches. */
  deliver(epoch: number, entries: DeliveredEntry[]): void {
    const docs: DeliveredEntry[] = [];
    for (const e of entries) {
      let wanted = false;
      for (const s of this.subs.values()) {
        if (s.docId !== e.docId || s.branch !== e.branch || !s.ready || e.seqTo <= s.seq) continue;
        s.seq = e.seqTo;
        wanted = true;
      }
      if (wanted) docs.push(e);
    }
    // All of them (the usual case): the feed's shared list, whose frame
    // bytes are encoded once for every connection that gets it.
    if (docs.length > 0) this.pushDelivery(epoch, docs.length === entries.length ? entries : docs);
  }

  private invoke(inv: Invocation): void {
    if (inv.cmd !== '/storage/hello' && !this.helloDone) {
      this.reply(taskError(inv.id, new CairnError('ValidationError', 'send /storage/hello first')));
      return;
    }
    if (inv.cmd === '/storage/tx') return this.tx(inv.id, inv.args);
    void this.answer(inv.id, () => this.run(inv));
  }

  private async run(inv: Exclude<Invocation, { cmd: '/storage/tx' }>): Promise<unknown> {
    switch (inv.cmd) {
      case '/storage/hello':
        return this.hello(inv.args);
      case '/storage/get':
        return this.get(inv.args.docId, inv.args.branch ?? 'main');
      case '/storage/subscribe':
        return this.subscribe(inv.args.docId, inv.args.branch ?? 'main', inv.args);
      case '/storage/unsubscribe':
        return this.unsubscribe(inv.args.subscriptionId);
    }
  }

  private async hello(args: {
    clientId: string;
    sinceEpoch?: number | undefined;
    encoding?: 'json' | 'cbor' | undefined;
  }) {
    if (this.helloDone) throw new CairnError('ValidationError', 'hello was already sent');
    // From the hello's own answer on, frames to the client are CBOR.
    this.cbor = args.encoding === 'cbor';
    this.helloDone = true;
    this.clientId = args.clientId;
    const epoch = await this.deps.hub.epochs.currentEpoch(this.spaceId);
    // An epoch this space has not reached is not from it: resume from nothing.
    this.sinceEpoch = (args.sinceEpoch ?? 0) <= epoch ? (args.sinceEpoch ?? 0) : 0;
    const { limits } = this.deps;
    return {
      serverDid: this.deps.serverDid,
      epoch,
      limits: {
        maxInFlightTx: limits.maxInFlightTx,
        maxDeliveryQueue: limits.maxDeliveryQueue,
        maxSubscriptions: limits.maxSubscriptionsPerConnection,
        maxFrameBytes: limits.maxFrameBytes,
      },
    };
  }

  private get(docId: string, branch: string) {
    return this.feed.run(async (epoch) => {
      const state = await this.state(docId, branch);
      if (!state) throw new CairnError('DocNotFound', `no doc ${docId} (branch ${branch})`);
      this.pushDelivery(epoch, [state.entry]);
      return { complete: true, epoch };
    });
  }

  private subscribe(
    docId: string,
    branch: string,
    args: { type?: string | undefined; sinceEpoch?: number | undefined },
  ) {
    if (args.type === 'yjs')
      throw new CairnError('ValidationError', 'Yjs documents are not served yet');
    if (this.subs.size >= this.deps.limits.maxSubscriptionsPerConnection) {
      throw new CairnError('LimitExceeded', 'too many subscriptions on this connection', {
        limit: 'maxSubscriptionsPerConnection',
      });
    }
    const subscriptionId = `s${this.nextSub++}`;
    const sub: Subscription = { docId, branch, seq: 0, ready: false };
    this.subs.set(subscriptionId, sub);
    this.feed.watch(this, docId, branch);
    return this.feed.run(async (epoch) => {
      const since = args.sinceEpoch ?? this.sinceEpoch;
      // An epoch this space has not reached is not from it: send the whole state.
      const known = since <= (await this.deps.hub.epochs.currentEpoch(this.spaceId));
      const state =
        (await this.catchUp(docId, branch, known ? since : 0)) ?? (await this.state(docId, branch));
      if (state && this.subs.has(subscriptionId)) {
        sub.seq = state.seq;
        if (state.entry) this.pushDelivery(epoch, [state.entry]);
      }
      sub.ready = true;
      return { complete: true, epoch, subscriptionId, exists: state !== undefined };
    });
  }

  private unsubscribe(subscriptionId: string) {
    const sub = this.subs.get(subscriptionId);
    if (!sub) throw new CairnError('ValidationError', `no subscription ${subscriptionId}`);
    this.subs.delete(subscriptionId);
    const still = [...this.subs.values()].some(
      (s) => s.docId === sub.docId && s.branch === sub.branch,
    );
    if (!still) this.feed.unwatch(this, sub.docId, sub.branch);
    return { ok: true };
  }

  /**
   * For a client resuming from `sinceEpoch`: only the changes it missed, as
   * one `changes` entry (none when it missed nothing); undefined when a
   * snapshot must be sent instead (SPEC §6: the gap is too large or unknown).
   */
  private async catchUp(docId: string, branch: string, sinceEpoch: number) {
    if (sinceEpoch === 0) return undefined;
    const missed = await this.deps.hub.epochs.changesSince(
      this.spaceId,
      docId,
      branch,
      sinceEpoch,
      MAX_CATCH_UP_CHANGES,
    );
    if (!missed) return undefined;
    const entry =
      missed.changes.length === 0
        ? undefined
        : deliveredEntry(
            {
              docId,
              branch,
              seq: missed.seq,
              heads: missed.heads,
              rootRef: missed.rootRef,
              kind: 'changes',
              body: missed.changes,
            },
            missed.seqFrom,
          );
    return { seq: missed.seq, entry };
  }

  /** The doc's current state as a snapshot entry, or undefined if it does not exist. */
  private async state(docId: string, branch: string) {
    try {
      const v = await this.deps.read.docBytes(this.spaceId, docId, branch, { kind: 'current' });
      const entry = deliveredEntry(
        {
          docId,
          branch,
          seq: v.seq,
          heads: v.heads,
          rootRef: v.rootRef,
          kind: 'snapshot',
          body: v.bytes,
        },
        1,
      );
      return { seq: v.seq, entry };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'DocNotFound' || code === 'BranchNotFound') return undefined;
      throw err;
    }
  }

  /** Pipelined: committed in the order sent, receipts in that order too. */
  private tx(id: string | number, args: RawTx): void {
    if (this.inFlightTx >= this.deps.limits.maxInFlightTx) {
      const err = new CairnError('RateLimited', 'too many transactions awaiting receipts', {
        limit: 'maxInFlightTx',
      });
      this.reply(taskError(id, err));
      return;
    }
    let outcome: ReturnType<CommitPipeline['commit']>;
    try {
      outcome = this.deps.pipeline.commit(this.spaceId, txRequestFrom(args, this.deps.limits));
    } catch (err) {
      this.reply(taskError(id, asCairnError(err, this.deps.logger)));
      return;
    }
    this.inFlightTx++;
    this.txReplies = this.txReplies.then(async () => {
      const done = await outcome.catch((err: unknown) => asCairnError(err, this.deps.logger));
      this.inFlightTx--;
      if (done instanceof CairnError) return this.reply(taskError(id, done));
      if (done.ok) return this.reply({ type: 'task/return', id, ok: done });
      const { code } = done.error;
      const shown = code === 'Internal' ? { code, message: 'internal error' } : done.error;
      this.reply({ type: 'task/return', id, error: { ...shown, results: done.results } });
    });
  }

  private async answer(id: string | number, work: () => Promise<unknown>): Promise<void> {
    try {
      this.reply({ type: 'task/return', id, ok: await work() });
    } catch (err) {
      this.reply(taskError(id, asCairnError(err, this.deps.logger)));
    }
  }

  private reply(answer: TaskReturn): void {
    const data = this.cbor ? encodeCborFrame(answer) : JSON.stringify(answer);
    this.push({ data, delivery: false });
  }

  private pushDelivery(epoch: number, docs: readonly DeliveredEntry[]): void {
    const data = encodedFrame(epoch, docs, this.cbor ? 'cbor' : 'json');
    const size = sizeOf(data);
    const { maxDeliveryQueue, maxDeliveryQueueBytes } = this.deps.limits;
    if (
      this.queuedDeliveries + 1 > maxDeliveryQueue ||
      this.queuedBytes + size > maxDeliveryQueueBytes
    ) {
      // The client is not reading fast enough: it reconnects and resumes
      // from what it acknowledged (coalescing into one catch-up per doc
      // instead is the next step).
      this.socket.close(CLOSE_OVER_BUDGET, 'delivery queue over budget: reconnect and resume');
      this.close();
      return;
    }
    this.queuedDeliveries++;
    this.queuedBytes += size;
    this.push({ data, delivery: true });
  }

  private push(frame: Outgoing): void {
    if (this.closed) return;
    this.out.push(frame);
    this.flush();
  }

  private flush(): void {
    this.flushTimer = undefined;
    while (this.out.length > 0 && this.socket.bufferedAmount <= SOCKET_HIGH_WATER_BYTES) {
      const frame = this.out.shift() as Outgoing;
      if (frame.delivery) {
        this.queuedDeliveries--;
        this.queuedBytes -= sizeOf(frame.data);
      }
      this.socket.send(frame.data, { binary: this.cbor });
    }
    if (this.out.length > 0 && !this.flushTimer && !this.closed) {
      this.flushTimer = setTimeout(() => this.flush(), FLUSH_RETRY_MS);
    }
  }

  /** Deliveries waiting for the socket (for tests and metrics). */
  get queued(): { frames: number; bytes: number } {
    return { frames: this.queuedDeliveries, bytes: this.queuedBytes };
  }
}

/** A typed error for the client; an Internal one's own message stays in the log. */
function asCairnError(err: unknown, logger: Logger): CairnError {
  if (err instanceof CairnError && err.code !== 'Internal') return err;
  logger.error({ err }, 'live command failed');
  return new CairnError('Internal', 'internal error');
}

const sizeOf = (data: string | Uint8Array) =>
  typeof data === 'string' ? data.length : data.byteLength;

import type { Authorizer, Grant } from '../auth/authorizer.js';
import { requireTxBinding } from '../auth/tx-binding.js';
import type { Ability } from '../core/abilities.js';
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
import { YJS_FEED_BRANCH } from '../read/epoch-feed.js';
import type { LiveHub } from './live-hub.js';
import { DeliveryChannel, type ChannelState } from './delivery-channel.js';
import { currentState, missedChanges } from './doc-entries.js';
import type { LiveSocket } from './outgoing-queue.js';
import type { DeliveredEntry, FeedSubscriber, SpaceFeed } from './space-feed.js';
import { Subscriptions } from './subscriptions.js';

export { CLOSE_OVER_BUDGET } from './delivery-channel.js';

/** The ability each command needs over the session's space (hello checks its own). */
const NEEDS: Partial<Record<Invocation['cmd'], Ability>> = {
  '/storage/get': 'storage/read',
  '/storage/subscribe': 'storage/read',
  '/storage/tx': 'storage/write',
};

export interface LiveDeps {
  authorizer: Authorizer;
  hub: LiveHub;
  read: ReadApi;
  pipeline: CommitPipeline;
  limits: Limits;
  serverDid: string;
  logger: Logger;
}

/**
 * One WebSocket session of SPEC §6 on one space: `hello` first, then `get`,
 * `subscribe`, `unsubscribe`, `tx` and acks; exactly one `task/return` per
 * invocation; one `deliver` per epoch holding every subscribed doc the
 * commit touched, in epoch order, after the durable commit.
 */
export class LiveConnection implements FeedSubscriber {
  private readonly feed: SpaceFeed;
  private readonly subs = new Subscriptions();
  /** What the session's token allows (set by a successful hello). */
  private grant: Grant | undefined;
  /** `hello {encoding: "cbor"}`: binary CBOR frames both ways (JSON text is still read). */
  private cbor = false;
  private closed = false;
  private readonly channel: DeliveryChannel;
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
    socket: LiveSocket,
    private readonly deps: LiveDeps,
  ) {
    this.feed = deps.hub.acquire(spaceId);
    const channelDeps = { ...deps, epochs: deps.hub.epochs, stats: deps.hub.stats };
    const cbor = () => this.cbor;
    this.channel = new DeliveryChannel(socket, this.feed, this.subs, channelDeps, cbor, () =>
      this.close(),
    );
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
    if (frame.type === 'ack') this.ack(frame.epoch);
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
    for (const s of this.subs.all()) this.feed.unwatch(this, s.docId, s.branch);
    this.channel.stop();
    this.deps.hub.release(this.feed);
  }

  /** From the feed: one epoch's entries for docs this connection watches. */
  deliver(epoch: number, entries: DeliveredEntry[]): void {
    this.channel.deliver(epoch, entries);
  }

  private invoke(inv: Invocation): void {
    if (inv.cmd !== '/storage/hello' && !this.grant) {
      this.reply(taskError(inv.id, new CairnError('ValidationError', 'send /storage/hello first')));
      return;
    }
    const need = NEEDS[inv.cmd];
    if (need && this.grant) {
      try {
        this.deps.authorizer.require(this.grant, this.spaceId, need);
      } catch (err) {
        this.reply(taskError(inv.id, err as CairnError));
        if ((err as CairnError).code === 'Unauthorized') this.channel.expire();
        return;
      }
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
    token?: string | undefined;
    encoding?: 'json' | 'cbor' | undefined;
  }) {
    if (this.grant) throw new CairnError('ValidationError', 'hello was already sent');
    // The session's token: valid (401) and able to read this space (403) —
    // nothing, not even the space's epoch, is answered before that.
    const grant = this.deps.authorizer.grant(args.token);
    this.deps.authorizer.require(grant, this.spaceId, 'storage/read');
    this.grant = grant;
    // No delivery after the token expires: the session is closed with 4001.
    this.channel.expireAt(grant.expiresAtMs + this.deps.authorizer.skewMs);
    // From the hello's own answer on, frames to the client are CBOR.
    this.cbor = args.encoding === 'cbor';
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
      const state = await currentState(this.deps.read, this.spaceId, docId, branch);
      if (!state) throw new CairnError('DocNotFound', `no doc ${docId} (branch ${branch})`);
      // Not a live delivery: it goes out whole even on a connection that is behind.
      this.channel.whole(epoch, [state.entry], []);
      return { complete: true, epoch };
    });
  }

  private subscribe(
    docId: string,
    branch: string,
    args: { type?: string | undefined; sinceEpoch?: number | undefined },
  ) {
    // A Yjs doc (SPEC §11) is followed under its own key; it always starts from its whole state.
    const yjs = args.type === 'yjs';
    if (yjs) branch = YJS_FEED_BRANCH;
    if (this.subs.size >= this.deps.limits.maxSubscriptionsPerConnection) {
      throw new CairnError('LimitExceeded', 'too many subscriptions on this connection', {
        limit: 'maxSubscriptionsPerConnection',
      });
    }
    const [subscriptionId, sub] = this.subs.add(docId, branch);
    this.feed.watch(this, docId, branch);
    return this.feed.run(async (epoch) => {
      const { epochs } = this.deps.hub;
      const since = yjs ? 0 : await this.resumeEpoch(docId, branch, args.sinceEpoch);
      const state =
        (await missedChanges(epochs, this.spaceId, docId, branch, since)) ??
        (await currentState(this.deps.read, this.spaceId, docId, branch, epochs));
      if (state && this.subs.get(subscriptionId)) {
        sub.seq = state.seq;
        sub.baseEpoch = epoch;
        if (state.entry) this.channel.live(epoch, [state.entry], [[sub, state.seq]]);
        else sub.sentSeq = state.seq;
      }
      sub.ready = true;
      return { complete: true, epoch, subscriptionId, exists: state !== undefined };
    });
  }

  private unsubscribe(subscriptionId: string) {
    const sub = this.subs.get(subscriptionId);
    if (!sub) throw new CairnError('ValidationError', `no subscription ${subscriptionId}`);
    this.subs.remove(subscriptionId);
    if (!this.subs.watches(sub.docId, sub.branch)) this.feed.unwatch(this, sub.docId, sub.branch);
    return { ok: true };
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
      const request = txRequestFrom(args, this.deps.limits);
      requireTxBinding(this.grant, request.writes);
      outcome = this.deps.pipeline.commit(this.spaceId, request, this.grant?.did);
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
    this.channel.answer(this.cbor ? encodeCborFrame(answer) : JSON.stringify(answer));
  }

  /**
   * A cumulative ack: recorded durably per doc and branch for what the
   * client provably holds (never past what was written to it).
   */
  private ack(epoch: number): void {
    this.deps.hub.stats.acks++;
    this.lastAck = Math.max(this.lastAck, epoch);
    if (this.clientId === undefined) return;
    const acks = this.subs.acksFor(this.clientId, Math.min(epoch, this.channel.sentEpoch));
    this.deps.hub.acks.record(this.spaceId, acks);
  }

  /**
   * Where a subscription resumes: the epoch the subscribe names, else the
   * hello's — lowered to what this client acknowledged for this doc, when
   * that is older (it may have dropped the doc for a while). 0: whole state.
   */
  private async resumeEpoch(docId: string, branch: string, stated: number | undefined) {
    const { epochs } = this.deps.hub;
    let since = stated ?? this.sinceEpoch;
    if (stated === undefined && since > 0 && this.clientId !== undefined) {
      const acked = await epochs.clientAck(this.spaceId, this.clientId, docId, branch);
      if (acked !== undefined && acked < since) since = acked;
    }
    // An epoch this space has not reached is not from it: send the whole state.
    return since <= (await epochs.currentEpoch(this.spaceId)) ? since : 0;
  }

  /** Deliveries waiting for the socket (for tests and metrics). */
  get queued(): ChannelState {
    return this.channel.queued;
  }
}

/** A typed error for the client; an Internal one's own message stays in the log. */
function asCairnError(err: unknown, logger: Logger): CairnError {
  if (err instanceof CairnError && err.code !== 'Internal') return err;
  logger.error({ err }, 'live command failed');
  return new CairnError('Internal', 'internal error');
}

import type { Logger } from '../core/logger.js';
import { encodeBase64 } from '../protocol/base64.js';
import { cborDeliverFrame, encodeCborFrame } from '../protocol/live-cbor.js';
import {
  YJS_FEED_BRANCH,
  type CommittedEpoch,
  type CommittedWrite,
  type EpochFeed,
} from '../read/epoch-feed.js';

/** One doc entry of a `deliver` frame, encoded once per encoding and shared by every subscriber. */
export interface DeliveredEntry {
  docId: string;
  branch: string;
  seqFrom: number;
  seqTo: number;
  /** The entry as JSON text (SPEC §6 `docs[i]`). */
  json: string;
  /** The entry as one CBOR item (bytes as byte strings), made on first use. */
  cbor(): Uint8Array;
}

/** A deliver-frame entry's fields; `body` holds raw bytes (base64 only in JSON). */
export interface EntryFields {
  docId: string;
  branch: string;
  seq: number;
  heads: string[];
  rootRef: string;
  kind: 'changes' | 'snapshot' | 'yjs';
  body: Uint8Array[] | Uint8Array;
}

/**
 * An entry in both encodings, each encoded at most once. `feedBranch`: the
 * key subscriptions match it by, when it is not the wire branch (Yjs docs).
 */
export function deliveredEntry(
  fields: EntryFields,
  seqFrom: number,
  feedBranch = fields.branch,
): DeliveredEntry {
  const body = Array.isArray(fields.body)
    ? fields.body.map(encodeBase64)
    : encodeBase64(fields.body as Uint8Array);
  let cbor: Uint8Array | undefined;
  return {
    docId: fields.docId,
    branch: feedBranch,
    seqFrom,
    seqTo: fields.seq,
    json: JSON.stringify({ ...fields, body }),
    cbor: () => (cbor ??= encodeCborFrame(fields)),
  };
}

/** A connection as the feed sees it: where one epoch's entries go. */
export interface FeedSubscriber {
  deliver(epoch: number, entries: DeliveredEntry[]): void;
}

/** Epochs read per storage round trip while catching up. */
const EPOCHS_PER_READ = 256;

const docKey = (docId: string, branch: string) => JSON.stringify([docId, branch]);

/**
 * The live feed of one space: which connections watch which (doc, branch),
 * and a single chain of work that hands out every committed epoch in order —
 * each epoch read once from storage (after its durable commit), each doc
 * entry encoded once, then given to each subscriber. Work that must be
 * ordered with the deliveries (a subscription's initial state) runs in the
 * same chain.
 */
export class SpaceFeed {
  /** Every epoch ≤ this has been handed out (undefined until first read). */
  private lastEpoch: number | undefined;
  private wantedEpoch = 0;
  /** A catch-up is in the chain and has not started yet. */
  private catchUpQueued = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly watchers = new Map<string, Set<FeedSubscriber>>();
  /** Subscribers of every doc of the space (the SSE `docs=*` feed). */
  private readonly everything = new Set<FeedSubscriber>();
  /** Connections holding this feed (the hub drops it at 0). */
  holders = 0;

  constructor(
    readonly spaceId: string,
    private readonly epochs: EpochFeed,
    private readonly logger: Logger,
  ) {}

  watch(subscriber: FeedSubscriber, docId: string, branch: string): void {
    const key = docKey(docId, branch);
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(subscriber);
  }

  unwatch(subscriber: FeedSubscriber, docId: string, branch: string): void {
    const key = docKey(docId, branch);
    const set = this.watchers.get(key);
    set?.delete(subscriber);
    if (set?.size === 0) this.watchers.delete(key);
  }

  /** Every doc of the space, every branch. */
  watchAll(subscriber: FeedSubscriber): void {
    this.everything.add(subscriber);
  }

  unwatchAll(subscriber: FeedSubscriber): void {
    this.everything.delete(subscriber);
  }

  /** Whether anyone watches this (doc, branch): only then are its change bytes read. */
  isWatched(docId: string, branch: string): boolean {
    return this.everything.size > 0 || this.watchers.has(docKey(docId, branch));
  }

  /** A commit of `epoch` is durable: hand out everything up to it. */
  committed(epoch: number): void {
    this.wantedEpoch = Math.max(this.wantedEpoch, epoch);
    // One catch-up waiting in the chain reads up to the newest epoch wanted
    // when it runs: commits announced meanwhile (our own, and the same ones
    // again through PostgreSQL NOTIFY) need no task of their own.
    if (this.catchUpQueued) return;
    this.catchUpQueued = true;
    void this.run(() => {
      this.catchUpQueued = false;
      return this.catchUp();
    });
  }

  /** Notifications may have been missed: read the space's current epoch and catch up to it. */
  resync(): void {
    void this.run(async () => {
      this.wantedEpoch = Math.max(this.wantedEpoch, await this.epochs.currentEpoch(this.spaceId));
      await this.catchUp();
    });
  }

  /**
   * Runs `task` after every delivery already due, before any later one; it
   * gets the epoch up to which deliveries have been handed out.
   */
  run<T>(task: (deliveredUpTo: number) => Promise<T>): Promise<T> {
    const result = this.chain.then(async () => task(await this.deliveredUpTo()));
    // The chain goes on whatever one task does; its caller sees the failure.
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async deliveredUpTo(): Promise<number> {
    this.lastEpoch ??= await this.epochs.currentEpoch(this.spaceId);
    return this.lastEpoch;
  }

  private async catchUp(): Promise<void> {
    try {
      let from = await this.deliveredUpTo();
      while (from < this.wantedEpoch) {
        const batch = await this.epochs.committedAfter(
          this.spaceId,
          from,
          this.wantedEpoch,
          EPOCHS_PER_READ,
          (docId, branch) => this.isWatched(docId, branch),
        );
        for (const e of batch) this.dispatch(e);
        // No record in range: the epochs are not visible yet, or never will be.
        from = batch.length > 0 ? (batch.at(-1) as CommittedEpoch).epoch : this.wantedEpoch;
        this.lastEpoch = from;
      }
    } catch (err) {
      // Nothing is skipped: the next commit retries from the same epoch.
      this.logger.error({ err, spaceId: this.spaceId }, 'live feed read failed');
    }
  }

  private dispatch(e: CommittedEpoch): void {
    const entries: DeliveredEntry[] = [];
    /** Per subscriber, the indexes (in `entries`) of what it watches. */
    const wanted = new Map<FeedSubscriber, number[]>();
    for (const w of e.writes) {
      const set = this.watchers.get(docKey(w.docId, w.branch));
      if (!set && this.everything.size === 0) continue;
      const at = entries.push(changesEntry(w)) - 1;
      for (const s of new Set([...(set ?? []), ...this.everything])) {
        const list = wanted.get(s);
        if (list) list.push(at);
        else wanted.set(s, [at]);
      }
    }
    // Subscribers that get the same entries share one list, so the frame
    // built from it is encoded once for all of them (see encodedFrame).
    const shared = new Map<string, DeliveredEntry[]>();
    for (const [s, indexes] of wanted) {
      const key = indexes.join(',');
      let list = shared.get(key);
      if (!list) shared.set(key, (list = indexes.map((i) => entries[i] as DeliveredEntry)));
      s.deliver(e.epoch, list);
    }
  }
}

/** A Yjs doc's updates (or whole state) as a `yjs` entry of a deliver frame (SPEC §6, §11). */
export function yjsEntry(docId: string, epoch: number, body: Uint8Array[]): DeliveredEntry {
  const fields = {
    docId,
    branch: 'main',
    seq: epoch,
    heads: [],
    rootRef: '',
    kind: 'yjs' as const,
    body,
  };
  return deliveredEntry(fields, epoch, YJS_FEED_BRANCH);
}

/** A committed write as a `changes` entry of a deliver frame (SPEC §6). */
export function changesEntry(w: CommittedWrite): DeliveredEntry {
  if (w.yjs) return yjsEntry(w.docId, w.seqTo, w.changes);
  return deliveredEntry(
    {
      docId: w.docId,
      branch: w.branch,
      seq: w.seqTo,
      heads: w.heads,
      rootRef: w.rootRef,
      kind: 'changes',
      body: w.changes,
    },
    w.seqFrom,
  );
}

const UTF8 = new TextEncoder();
const frames = new WeakMap<readonly DeliveredEntry[], { json?: Uint8Array; cbor?: Uint8Array }>();

/**
 * The `deliver` frame of `epoch` holding `entries`, as UTF-8 JSON or CBOR
 * bytes, encoded once per list and encoding: connections handed the same
 * list (the feed shares it) send the same bytes.
 */
export function encodedFrame(
  epoch: number,
  entries: readonly DeliveredEntry[],
  encoding: 'json' | 'cbor',
): Uint8Array {
  let cached = frames.get(entries);
  if (!cached) frames.set(entries, (cached = {}));
  if (encoding === 'cbor') {
    return (cached.cbor ??= cborDeliverFrame(
      epoch,
      entries.map((d) => d.cbor()),
    ));
  }
  return (cached.json ??= UTF8.encode(
    `{"type":"deliver","epoch":${epoch},"docs":[${entries.map((d) => d.json).join(',')}]}`,
  ));
}

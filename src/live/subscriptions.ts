import type { ClientAck } from '../read/epoch-feed.js';
import type { DeliveredEntry } from './space-feed.js';

/** One `subscribe` of a live connection and what its client holds. */
export interface Subscription {
  readonly docId: string;
  readonly branch: string;
  /** The seq queued for the client; deliveries at or below it are skipped. */
  seq: number;
  /** The seq handed to the socket (what the client has or will have). */
  sentSeq: number;
  /** False until the initial state went out (the state includes what came before). */
  ready: boolean;
  /** Deliveries for it were dropped or skipped: it needs a catch-up. */
  behind: boolean;
  /** Epoch stamp of its last whole-state or catch-up frame (acks must pass it). */
  baseEpoch: number;
  /** The newest ack recorded for it. */
  ackedEpoch: number;
}

/** A subscription and the seq a queued frame brings it to (set as sent when written). */
export type SentMark = readonly [Subscription, number];

/** The subscriptions of one live connection. */
export class Subscriptions {
  private readonly byId = new Map<string, Subscription>();
  private nextId = 1;

  get size(): number {
    return this.byId.size;
  }

  add(docId: string, branch: string): [string, Subscription] {
    const id = `s${this.nextId++}`;
    const sub: Subscription = {
      docId,
      branch,
      seq: 0,
      sentSeq: 0,
      ready: false,
      behind: false,
      baseEpoch: 0,
      ackedEpoch: 0,
    };
    this.byId.set(id, sub);
    return [id, sub];
  }

  get(id: string): Subscription | undefined {
    return this.byId.get(id);
  }

  remove(id: string): void {
    this.byId.delete(id);
  }

  /** Whether any subscription still watches this (doc, branch). */
  watches(docId: string, branch: string): boolean {
    for (const s of this.byId.values()) if (s.docId === docId && s.branch === branch) return true;
    return false;
  }

  all(): IterableIterator<Subscription> {
    return this.byId.values();
  }

  /**
   * The entries of one epoch this connection wants (each subscribed doc's,
   * once it is ready and not yet past it), with the marks to set when the
   * frame is written.
   */
  take(entries: readonly DeliveredEntry[]): { docs: DeliveredEntry[]; marks: SentMark[] } {
    const docs: DeliveredEntry[] = [];
    const marks: SentMark[] = [];
    for (const e of entries) {
      let wanted = false;
      for (const s of this.byId.values()) {
        if (s.docId !== e.docId || s.branch !== e.branch || !s.ready || e.seqTo <= s.seq) continue;
        s.seq = e.seqTo;
        marks.push([s, e.seqTo]);
        wanted = true;
      }
      if (wanted) docs.push(e);
    }
    return { docs, marks };
  }

  /** Queued deliveries were dropped: each subscription holds what was written. */
  fallBehind(): void {
    for (const s of this.byId.values()) {
      if (s.seq > s.sentSeq) s.behind = true;
      s.seq = s.sentSeq;
    }
  }

  /** While the connection is behind: these entries were not queued. */
  missed(entries: readonly DeliveredEntry[]): void {
    for (const e of entries) {
      for (const s of this.byId.values()) {
        if (s.docId === e.docId && s.branch === e.branch && s.ready && e.seqTo > s.seq) {
          s.behind = true;
        }
      }
    }
  }

  /** The (doc, branch) pairs needing a catch-up, each with its subscriptions. */
  behindDocs(): Subscription[][] {
    const groups = new Map<string, Subscription[]>();
    for (const s of this.byId.values()) {
      if (!s.behind) continue;
      const key = JSON.stringify([s.docId, s.branch]);
      const group = groups.get(key);
      if (group) group.push(s);
      else groups.set(key, [s]);
    }
    return [...groups.values()];
  }

  /**
   * What a cumulative ack of `epoch` says the client holds, as new acks to
   * record: only subscriptions whose frames all went out (not behind), that
   * hold something, and whose last whole-state frame is older than `epoch`
   * (frames sharing that epoch may still be unread).
   */
  acksFor(clientId: string, epoch: number): ClientAck[] {
    const acks = new Map<string, ClientAck>();
    for (const s of this.byId.values()) {
      if (!s.ready || s.behind || s.sentSeq === 0 || epoch <= s.baseEpoch) continue;
      if (epoch <= s.ackedEpoch) continue;
      s.ackedEpoch = epoch;
      const key = JSON.stringify([s.docId, s.branch]);
      acks.set(key, { clientId, docId: s.docId, branch: s.branch, epoch });
    }
    return [...acks.values()];
  }
}

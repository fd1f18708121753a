import * as A from '@automerge/automerge';
import type { Derived } from '../../lib/open-loop.js';

/** The op row of a subscriber receiving an edit. */
export const DELIVERY_OP = 'delivery';

/** One committed-or-in-flight edit that the subscribers of its doc should receive. */
class PendingEdit {
  readonly results: Derived[] = [];
  private left: number;
  settled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly hash: string,
    subscribers: number,
    private readonly resolve: (results: Derived[]) => void,
  ) {
    this.left = subscribers;
  }

  arm(timeoutMs: number): void {
    this.timer = setTimeout(() => this.expire(timeoutMs), timeoutMs);
  }

  arrived(nowMs: number): void {
    if (this.settled) return;
    this.results.push({ op: DELIVERY_OP, doneMs: nowMs, outcome: { kind: 'ok' } });
    if (--this.left === 0) this.finish();
  }

  private expire(timeoutMs: number): void {
    if (this.settled) return;
    const now = performance.now();
    for (let i = 0; i < this.left; i++) {
      this.results.push({
        op: DELIVERY_OP,
        doneMs: now,
        outcome: {
          kind: 'error',
          code: 'DeliveryTimeout',
          detail: `change ${this.hash.slice(0, 12)} not received within ${timeoutMs} ms`,
        },
      });
    }
    this.finish();
  }

  private finish(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(this.results);
  }
}

/**
 * What one subscriber of one doc still waits for: per writer, its edits in
 * the order made. A writer's changes form a chain (each local change
 * depends on the one before), so once an edit is in the subscriber's doc
 * every earlier edit of that writer is too: each delivery checks only the
 * front of each queue (`Automerge.hasHeads`).
 */
export class SubscriberWatch {
  private readonly queues: PendingEdit[][];
  /** Edits received (for the report). */
  received = 0;

  constructor(writers: number) {
    this.queues = Array.from({ length: writers }, () => []);
  }

  /** The subscriber's listener: called with its doc after every applied delivery. */
  onDoc(doc: A.Doc<unknown>): void {
    const now = performance.now();
    for (const q of this.queues) {
      while (q.length > 0) {
        const front = q[0] as PendingEdit;
        if (!front.settled && !A.hasHeads(doc, [front.hash])) break;
        q.shift();
        if (!front.settled) this.received++;
        front.arrived(now);
      }
    }
  }

  /** Waits for writer `writer`'s edit (called by DocDeliveries.track). */
  push(writer: number, edit: PendingEdit): void {
    this.queues[writer]?.push(edit);
  }
}

/**
 * Delivery latency of one doc: every edit a writer commits is expected at
 * every subscriber of the doc. `track` resolves with one `delivery` outcome
 * per subscriber — its arrival time, or `DeliveryTimeout` after
 * `timeoutMs` — so the open loop records each against the edit's intended
 * time.
 */
export class DocDeliveries {
  readonly watches: SubscriberWatch[];

  constructor(
    writers: number,
    subscribers: number,
    private readonly timeoutMs: number,
  ) {
    this.watches = Array.from({ length: subscribers }, () => new SubscriberWatch(writers));
  }

  track(writer: number, hash: string): Promise<Derived[]> {
    if (this.watches.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const edit = new PendingEdit(hash, this.watches.length, resolve);
      for (const w of this.watches) w.push(writer, edit);
      edit.arm(this.timeoutMs);
    });
  }
}

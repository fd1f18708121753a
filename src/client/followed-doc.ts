import * as A from '@automerge/automerge';
import type { TxReceipt } from '../protocol/receipt.js';
import type { CairnClientError } from './client-error.js';

export type DocListener = (doc: A.Doc<Record<string, unknown>>) => void;

/** A local change waiting to be committed, and who waits for its receipt. */
interface Outgoing {
  change: Uint8Array;
  resolve: (receipt: TxReceipt) => void;
  reject: (err: CairnClientError) => void;
}

/** One entry of a `deliver` frame, decoded. */
export interface Incoming {
  kind: 'changes' | 'snapshot';
  bytes: Uint8Array[];
  epoch: number;
}

/**
 * A doc the client follows: its local Automerge state, the local changes
 * not yet sent, and the delivered ones not yet applied. Deliveries are
 * applied in batches — every frame that arrived since the last apply in one
 * `applyChanges` call — because Automerge's cost per call grows with the
 * doc: one call per change (or per small frame) is quadratic over a burst.
 */
export class FollowedDoc {
  private current: A.Doc<Record<string, unknown>> = A.init();
  /** The epoch up to which the doc holds the branch (0: nothing yet). */
  epoch = 0;
  readonly listeners = new Set<DocListener>();
  private readonly outbox: Outgoing[] = [];
  private readonly inbox: Incoming[] = [];
  /** Transactions of this doc sent and not yet answered. */
  inFlight = 0;
  /** Deliveries were applied since listeners were last told. */
  unnotified = false;

  constructor(
    readonly docId: string,
    readonly branch: string,
  ) {}

  /** The local doc, with every delivery received so far applied. */
  get doc(): A.Doc<Record<string, unknown>> {
    this.applyInbox();
    return this.current;
  }

  /** Makes a local change; its bytes wait in the outbox. Undefined when `fn` changed nothing. */
  change(fn: (d: Record<string, unknown>) => void): Promise<TxReceipt> | undefined {
    const before = A.getHeads(this.doc);
    this.current = A.change(this.current, fn);
    const change = A.getLastLocalChange(this.current);
    if (!change || A.getHeads(this.current).join() === before.join()) return undefined;
    this.notify();
    return new Promise((resolve, reject) => this.outbox.push({ change, resolve, reject }));
  }

  /** Up to `max` waiting local changes, oldest first, to send as one transaction. */
  takeOutgoing(max: number): Outgoing[] {
    return this.outbox.splice(0, max);
  }

  get hasOutgoing(): boolean {
    return this.outbox.length > 0;
  }

  /** A delivery for this doc; applied at the next `applyInbox` (or read of `doc`). */
  received(entry: Incoming): void {
    this.inbox.push(entry);
  }

  /** Applies every delivery received, in order; true when something was applied. */
  applyInbox(): boolean {
    if (this.inbox.length === 0) return false;
    const entries = this.inbox.splice(0);
    let changes: Uint8Array[] = [];
    const flush = () => {
      if (changes.length > 0) [this.current] = A.applyChanges(this.current, changes);
      changes = [];
    };
    for (const e of entries) {
      if (e.kind === 'snapshot') {
        flush();
        // Into an empty doc a load is cheaper than an incremental load.
        const bytes = e.bytes[0] as Uint8Array;
        this.current =
          A.getHeads(this.current).length === 0
            ? A.load(bytes)
            : A.loadIncremental(this.current, bytes);
      } else {
        for (const b of e.bytes) changes.push(b);
      }
      this.epoch = Math.max(this.epoch, e.epoch);
    }
    flush();
    this.unnotified = true;
    return true;
  }

  notify(): void {
    this.unnotified = false;
    for (const l of this.listeners) l(this.current);
  }
}

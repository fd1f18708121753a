import * as A from '@automerge/automerge';
import { call, changesFrom, type Answer } from './hammer-http.js';
import { b64, type Doc } from '../../helpers/changes.js';

/**
 * One hammer client of one doc: a local Automerge replica that holds exactly
 * what it read from the server (`synced`), and makes each attempt's change on
 * a clone of it, so a refused change never stays in the replica — a retry is
 * a real rebase: a new change on the new heads, with a new hash.
 */
export class DocClient {
  /** The doc as the server last served it to this client (nothing unsent in it). */
  private synced: Doc = A.init();
  /** Highest seq of the log applied to `synced`. */
  private knownSeq = 0;
  /** Attempts made so far (each makes a new change). */
  attempts = 0;

  /**
   * @param id the client's number (its own key in the doc is `c<id>`)
   * @param base `http://127.0.0.1:<port>/v1/<space>` of the server it talks to
   */
  constructor(
    readonly id: number,
    readonly base: string,
    readonly docId: string,
  ) {}

  /** A 32-hex actor id of its own (no two clients of a doc share one). */
  get actor(): string {
    return (0x10000 + this.id).toString(16).padStart(8, '0').repeat(4);
  }

  /** Sorted heads of what the client has read. */
  get heads(): string[] {
    return [...A.getHeads(this.synced)].sort();
  }

  /** Reads the log past what it holds and applies it (one batch). */
  async catchUp(): Promise<void> {
    const items = await changesFrom(this.base, this.docId, this.knownSeq + 1);
    if (items.length === 0) return;
    [this.synced] = A.applyChanges(
      this.synced,
      items.map((i) => new Uint8Array(Buffer.from(i.bytes, 'base64'))),
    );
    this.knownSeq = items[items.length - 1]?.seq ?? this.knownSeq;
  }

  /**
   * A new change on the heads it has read: its own key, the shared `last`
   * register and the shared counter. The message names the attempt, so two
   * attempts never make the same bytes.
   */
  makeChange(): Uint8Array {
    this.attempts++;
    const draft = A.clone(this.synced, { actor: this.actor });
    const next = A.change(draft, `client ${this.id} attempt ${this.attempts}`, (d) => {
      d[`c${this.id}`] = this.attempts;
      d.last = this.id;
      (d.counter as A.Counter).increment(1);
    });
    const change = A.getLastLocalChange(next);
    if (!change) throw new Error('the change made no ops');
    return change;
  }

  /**
   * Sends one change in a transaction. `precondition`: `base` (the write's
   * `baseHeads` must be the current heads), `read` (a merge write guarded by a
   * read set of the same doc at the client's heads) or `none` (a merge write:
   * a plain concurrent change).
   */
  send(change: Uint8Array, precondition: Precondition): Promise<Answer> {
    const heads = this.heads;
    const write = {
      docId: this.docId,
      baseHeads: heads,
      changes: [b64(change)],
      ...(precondition === 'base' ? {} : { merge: true }),
    };
    const body = {
      ...(precondition === 'read' ? { reads: [{ docId: this.docId, heads }] } : {}),
      writes: [write],
    };
    return call(`${this.base}/tx`, 'POST', body);
  }
}

/** How a transaction guards its base (see `DocClient.send`). */
export type Precondition = 'base' | 'read' | 'none';

/** The doc every round starts from: a counter at 0 and its id (one commit by a setup client). */
export function baseChange(docId: string): Uint8Array {
  const doc = A.change(A.init<Record<string, unknown>>({ actor: 'ff'.repeat(16) }), (d) => {
    d.counter = new A.Counter(0);
    d.title = docId;
  });
  const change = A.getLastLocalChange(doc);
  if (!change) throw new Error('the base change made no ops');
  return change;
}

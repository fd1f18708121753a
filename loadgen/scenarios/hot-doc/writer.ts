import * as A from '@automerge/automerge';
import type { CairnClient } from '../../../src/client/index.js';
import type { HttpClient } from '../../lib/http.js';
import { CairnClientError, clientFailure, withTimeout } from '../../lib/live-clients.js';
import type { Derived } from '../../lib/open-loop.js';
import { OK, type Outcome } from '../../lib/recorder.js';
import { splicePatches, type TextEditor } from '../../lib/trace-edits.js';
import { fetchChanges, isOutcome } from './fetch-changes.js';

/** The op row of a conflict answer (expected: the writer rebases and retries). */
export const CONFLICT_OP = 'conflict';
const TX_TIMEOUT_MS = 15_000;
/** Retry n waits a random 0…min(cap, base × 2^n) ms (exponential backoff, full jitter). */
const BACKOFF_BASE_MS = 2;
const BACKOFF_CAP_MS = 100;

type Doc = A.Doc<Record<string, unknown>>;

/** How one commit ended: its outcome, the conflicts on the way, and the retries it took. */
export interface CommitResult {
  outcome: Outcome;
  conflicts: Derived[];
  retries: number;
  /** When it ended (performance.now() ms). */
  doneMs: number;
}

/**
 * A writer of the hot doc: its own live client (transactions over
 * WebSocket, and a subscription to the doc), its own Automerge replica
 * (its commits plus what the deliveries brought) and its text field
 * (`w<i>`, so its trace positions stay exact). One commit at a time: an
 * edit that arrives while the previous one is still retrying waits for it
 * (and that wait is latency).
 */
export class HotWriter {
  private doc: Doc;
  private readonly actor: string;
  /** A branch log position `doc` holds at least (where a fetch starts). */
  private seq = 0;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly index: number,
    private readonly client: CairnClient,
    private readonly http: HttpClient,
    private readonly path: { space: string; docId: string },
    readonly field: string,
    readonly editor: TextEditor,
    private readonly maxRetries: number,
    private readonly random: () => number,
  ) {
    // A fixed actor per writer (32 hex): the seq of its changes continues across retries.
    this.actor = (index + 1).toString(16).padStart(32, 'a');
    this.doc = A.init({ actor: this.actor });
    // Live: the deliveries keep a copy of the doc that each attempt takes in first.
    client.subscribe(path.docId, () => undefined);
  }

  /** Queues one edit behind the writer's previous one; never rejects. */
  enqueue(): Promise<CommitResult> {
    const run = this.tail.then(() => this.commit());
    this.tail = run.catch(() => undefined);
    return run.then(
      (r) => ({ ...r, doneMs: performance.now() }),
      (err: unknown): CommitResult => ({
        outcome: clientFailure(err, `writer ${this.index}`),
        conflicts: [],
        retries: 0,
        doneMs: performance.now(),
      }),
    );
  }

  /**
   * The next trace edit with `baseHeads` = the heads the writer holds
   * (SPEC §2 step 4: no `merge`, so a stale base is `StaleBaseHeads`). On
   * that conflict the writer receives the heads it lacks (deliveries, else
   * a fetch), redoes the same edit on the new state (a rebase: a new change
   * with new deps) and retries, at most `maxRetries` times.
   */
  private async commit(): Promise<Omit<CommitResult, 'doneMs'>> {
    const patches = this.editor.nextEdit();
    const conflicts: Derived[] = [];
    for (let attempt = 0; attempt <= this.maxRetries; attempt++) {
      this.absorb();
      const baseHeads = A.getHeads(this.doc);
      const draft = A.change(A.clone(this.doc, { actor: this.actor }), (d) =>
        splicePatches(d, this.field, patches),
      );
      const change = A.getLastLocalChange(draft) as Uint8Array;
      const write = {
        docId: this.path.docId,
        baseHeads,
        changes: [Buffer.from(change).toString('base64')],
      };
      try {
        const receipt = await withTimeout(this.client.tx([write]), TX_TIMEOUT_MS, 'hot-doc tx');
        const result = receipt.results.find((r) => r.docId === this.path.docId);
        if (!result || result.applied !== 1) {
          this.editor.rollback();
          const detail = JSON.stringify(receipt).slice(0, 300);
          return {
            outcome: { kind: 'error', code: 'BadReceipt', detail },
            conflicts,
            retries: attempt,
          };
        }
        this.doc = draft;
        this.seq = Math.max(this.seq, result.seq);
        return { outcome: OK, conflicts, retries: attempt };
      } catch (err) {
        if (!(err instanceof CairnClientError) || err.code !== 'StaleBaseHeads') {
          this.editor.rollback();
          return { outcome: clientFailure(err, 'hot-doc tx'), conflicts, retries: attempt };
        }
        conflicts.push({
          op: CONFLICT_OP,
          doneMs: performance.now(),
          outcome: { kind: 'expected', code: err.code },
        });
        // Full jitter: the writers that lost to one commit do not all retry at once.
        const backoffMs = this.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        const current = err.details.currentHeads;
        const failed = await this.receive(Array.isArray(current) ? (current as string[]) : []);
        if (failed) {
          this.editor.rollback();
          return { outcome: failed, conflicts, retries: attempt };
        }
      }
    }
    this.editor.rollback();
    return {
      outcome: { kind: 'expected', code: 'RetriesExhausted' },
      conflicts,
      retries: this.maxRetries,
    };
  }

  /** Takes in what the live deliveries hold and the replica lacks. */
  private absorb(): void {
    const remote = this.client.doc(this.path.docId);
    if (!remote) return;
    const heads = A.getHeads(remote);
    if (heads.length > 0 && !A.hasHeads(this.doc, heads)) this.doc = A.merge(this.doc, remote);
  }

  /**
   * Until the replica holds `heads`: from the deliveries when they already
   * brought them, else at once from the log (a round trip, where waiting
   * for a delivery could take a batching interval). An outcome on failure.
   */
  private async receive(heads: string[]): Promise<Outcome | undefined> {
    this.absorb();
    if (heads.length > 0 && A.hasHeads(this.doc, heads)) return undefined;
    return this.catchUp();
  }

  /** Fetches the log after the seq the writer holds and applies it. An outcome on failure. */
  async catchUp(): Promise<Outcome | undefined> {
    const got = await fetchChanges(this.http, this.path.space, this.path.docId, this.seq + 1);
    if (isOutcome(got)) return got;
    if (got.changes.length > 0) [this.doc] = A.applyChanges(this.doc, got.changes);
    this.seq = Math.max(this.seq, got.lastSeq);
    return undefined;
  }
}

import { codeOf, type Answer, type ErrorBody } from './hammer-http.js';
import { hashOf } from '../../helpers/changes.js';

/**
 * What the hammer's clients were told, per transaction: the changes the
 * server receipted (with their epoch) and the changes it refused. The final
 * checks hold the server to it: every receipted change is stored, at its
 * epoch; no refused change is; epochs are dense. Anything other than a
 * receipt or a typed conflict (a 5xx, a 4xx of another code, no answer in
 * time) is kept in `unexpected`, which a test asserts is empty.
 */

/** The typed conflicts of SPEC §2/§9 a stale-base transaction may get (409). */
export const CONFLICT_CODES: ReadonlySet<string> = new Set(['StaleBaseHeads', 'ReadConflict']);

/** The parts of a receipt (SPEC §2) the hammer uses. */
export interface Receipt {
  ok: true;
  epoch: number;
  txHash: string;
  results: { docId: string; newHeads: string[]; applied: number; duplicates: number }[];
}

/** A receipted change: where and by which commit it was stored. */
export interface CommittedChange {
  docId: string;
  bytes: Uint8Array;
  epoch: number;
}

/** One transaction's classified answer. */
export type Outcome =
  | { kind: 'committed'; receipt: Receipt }
  | { kind: 'conflict'; code: string; currentHeads: string[] }
  | { kind: 'failed' };

/** The ledger of one space. */
export class DocLedger {
  readonly committed = new Map<string, CommittedChange>();
  readonly refused = new Set<string>();
  readonly receipts: Receipt[] = [];
  readonly unexpected: string[] = [];

  /** Classifies the answer to a one-write transaction of `changes` to `docId`, and records it. */
  record(what: string, docId: string, changes: Uint8Array[], answer: Answer): Outcome {
    const code = codeOf(answer);
    if (answer.status === 200 && (answer.body as { ok?: unknown }).ok === true) {
      const receipt = answer.body as unknown as Receipt;
      const result = receipt.results.find((r) => r.docId === docId);
      // A new change is applied, never skipped as a duplicate.
      if (result?.applied !== changes.length || result.duplicates !== 0) {
        this.unexpected.push(`${what}: receipt does not apply its changes: ${answer.text}`);
      }
      this.receipts.push(receipt);
      for (const bytes of changes) {
        const hash = hashOf(bytes);
        if (this.committed.has(hash)) this.unexpected.push(`${what}: ${hash} receipted twice`);
        this.committed.set(hash, { docId, bytes, epoch: receipt.epoch });
      }
      return { kind: 'committed', receipt };
    }
    if (answer.status === 409 && code !== undefined && CONFLICT_CODES.has(code)) {
      for (const bytes of changes) this.refused.add(hashOf(bytes));
      const currentHeads = (answer.body as unknown as ErrorBody).error.currentHeads ?? [];
      return { kind: 'conflict', code, currentHeads };
    }
    this.unexpected.push(`${what}: ${answer.status} ${answer.text.slice(0, 500)}`);
    return { kind: 'failed' };
  }

  /** The receipted changes of one doc, in epoch order (the order they were committed). */
  changesOf(docId: string): CommittedChange[] {
    return [...this.committed.values()]
      .filter((c) => c.docId === docId)
      .sort((a, b) => a.epoch - b.epoch);
  }
}

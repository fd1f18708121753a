import { hexToBytes, packHashes } from '../hash-codec.js';
import type { ChangeRecord, CommitRecord, TxRecordRow } from '../types.js';
import type { ActorRow } from '../writer-cache.js';

/** The statements a flush runs (texts in pg-statements.ts). */
export type FlushStatement = 'appendLog' | 'appendLogAndTxs' | 'insertTxs';
export type RunStatement = (name: FlushStatement, values: unknown[][]) => Promise<unknown>;

/** A log row queued by `queueCommit`. */
interface PendingLogRow {
  branchId: number;
  seq: number;
  hash: string;
  actorId: number;
  actorSeq: number;
  deps: Buffer;
  epoch: number;
  commitTo: number;
  commitFrom: number | null;
  committedAt: number | null;
  commitHeads: Buffer | null;
  bytes: Buffer;
  maybeStored: boolean;
}

/**
 * The log rows and tx records a PostgreSQL write batch has appended but not
 * yet sent. Consecutive commits of a batch then cost one round trip together
 * (one statement per flush, the tx records riding with the last log rows)
 * instead of one or two each. The ops flush it before any other statement,
 * so every read still sees what the batch wrote, and the store flushes it
 * before COMMIT.
 */
export class PgWriteQueue {
  private readonly rows: PendingLogRow[] = [];
  private readonly records: TxRecordRow[] = [];

  get isEmpty(): boolean {
    return this.rows.length === 0 && this.records.length === 0;
  }

  /** `actors` are the interned rows of the changes' actors, before this commit. */
  queueCommit(
    commit: CommitRecord,
    changes: readonly ChangeRecord[],
    actors: ReadonlyMap<string, ActorRow>,
  ): void {
    changes.forEach((c, i) => {
      const actor = actors.get(c.actor) as ActorRow;
      const seq = commit.seqFrom + i;
      const end = seq === commit.seqTo;
      this.rows.push({
        branchId: commit.branchId,
        seq,
        hash: c.hash,
        actorId: actor.id,
        actorSeq: c.seq,
        deps: packHashes(c.deps),
        epoch: commit.epoch,
        commitTo: commit.seqTo,
        commitFrom: end ? commit.seqFrom : null,
        committedAt: end ? commit.committedAt : null,
        commitHeads: end ? packHashes(commit.heads) : null,
        bytes: Buffer.from(c.bytes),
        // Above every stored seq of its actor, a change is new to the whole space.
        maybeStored: c.seq <= actor.maxSeq,
      });
    });
  }

  queueTxRecords(records: readonly TxRecordRow[]): void {
    this.records.push(...records);
  }

  /** Sends everything queued, in as few statements as it can. */
  async flush(run: RunStatement): Promise<void> {
    while (this.rows.length > 0) {
      const rows = this.rows.splice(0, this.statementSize());
      const logValues = logColumns(rows);
      // The last log statement takes the queued tx records along.
      if (this.rows.length === 0 && this.records.length > 0) {
        await run('appendLogAndTxs', [...logValues, ...txColumns(this.records.splice(0))]);
      } else {
        await run('appendLog', logValues);
      }
    }
    if (this.records.length > 0) await run('insertTxs', txColumns(this.records.splice(0)));
  }

  /**
   * How many rows the next statement takes: up to the second occurrence of a
   * change queued twice (two docs of one batch). A statement's probe for a
   * stored copy does not see the rows the statement itself inserts, so that
   * occurrence goes in the next statement and points at the first.
   */
  private statementSize(): number {
    const seen = new Set<string>();
    let n = 0;
    while (n < this.rows.length && !seen.has((this.rows[n] as PendingLogRow).hash)) {
      seen.add((this.rows[n] as PendingLogRow).hash);
      n++;
    }
    return n;
  }
}

/** The `$2…$14` arrays of the log statements. */
function logColumns(rows: readonly PendingLogRow[]): unknown[][] {
  return [
    rows.map((r) => r.branchId),
    rows.map((r) => r.seq),
    rows.map((r) => hexToBytes(r.hash)),
    rows.map((r) => r.actorId),
    rows.map((r) => r.actorSeq),
    rows.map((r) => r.deps),
    rows.map((r) => r.epoch),
    rows.map((r) => r.commitTo),
    rows.map((r) => r.commitFrom),
    rows.map((r) => r.committedAt),
    rows.map((r) => r.commitHeads),
    rows.map((r) => r.bytes),
    rows.map((r) => r.maybeStored),
  ];
}

/** The tx record arrays (`insertTxs` $2…$9, `appendLogAndTxs` $15…$22). */
function txColumns(rows: readonly TxRecordRow[]): unknown[][] {
  return [
    rows.map((t) => t.epoch),
    rows.map((t) => t.committedAt),
    rows.map((t) => Buffer.from(t.txHash)),
    rows.map((t) => Buffer.from(t.prevTxHash)),
    rows.map((t) => Buffer.from(t.bodyHash)),
    rows.map((t) => Buffer.from(t.serverSig)),
    rows.map((t) => t.serverDid),
    rows.map((t) => Buffer.from(t.body)),
  ];
}

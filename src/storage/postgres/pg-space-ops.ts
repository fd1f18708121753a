import type pg from 'pg';
import { bytesToHex, hexToBytes, packHashes } from '../hash-codec.js';
import {
  toBranch,
  toChainTip,
  toCommit,
  toLogEntry,
  toReceipt,
  toSnapshot,
  toTxRecord,
  type Row,
} from '../row-mappers.js';
import {
  readActorSeqs,
  readBranch,
  readChainTip,
  type ActorRow,
  type WriterCache,
} from '../writer-cache.js';
import { mapPgError } from './pg-errors.js';
import { PgKvOps } from './pg-kv-ops.js';
import { PgWriteQueue } from './pg-write-queue.js';
import { PgYjsOps } from './pg-yjs-ops.js';
import { SQL } from './pg-statements.js';
import type { DocKindName } from '../../core/ids.js';
import {
  type BranchRecord,
  type ChainTip,
  type ChangeRecord,
  type CommitRecord,
  type LogEntry,
  type NewBranch,
  type NewSnapshot,
  type SnapshotMeta,
  type SpaceWriteOps,
  type ClientAck,
  type StoredReceipt,
  type TxRecordRow,
} from '../types.js';

/** A pool (reads, autocommit) or the client holding a batch's transaction. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

/** Statements that touch only receipts or client acks, which nothing queued affects. */
const RECEIPT_STATEMENTS: ReadonlySet<keyof typeof SQL> = new Set([
  'receipt',
  'upsertReceipt',
  'pruneReceipts',
  'clientAck',
  'upsertClientAcks',
  'pruneClientAcks',
]);

/** All SQL of one space on PostgreSQL. */
export class PgSpaceOps implements SpaceWriteOps {
  /** The newest epoch this batch appended a tx record for (announced at COMMIT). */
  lastAppendedEpoch: number | undefined;
  /** The space's Yjs docs, on the same pool or batch client (see PgYjsOps on the queue). */
  readonly yjs: PgYjsOps;
  /** The space's extension KV records, on the same pool or batch client (see PgKvOps on locks). */
  readonly kv: PgKvOps;
  private readonly queue = new PgWriteQueue();

  /**
   * @param cache only inside a write batch whose store vouches that nobody
   * else wrote the space since the cache was filled (see PgSpaceStore).
   */
  constructor(
    private readonly db: Queryable,
    private readonly spaceId: string,
    private readonly cache?: WriterCache,
  ) {
    this.yjs = new PgYjsOps(db, spaceId);
    this.kv = new PgKvOps(db, spaceId);
  }

  /**
   * Runs a statement after writing the queued log rows and tx records, so that it sees them
   * (and writes stay in order); statements on receipts alone need not wait.
   */
  private async q(name: keyof typeof SQL, values: unknown[]): Promise<Row[]> {
    if (!this.queue.isEmpty && !RECEIPT_STATEMENTS.has(name)) await this.flush();
    return this.run(name, values);
  }

  private async run(name: keyof typeof SQL, values: unknown[]): Promise<Row[]> {
    try {
      const res = await this.db.query({
        name: `cairn_${name}`,
        text: SQL[name],
        values: [this.spaceId, ...values],
      });
      return res.rows as Row[];
    } catch (err) {
      throw mapPgError(err);
    }
  }

  async chainTip(): Promise<ChainTip> {
    return readChainTip(this.cache, async () => toChainTip((await this.q('chainTip', []))[0]));
  }

  async getBranch(docId: string, name: string): Promise<BranchRecord | undefined> {
    return readBranch(this.cache, docId, name, async () =>
      toBranch((await this.q('branchByName', [docId, name]))[0]),
    );
  }

  async getBranchById(id: number): Promise<BranchRecord | undefined> {
    return toBranch((await this.q('branchById', [id]))[0]);
  }

  async listBranches(docId: string): Promise<BranchRecord[]> {
    return (await this.q('branchesOfDoc', [docId])).map((r) => toBranch(r) as BranchRecord);
  }

  async docKind(docId: string): Promise<DocKindName | undefined> {
    return (await this.q('docKind', [docId]))[0]?.kind as DocKindName | undefined;
  }

  async listDocIds(prefix: string, afterDocId: string | null, limit: number): Promise<string[]> {
    // '' sorts before every doc id, so "after ''" starts at the beginning.
    const rows = await this.q('docIds', [afterDocId ?? '', prefix, limit]);
    return rows.map((r) => r.doc_id as string);
  }

  async findInBranch(
    branchId: number,
    hashes: readonly string[],
    maxSeq: number,
  ): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (hashes.length === 0) return found;
    for (const r of await this.q('findInBranch', [hashes.map(hexToBytes), branchId, maxSeq])) {
      found.set(bytesToHex(r.hash as Buffer), r.seq as number);
    }
    return found;
  }

  async readBranchLog(
    branchId: number,
    fromSeq: number,
    toSeq: number,
    limit: number,
    withBytes: boolean,
  ): Promise<LogEntry[]> {
    const rows = await this.q(withBytes ? 'readLogBytes' : 'readLog', [
      branchId,
      fromSeq,
      toSeq,
      limit,
    ]);
    return rows.map((r) => toLogEntry(r, withBytes));
  }

  async readBranchBytes(branchId: number, fromSeq: number, toSeq: number): Promise<Uint8Array[]> {
    return (await this.q('readBytes', [branchId, fromSeq, toSeq])).map((r) => r.bytes as Buffer);
  }

  async actorSeqs(branchId: number, actors: readonly string[]): Promise<Map<string, number>> {
    return readActorSeqs(this.cache, branchId, actors, async (missing) => {
      const found = new Map<string, number>();
      for (const r of await this.q('actorSeqs', [branchId, missing.map(hexToBytes)])) {
        found.set(bytesToHex(r.actor as Buffer), r.seq as number);
      }
      return found;
    });
  }

  async actorMaxima(
    branchId: number,
    fromSeq: number,
    toSeq: number,
  ): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const r of await this.q('actorMaxima', [branchId, fromSeq, toSeq])) {
      out.set(bytesToHex(r.actor as Buffer), r.seq as number);
    }
    return out;
  }

  async commitsBefore(branchId: number, beforeSeq: number, limit: number): Promise<CommitRecord[]> {
    return (await this.q('commitsBefore', [branchId, beforeSeq, limit])).map(
      (r) => toCommit(branchId, r) as CommitRecord,
    );
  }

  async logSizeAfter(
    branchId: number,
    afterSeq: number,
  ): Promise<{ changes: number; bytes: number }> {
    const [r] = await this.q('logSizeAfter', [branchId, afterSeq]);
    return { changes: (r?.changes as number) ?? 0, bytes: (r?.bytes as number) ?? 0 };
  }

  async nearestSnapshot(branchId: number, maxSeq: number): Promise<SnapshotMeta | undefined> {
    return toSnapshot((await this.q('nearestSnapshot', [branchId, maxSeq]))[0]);
  }

  async getSnapshot(id: number): Promise<SnapshotMeta | undefined> {
    return toSnapshot((await this.q('snapshotById', [id]))[0]);
  }

  async readSnapshotBytes(id: number): Promise<Uint8Array | undefined> {
    return (await this.q('snapshotBytes', [id]))[0]?.bytes as Buffer | undefined;
  }

  async listSnapshots(branchId: number): Promise<SnapshotMeta[]> {
    return (await this.q('snapshotsOfBranch', [branchId])).map(
      (r) => toSnapshot(r) as SnapshotMeta,
    );
  }

  async commitCovering(branchId: number, seq: number): Promise<CommitRecord | undefined> {
    return toCommit(branchId, (await this.q('commitCovering', [branchId, seq]))[0]);
  }

  async commitsEndingIn(branchId: number, fromSeq: number, toSeq: number): Promise<CommitRecord[]> {
    return (await this.q('commitEnds', [branchId, fromSeq, toSeq])).map(
      (r) => toCommit(branchId, r) as CommitRecord,
    );
  }

  async lastCommitUpTo(branchId: number, epoch: number): Promise<CommitRecord | undefined> {
    const [r] = await this.q('lastSeqUpTo', [branchId, epoch]);
    const seq = r?.seq as number | null;
    return seq === null || seq === undefined ? undefined : this.commitCovering(branchId, seq);
  }

  async epochAtTime(ms: number): Promise<number> {
    const [r] = await this.q('epochAtTime', [ms]);
    return (r?.epoch as number | null) ?? 0;
  }

  async getTxRecord(epoch: number): Promise<TxRecordRow | undefined> {
    return toTxRecord((await this.q('txRecord', [epoch]))[0]);
  }

  async txRecordsAfter(
    afterEpoch: number,
    upToEpoch: number,
    limit: number,
  ): Promise<TxRecordRow[]> {
    return (await this.q('txRecordsAfter', [afterEpoch, upToEpoch, limit])).map(
      (r) => toTxRecord(r) as TxRecordRow,
    );
  }

  async getReceipt(clientTxId: string): Promise<StoredReceipt | undefined> {
    return toReceipt((await this.q('receipt', [clientTxId]))[0]);
  }

  async createBranch(b: NewBranch): Promise<BranchRecord> {
    const [r] = await this.q('insertBranch', [
      b.docId,
      b.name,
      b.kind,
      b.parentId,
      b.forkSeq,
      packHashes(b.forkHeads),
      b.createdAt,
    ]);
    const branch = (await this.getBranchById(r?.id as number)) as BranchRecord;
    this.cache?.putBranch(branch);
    return branch;
  }

  /** Queues the commit's log rows (see PgWriteQueue). */
  async appendCommit(commit: CommitRecord, changes: readonly ChangeRecord[]): Promise<void> {
    const actors = await this.internActors([...new Set(changes.map((c) => c.actor))]);
    this.queue.queueCommit(commit, changes, actors);
    this.cache?.recordCommit(commit, changes, actors);
  }

  /** Sends the queued log rows and tx records; the store calls it before COMMIT. */
  async flush(): Promise<void> {
    await this.queue.flush((name, values) => this.run(name, values));
  }

  private async internActors(actors: string[]): Promise<Map<string, ActorRow>> {
    const ids = new Map<string, ActorRow>();
    const missing: string[] = [];
    for (const actor of actors) {
      const cached = this.cache?.getActor(actor);
      if (cached) ids.set(actor, cached);
      else missing.push(actor);
    }
    if (missing.length === 0) return ids;
    for (const r of await this.q('internActors', [missing.map(hexToBytes)])) {
      const actor = bytesToHex(r.actor as Buffer);
      const row = { id: r.id as number, maxSeq: r.max_seq as number };
      ids.set(actor, row);
      this.cache?.putActor(actor, row);
    }
    return ids;
  }

  async closeBranch(branchId: number, mergedInto: string | null): Promise<void> {
    await this.q('closeBranch', [branchId, mergedInto]);
    this.cache?.dropBranch(branchId);
  }

  async dropEmptyBranch(branchId: number): Promise<boolean> {
    const [r] = await this.q('dropEmptyBranch', [branchId]);
    this.cache?.dropBranch(branchId);
    return (r?.dropped as number) === 1;
  }

  async setActorSeqs(branchId: number, seqs: ReadonlyMap<string, number>): Promise<void> {
    if (seqs.size === 0) return;
    const ids = await this.internActors([...seqs.keys()]);
    const actors = [...seqs.keys()];
    await this.q('setActorSeqs', [
      branchId,
      actors.map((a) => (ids.get(a) as { id: number }).id),
      actors.map((a) => seqs.get(a) as number),
    ]);
    for (const [actor, seq] of seqs) this.cache?.raiseActorSeq(branchId, actor, seq);
  }

  async putSnapshot(n: NewSnapshot): Promise<number> {
    const [r] = await this.q('insertSnapshot', [
      n.branchId,
      n.seq,
      packHashes(n.heads),
      n.rootRef,
      n.pinned,
      n.createdAt,
      n.bytes.byteLength,
      Buffer.from(n.bytes),
    ]);
    return r?.id as number;
  }

  async deleteSnapshots(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.q('deleteSnapshots', [ids]);
  }

  /** Queues the records; they go with the batch's last log rows (see PgWriteQueue). */
  async appendTxRecords(rows: readonly TxRecordRow[]): Promise<void> {
    if (rows.length === 0) return;
    this.lastAppendedEpoch = (rows[rows.length - 1] as TxRecordRow).epoch;
    this.queue.queueTxRecords(rows);
    this.cache?.recordTx(rows[rows.length - 1] as TxRecordRow);
  }

  async quarantined(): Promise<Map<string, string>> {
    const rows = await this.q('quarantined', []);
    return new Map(rows.map((r) => [bytesToHex(r.hash as Uint8Array), r.reason as string]));
  }

  async quarantine(entries: readonly { hash: string; reason: string; foundAt: number }[]) {
    if (entries.length === 0) return;
    const hashes = entries.map((e) => hexToBytes(e.hash));
    const reasons = entries.map((e) => e.reason);
    await this.q('insertQuarantine', [hashes, reasons, entries[0]?.foundAt ?? Date.now()]);
  }

  async putReceipt(clientTxId: string, r: StoredReceipt): Promise<void> {
    await this.q('upsertReceipt', [clientTxId, r.epoch, r.receiptJson, r.createdAt]);
  }

  async pruneReceipts(beforeMs: number): Promise<number> {
    const pruned = await this.q('pruneReceipts', [beforeMs]);
    return pruned.length;
  }

  async clientAck(clientId: string, docId: string, branch: string): Promise<number | undefined> {
    const row = (await this.q('clientAck', [clientId, docId, branch]))[0];
    return row ? Number(row.epoch) : undefined;
  }

  async putClientAcks(acks: readonly ClientAck[], atMs: number): Promise<void> {
    if (acks.length === 0) return;
    await this.q('upsertClientAcks', [
      acks.map((a) => a.clientId),
      acks.map((a) => a.docId),
      acks.map((a) => a.branch),
      acks.map((a) => a.epoch),
      acks.map(() => atMs),
    ]);
  }

  async pruneClientAcks(beforeMs: number): Promise<number> {
    return (await this.q('pruneClientAcks', [beforeMs])).length;
  }
}

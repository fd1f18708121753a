import type Database from 'better-sqlite3';
import { prepareSpaceStatements, type SpaceStatements } from './sqlite-statements.js';
import { SqliteKvOps } from './sqlite-kv-ops.js';
import { SqliteYjsOps } from './sqlite-yjs-ops.js';
import {
  readActorSeqs,
  readBranch,
  readChainTip,
  type ActorRow,
  type WriterCache,
} from '../writer-cache.js';
import { bytesToHex, hashKey, hexToBytes, packHashes } from '../hash-codec.js';
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

/**
 * All SQL of one space file (schema in space-migrations.ts). One instance per
 * connection: the writer's sees its own open transaction, the reader's sees
 * committed data only. Only the writer's has a `WriterCache` (the commit
 * path's hot rows); every write below keeps it true.
 */
export class SqliteSpaceOps implements SpaceWriteOps {
  /** The space's Yjs docs, on the same connection (so in the same transaction). */
  readonly yjs: SqliteYjsOps;
  /** The space's extension KV records, on the same connection (so in the same transaction). */
  readonly kv: SqliteKvOps;
  private readonly s: SpaceStatements;

  constructor(
    db: Database.Database,
    private readonly cache?: WriterCache,
  ) {
    this.s = prepareSpaceStatements(db);
    this.yjs = new SqliteYjsOps(db);
    this.kv = new SqliteKvOps(db);
  }

  async chainTip(): Promise<ChainTip> {
    return readChainTip(this.cache, async () =>
      toChainTip(this.s.chainTip.get() as Row | undefined),
    );
  }

  async getBranch(docId: string, name: string): Promise<BranchRecord | undefined> {
    return readBranch(this.cache, docId, name, async () =>
      toBranch(this.s.branchByName.get(docId, name) as Row | undefined),
    );
  }

  async getBranchById(id: number): Promise<BranchRecord | undefined> {
    return toBranch(this.s.branchById.get(id) as Row | undefined);
  }

  async listBranches(docId: string): Promise<BranchRecord[]> {
    return (this.s.branchesOfDoc.all(docId) as Row[]).map((r) => toBranch(r) as BranchRecord);
  }

  async docKind(docId: string): Promise<DocKindName | undefined> {
    return this.s.docKind.get(docId) as DocKindName | undefined;
  }

  async listDocIds(prefix: string, afterDocId: string | null, limit: number): Promise<string[]> {
    const out: string[] = [];
    let from = afterDocId !== null && afterDocId >= prefix ? afterDocId : null;
    // Rows come in byte order, so the docs with a prefix are one run.
    for (;;) {
      const page = (
        from === null ? this.s.docIdsFrom.all(prefix, limit) : this.s.docIdsAfter.all(from, limit)
      ) as { doc_id: string }[];
      for (const { doc_id } of page) {
        if (!doc_id.startsWith(prefix)) return out;
        out.push(doc_id);
        if (out.length >= limit) return out;
      }
      if (page.length < limit) return out;
      from = (page[page.length - 1] as { doc_id: string }).doc_id;
    }
  }

  async findInBranch(
    branchId: number,
    hashes: readonly string[],
    maxSeq: number,
  ): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (hashes.length === 0) return found;
    for (const r of this.s.findInBranch.all(keyedHashes(hashes), branchId, maxSeq) as Row[]) {
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
    const stmt = withBytes ? this.s.readLogBytes : this.s.readLog;
    return (stmt.all(branchId, fromSeq, toSeq, limit) as Row[]).map((r) =>
      toLogEntry(r, withBytes),
    );
  }

  async readBranchBytes(branchId: number, fromSeq: number, toSeq: number): Promise<Uint8Array[]> {
    return this.s.readBytes.all(branchId, fromSeq, toSeq) as Buffer[];
  }

  async actorSeqs(branchId: number, actors: readonly string[]): Promise<Map<string, number>> {
    return readActorSeqs(this.cache, branchId, actors, async (missing) => {
      const found = new Map<string, number>();
      for (const r of this.s.actorSeqs.all(JSON.stringify(missing), branchId) as Row[]) {
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
    for (const r of this.s.actorMaxima.all(branchId, fromSeq, toSeq) as Row[]) {
      out.set(bytesToHex(r.actor as Buffer), r.seq as number);
    }
    return out;
  }

  async commitsBefore(branchId: number, beforeSeq: number, limit: number): Promise<CommitRecord[]> {
    return (this.s.commitsBefore.all(branchId, beforeSeq, limit) as Row[]).map(
      (r) => toCommit(branchId, r) as CommitRecord,
    );
  }

  async logSizeAfter(
    branchId: number,
    afterSeq: number,
  ): Promise<{ changes: number; bytes: number }> {
    const r = this.s.logSizeAfter.get(branchId, afterSeq) as { changes: number; bytes: number };
    return { changes: r.changes, bytes: r.bytes };
  }

  async nearestSnapshot(branchId: number, maxSeq: number): Promise<SnapshotMeta | undefined> {
    return toSnapshot(this.s.nearestSnapshot.get(branchId, maxSeq) as Row | undefined);
  }

  async getSnapshot(id: number): Promise<SnapshotMeta | undefined> {
    return toSnapshot(this.s.snapshotById.get(id) as Row | undefined);
  }

  async readSnapshotBytes(id: number): Promise<Uint8Array | undefined> {
    return this.s.snapshotBytes.get(id) as Buffer | undefined;
  }

  async listSnapshots(branchId: number): Promise<SnapshotMeta[]> {
    return (this.s.snapshotsOfBranch.all(branchId) as Row[]).map(
      (r) => toSnapshot(r) as SnapshotMeta,
    );
  }

  async commitCovering(branchId: number, seq: number): Promise<CommitRecord | undefined> {
    return toCommit(branchId, this.s.commitCovering.get(branchId, seq) as Row | undefined);
  }

  async commitsEndingIn(branchId: number, fromSeq: number, toSeq: number): Promise<CommitRecord[]> {
    return (this.s.commitEnds.all(branchId, fromSeq, toSeq) as Row[]).map(
      (r) => toCommit(branchId, r) as CommitRecord,
    );
  }

  /** Epochs grow with seq within a branch: a binary search on the primary key, no epoch index. */
  async lastCommitUpTo(branchId: number, epoch: number): Promise<CommitRecord | undefined> {
    const range = this.s.ownRange.get(branchId) as { lo: number | null; hi: number | null };
    if (range.lo === null || range.hi === null) return undefined;
    let lo = range.lo;
    let hi = range.hi;
    let best = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.s.epochAt.get(branchId, mid) as number) <= epoch) {
        best = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return best === 0 ? undefined : this.commitCovering(branchId, best);
  }

  /** committedAt never decreases with epoch: binary search on the primary key, no time index. */
  async epochAtTime(ms: number): Promise<number> {
    let lo = 1;
    let hi = (await this.chainTip()).epoch;
    let best = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.s.txTime.get(mid) as number) <= ms) {
        best = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return best;
  }

  async getTxRecord(epoch: number): Promise<TxRecordRow | undefined> {
    return toTxRecord(this.s.txRecord.get(epoch) as Row | undefined);
  }

  async txRecordsAfter(
    afterEpoch: number,
    upToEpoch: number,
    limit: number,
  ): Promise<TxRecordRow[]> {
    return (this.s.txRecordsAfter.all(afterEpoch, upToEpoch, limit) as Row[]).map(
      (r) => toTxRecord(r) as TxRecordRow,
    );
  }

  async getReceipt(clientTxId: string): Promise<StoredReceipt | undefined> {
    return toReceipt(this.s.receipt.get(clientTxId) as Row | undefined);
  }

  async createBranch(b: NewBranch): Promise<BranchRecord> {
    const info = this.s.insertBranch.run(
      b.docId,
      b.name,
      b.kind,
      b.parentId,
      b.forkSeq,
      packHashes(b.forkHeads),
      b.createdAt,
    );
    const branch = (await this.getBranchById(Number(info.lastInsertRowid))) as BranchRecord;
    this.cache?.putBranch(branch);
    return branch;
  }

  async appendCommit(commit: CommitRecord, changes: readonly ChangeRecord[]): Promise<void> {
    const { branchId, seqFrom, seqTo, epoch } = commit;
    const actors = new Map<string, ActorRow>();
    for (const c of changes)
      if (!actors.has(c.actor)) actors.set(c.actor, this.internActor(c.actor));
    // A change whose actor seq is above every stored one of that actor is new to
    // the whole space: only the others need a (random) probe for a stored copy.
    const origins = this.storedOrigins(
      changes.filter((c) => c.seq <= (actors.get(c.actor)?.maxSeq ?? 0)),
    );
    const maxSeq = new Map<number, number>();
    changes.forEach((c, i) => {
      const seq = seqFrom + i;
      const actorId = (actors.get(c.actor) as { id: number }).id;
      const origin = origins.get(c.hash);
      const isEnd = seq === seqTo;
      this.s.insertLog.run(
        branchId,
        seq,
        hexToBytes(c.hash),
        hashKey(c.hash),
        actorId,
        c.seq,
        packHashes(c.deps),
        epoch,
        seqTo,
        origin?.branchId ?? null,
        origin?.seq ?? null,
        isEnd ? seqFrom : null,
        isEnd ? commit.committedAt : null,
        isEnd ? packHashes(commit.heads) : null,
        origin ? null : c.bytes,
      );
      if (!origin) origins.set(c.hash, { branchId, seq });
      maxSeq.set(actorId, Math.max(maxSeq.get(actorId) ?? 0, c.seq));
    });
    for (const [actorId, seq] of maxSeq) {
      this.s.upsertActorSeq.run(branchId, actorId, seq);
      this.s.raiseActorSeq.run(seq, actorId, seq);
    }
    this.cache?.recordCommit(commit, changes, actors);
  }

  /** Where the space already stores the bytes of these changes (they are stored once). */
  private storedOrigins(
    changes: readonly ChangeRecord[],
  ): Map<string, { branchId: number; seq: number }> {
    const out = new Map<string, { branchId: number; seq: number }>();
    if (changes.length === 0) return out;
    const rows = this.s.storedCopies.all(keyedHashes(changes.map((c) => c.hash))) as Row[];
    for (const r of rows) {
      const branchId = (r.origin_branch as number | null) ?? (r.branch_id as number);
      const seq = (r.origin_seq as number | null) ?? (r.seq as number);
      out.set(bytesToHex(r.hash as Buffer), { branchId, seq });
    }
    return out;
  }

  private internActor(actor: string): ActorRow {
    const cached = this.cache?.getActor(actor);
    if (cached) return cached;
    const bytes = hexToBytes(actor);
    const r = this.s.actorRow.get(bytes) as { id: number; max_seq: number } | undefined;
    const row = r
      ? { id: r.id, maxSeq: r.max_seq }
      : { id: Number(this.s.insertActor.run(bytes).lastInsertRowid), maxSeq: 0 };
    this.cache?.putActor(actor, row);
    return row;
  }

  async closeBranch(branchId: number, mergedInto: string | null): Promise<void> {
    this.s.closeBranch.run(mergedInto, branchId);
    this.cache?.dropBranch(branchId);
  }

  async dropEmptyBranch(branchId: number): Promise<boolean> {
    if (this.s.ownLogRow.get(branchId) !== undefined) return false;
    this.s.deleteBranchActors.run(branchId);
    this.s.deleteBranch.run(branchId);
    this.cache?.dropBranch(branchId);
    return true;
  }

  async setActorSeqs(branchId: number, seqs: ReadonlyMap<string, number>): Promise<void> {
    for (const [actor, seq] of seqs) {
      this.s.upsertActorSeq.run(branchId, this.internActor(actor).id, seq);
      this.cache?.raiseActorSeq(branchId, actor, seq);
    }
  }

  /** Called by the store when its batch rolled back: the cache may hold what was undone. */
  forgetUncommitted(): void {
    this.cache?.clear();
  }

  private async appendTxRecord(t: TxRecordRow): Promise<void> {
    this.s.insertTx.run(
      t.epoch,
      t.committedAt,
      t.txHash,
      t.prevTxHash,
      t.bodyHash,
      t.serverSig,
      t.serverDid,
      t.body,
    );
    this.cache?.recordTx(t);
  }

  async putSnapshot(n: NewSnapshot): Promise<number> {
    const info = this.s.insertSnapshot.run(
      n.branchId,
      n.seq,
      packHashes(n.heads),
      n.rootRef,
      n.pinned ? 1 : 0,
      n.createdAt,
      n.bytes.byteLength,
      n.bytes,
    );
    return Number(info.lastInsertRowid);
  }

  async deleteSnapshots(ids: readonly number[]): Promise<void> {
    for (const id of ids) this.s.deleteSnapshot.run(id);
  }

  async appendTxRecords(rows: readonly TxRecordRow[]): Promise<void> {
    // In-process statements: one per record costs nothing a multi-row insert would save.
    for (const row of rows) await this.appendTxRecord(row);
  }

  async quarantined(): Promise<Map<string, string>> {
    const rows = this.s.quarantined.all() as { hash: Buffer; reason: string }[];
    return new Map(rows.map((r) => [bytesToHex(r.hash), r.reason]));
  }

  async quarantine(entries: readonly { hash: string; reason: string; foundAt: number }[]) {
    for (const e of entries) this.s.insertQuarantine.run(hexToBytes(e.hash), e.reason, e.foundAt);
  }

  async putReceipt(clientTxId: string, r: StoredReceipt): Promise<void> {
    this.s.insertReceipt.run(clientTxId, r.epoch, r.receiptJson, r.createdAt);
  }

  async pruneReceipts(beforeMs: number): Promise<number> {
    return this.s.pruneReceipts.run(beforeMs).changes;
  }

  async clientAck(clientId: string, docId: string, branch: string): Promise<number | undefined> {
    const row = this.s.clientAck.get(clientId, docId, branch) as Row | undefined;
    return row ? Number(row.epoch) : undefined;
  }

  async putClientAcks(acks: readonly ClientAck[], atMs: number): Promise<void> {
    for (const a of acks) this.s.upsertClientAck.run(a.clientId, a.docId, a.branch, a.epoch, atMs);
  }

  async pruneClientAcks(beforeMs: number): Promise<number> {
    return this.s.pruneClientAcks.run(beforeMs).changes;
  }
}

/** `[[hashKey, hash], …]` as one JSON parameter, for lookups through log_by_hash. */
function keyedHashes(hashes: readonly string[]): string {
  return JSON.stringify(hashes.map((h) => [hashKey(h), h]));
}

import type Database from 'better-sqlite3';
import type { DecodedChange } from '../../crdt/decoded-change.js';
import { bytesToHex, hexToBytes, packHashes, unpackHashes } from '../hash-codec.js';
import type {
  BranchRecord,
  ChainTip,
  CommitRecord,
  LogEntry,
  NewBranch,
  SpaceWriteOps,
  StoredReceipt,
  TxRecordRow,
} from '../types.js';

type Row = Record<string, unknown>;

const BRANCH_SELECT = `
  SELECT b.id, b.doc_id, b.name, b.parent_id, b.fork_seq, b.fork_heads, b.closed, b.merged_into,
         b.created_at, c.seq_to, c.heads, c.epoch
  FROM branches b
  LEFT JOIN commits c ON c.branch_id = b.id
    AND c.seq_from = (SELECT max(seq_from) FROM commits WHERE branch_id = b.id)`;

const ZERO_HASH = Buffer.alloc(32);

/**
 * All SQL of one space file. One instance per connection: the writer's sees
 * its own open transaction, the reader's sees committed data only.
 */
export class SqliteSpaceOps implements SpaceWriteOps {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      chainTip: p('SELECT epoch, tx_hash, committed_at FROM tx ORDER BY epoch DESC LIMIT 1'),
      branchByName: p(`${BRANCH_SELECT} WHERE b.doc_id = ? AND b.name = ?`),
      branchById: p(`${BRANCH_SELECT} WHERE b.id = ?`),
      branchesOfDoc: p(`${BRANCH_SELECT} WHERE b.doc_id = ? ORDER BY b.name`),
      docIdsFrom: p(
        'SELECT DISTINCT doc_id FROM branches WHERE doc_id >= ? ORDER BY doc_id LIMIT ?',
      ),
      docIdsAfter: p(
        'SELECT DISTINCT doc_id FROM branches WHERE doc_id > ? ORDER BY doc_id LIMIT ?',
      ),
      // Driven from the hash list (unique index on changes.hash, then the covering
      // log_by_change index): cost independent of the branch's length.
      findInBranch: p(`SELECT c.hash, l.seq FROM json_each(?) j
        CROSS JOIN changes c ON c.hash = unhex(j.value)
        CROSS JOIN log l ON l.change_id = c.id AND l.branch_id = ? AND l.seq <= ?`),
      readLog: p(`SELECT l.seq, c.hash, a.actor, c.actor_seq, c.deps FROM log l
        JOIN changes c ON c.id = l.change_id JOIN actors a ON a.id = c.actor_id
        WHERE l.branch_id = ? AND l.seq BETWEEN ? AND ? ORDER BY l.seq LIMIT ?`),
      readLogBytes: p(`SELECT l.seq, c.hash, a.actor, c.actor_seq, c.deps, c.bytes FROM log l
        JOIN changes c ON c.id = l.change_id JOIN actors a ON a.id = c.actor_id
        WHERE l.branch_id = ? AND l.seq BETWEEN ? AND ? ORDER BY l.seq LIMIT ?`),
      readBytes: p(`SELECT c.bytes FROM log l JOIN changes c ON c.id = l.change_id
        WHERE l.branch_id = ? AND l.seq BETWEEN ? AND ? ORDER BY l.seq`).pluck(),
      actorSeqs: p(`SELECT a.actor, ba.seq FROM json_each(?) j
        CROSS JOIN actors a ON a.actor = unhex(j.value)
        CROSS JOIN branch_actors ba ON ba.branch_id = ? AND ba.actor_id = a.id`),
      commitCovering: p(
        'SELECT * FROM commits WHERE branch_id = ? AND seq_from <= ? ORDER BY seq_from DESC LIMIT 1',
      ),
      commitsFrom: p(
        'SELECT * FROM commits WHERE branch_id = ? AND seq_from BETWEEN ? AND ? ORDER BY seq_from',
      ),
      firstCommit: p('SELECT * FROM commits WHERE branch_id = ? ORDER BY seq_from LIMIT 1'),
      lastCommit: p('SELECT * FROM commits WHERE branch_id = ? ORDER BY seq_from DESC LIMIT 1'),
      txTime: p('SELECT committed_at FROM tx WHERE epoch = ?').pluck(),
      txRecord: p('SELECT * FROM tx WHERE epoch = ?'),
      receipt: p('SELECT epoch, receipt, created_at FROM receipts WHERE client_tx_id = ?'),
      // writes
      insertBranch:
        p(`INSERT INTO branches (doc_id, name, parent_id, fork_seq, fork_heads, created_at)
        VALUES (?, ?, ?, ?, ?, ?)`),
      actorId: p('SELECT id FROM actors WHERE actor = ?').pluck(),
      insertActor: p('INSERT INTO actors (actor) VALUES (?)'),
      insertChange:
        p(`INSERT INTO changes (hash, actor_id, actor_seq, deps, bytes) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (hash) DO NOTHING RETURNING id`).pluck(),
      changeId: p('SELECT id FROM changes WHERE hash = ?').pluck(),
      insertLog: p('INSERT INTO log (branch_id, seq, change_id) VALUES (?, ?, ?)'),
      upsertActorSeq: p(`INSERT INTO branch_actors (branch_id, actor_id, seq) VALUES (?, ?, ?)
        ON CONFLICT (branch_id, actor_id) DO UPDATE SET seq = max(seq, excluded.seq)`),
      insertCommit: p(`INSERT INTO commits (branch_id, seq_from, seq_to, epoch, committed_at, heads)
        VALUES (?, ?, ?, ?, ?, ?)`),
      closeBranch: p('UPDATE branches SET closed = 1, merged_into = ? WHERE id = ?'),
      insertTx:
        p(`INSERT INTO tx (epoch, committed_at, tx_hash, prev_tx_hash, body_hash, server_sig,
        server_did, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      // An expired receipt may still be stored (pruning is periodic): replace it.
      insertReceipt: p(
        'INSERT OR REPLACE INTO receipts (client_tx_id, epoch, receipt, created_at) VALUES (?, ?, ?, ?)',
      ),
      pruneReceipts: p('DELETE FROM receipts WHERE created_at < ?'),
    };
  }

  async chainTip(): Promise<ChainTip> {
    const r = this.s.chainTip.get() as Row | undefined;
    if (!r) return { epoch: 0, txHash: ZERO_HASH, committedAt: 0 };
    return {
      epoch: r.epoch as number,
      txHash: r.tx_hash as Buffer,
      committedAt: r.committed_at as number,
    };
  }

  async getBranch(docId: string, name: string): Promise<BranchRecord | undefined> {
    return toBranch(this.s.branchByName.get(docId, name) as Row | undefined);
  }

  async getBranchById(id: number): Promise<BranchRecord | undefined> {
    return toBranch(this.s.branchById.get(id) as Row | undefined);
  }

  async listBranches(docId: string): Promise<BranchRecord[]> {
    return (this.s.branchesOfDoc.all(docId) as Row[]).map((r) => toBranch(r) as BranchRecord);
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
    const rows = this.s.findInBranch.all(JSON.stringify(hashes), branchId, maxSeq) as Row[];
    for (const r of rows) found.set(bytesToHex(r.hash as Buffer), r.seq as number);
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
    return (stmt.all(branchId, fromSeq, toSeq, limit) as Row[]).map((r) => {
      const e: LogEntry = {
        seq: r.seq as number,
        hash: bytesToHex(r.hash as Buffer),
        actor: bytesToHex(r.actor as Buffer),
        actorSeq: r.actor_seq as number,
        deps: unpackHashes(r.deps as Buffer),
      };
      if (withBytes) e.bytes = r.bytes as Buffer;
      return e;
    });
  }

  async readBranchBytes(branchId: number, fromSeq: number, toSeq: number): Promise<Uint8Array[]> {
    return this.s.readBytes.all(branchId, fromSeq, toSeq) as Buffer[];
  }

  async actorSeqs(branchId: number, actors: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (actors.length === 0) return out;
    for (const r of this.s.actorSeqs.all(JSON.stringify(actors), branchId) as Row[]) {
      out.set(bytesToHex(r.actor as Buffer), r.seq as number);
    }
    return out;
  }

  async commitCovering(branchId: number, seq: number): Promise<CommitRecord | undefined> {
    const c = toCommit(this.s.commitCovering.get(branchId, seq) as Row | undefined);
    return c && c.seqTo >= seq ? c : undefined;
  }

  async readBranchCommits(
    branchId: number,
    fromSeq: number,
    toSeq: number,
  ): Promise<CommitRecord[]> {
    return (this.s.commitsFrom.all(branchId, fromSeq, toSeq) as Row[]).map(
      (r) => toCommit(r) as CommitRecord,
    );
  }

  /**
   * Epochs grow with seq within a branch, so a binary search over seqs (on
   * the primary key) finds it: no index on epoch to maintain on every commit.
   */
  async lastCommitUpTo(branchId: number, epoch: number): Promise<CommitRecord | undefined> {
    const first = toCommit(this.s.firstCommit.get(branchId) as Row | undefined);
    const last = toCommit(this.s.lastCommit.get(branchId) as Row | undefined);
    if (!first || !last || first.epoch > epoch) return undefined;
    if (last.epoch <= epoch) return last;
    let best = first;
    let lo = first.seqTo + 1;
    let hi = last.seqFrom - 1;
    while (lo <= hi) {
      const c = toCommit(this.s.commitCovering.get(branchId, (lo + hi) >>> 1) as Row) as CommitRecord;
      if (c.epoch <= epoch) {
        best = c;
        lo = c.seqTo + 1;
      } else {
        hi = c.seqFrom - 1;
      }
    }
    return best;
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
    const r = this.s.txRecord.get(epoch) as Row | undefined;
    if (!r) return undefined;
    return {
      epoch: r.epoch as number,
      committedAt: r.committed_at as number,
      txHash: r.tx_hash as Buffer,
      prevTxHash: r.prev_tx_hash as Buffer,
      bodyHash: r.body_hash as Buffer,
      serverSig: r.server_sig as Buffer,
      serverDid: r.server_did as string,
      body: r.body as Buffer,
    };
  }

  async getReceipt(clientTxId: string): Promise<StoredReceipt | undefined> {
    const r = this.s.receipt.get(clientTxId) as Row | undefined;
    if (!r) return undefined;
    return {
      epoch: r.epoch as number,
      receiptJson: r.receipt as string,
      createdAt: r.created_at as number,
    };
  }

  async savepoint(): Promise<void> {
    this.db.exec('SAVEPOINT tx');
  }

  async releaseSavepoint(): Promise<void> {
    this.db.exec('RELEASE tx');
  }

  async rollbackToSavepoint(): Promise<void> {
    this.db.exec('ROLLBACK TO tx; RELEASE tx');
  }

  async createBranch(b: NewBranch): Promise<BranchRecord> {
    const info = this.s.insertBranch.run(
      b.docId,
      b.name,
      b.parentId,
      b.forkSeq,
      packHashes(b.forkHeads),
      b.createdAt,
    );
    const created = await this.getBranchById(Number(info.lastInsertRowid));
    return created as BranchRecord;
  }

  async appendChanges(
    branchId: number,
    firstSeq: number,
    changes: readonly DecodedChange[],
  ): Promise<void> {
    const actorIds = new Map<string, number>();
    const maxSeq = new Map<number, number>();
    changes.forEach((c, i) => {
      let actorId = actorIds.get(c.actor);
      if (actorId === undefined) {
        const actorBytes = hexToBytes(c.actor);
        actorId =
          (this.s.actorId.get(actorBytes) as number | undefined) ??
          Number(this.s.insertActor.run(actorBytes).lastInsertRowid);
        actorIds.set(c.actor, actorId);
      }
      const hash = hexToBytes(c.hash);
      const changeId =
        (this.s.insertChange.get(hash, actorId, c.seq, packHashes(c.deps), c.bytes) as
          number | undefined) ?? (this.s.changeId.get(hash) as number);
      this.s.insertLog.run(branchId, firstSeq + i, changeId);
      maxSeq.set(actorId, Math.max(maxSeq.get(actorId) ?? 0, c.seq));
    });
    for (const [actorId, seq] of maxSeq) this.s.upsertActorSeq.run(branchId, actorId, seq);
  }

  async recordCommit(c: CommitRecord): Promise<void> {
    this.s.insertCommit.run(
      c.branchId,
      c.seqFrom,
      c.seqTo,
      c.epoch,
      c.committedAt,
      packHashes(c.heads),
    );
  }

  async closeBranch(branchId: number, mergedInto: string | null): Promise<void> {
    this.s.closeBranch.run(mergedInto, branchId);
  }

  async appendTxRecord(t: TxRecordRow): Promise<void> {
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
  }

  async putReceipt(clientTxId: string, r: StoredReceipt): Promise<void> {
    this.s.insertReceipt.run(clientTxId, r.epoch, r.receiptJson, r.createdAt);
  }

  async pruneReceipts(beforeMs: number): Promise<number> {
    return this.s.pruneReceipts.run(beforeMs).changes;
  }
}

function toBranch(r: Row | undefined): BranchRecord | undefined {
  if (!r) return undefined;
  const forkSeq = r.fork_seq as number;
  const forkHeads = unpackHashes(r.fork_heads as Buffer);
  const hasCommit = r.seq_to !== null;
  return {
    id: r.id as number,
    docId: r.doc_id as string,
    name: r.name as string,
    parentId: (r.parent_id as number | null) ?? null,
    forkSeq,
    forkHeads,
    closed: r.closed === 1,
    mergedInto: (r.merged_into as string | null) ?? null,
    createdAt: r.created_at as number,
    seq: hasCommit ? (r.seq_to as number) : forkSeq,
    heads: hasCommit ? unpackHashes(r.heads as Buffer) : forkHeads,
    lastEpoch: hasCommit ? (r.epoch as number) : 0,
  };
}

function toCommit(r: Row | undefined): CommitRecord | undefined {
  if (!r) return undefined;
  return {
    branchId: r.branch_id as number,
    epoch: r.epoch as number,
    seqFrom: r.seq_from as number,
    seqTo: r.seq_to as number,
    heads: unpackHashes(r.heads as Buffer),
    committedAt: r.committed_at as number,
  };
}

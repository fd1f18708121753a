import type pg from 'pg';
import type { DecodedChange } from '../../crdt/decoded-change.js';
import { bytesToHex, hexToBytes, packHashes, unpackHashes } from '../hash-codec.js';
import { toBranch, toCommit, toSnapshot, type Row } from '../row-mappers.js';
import { mapPgError } from './pg-errors.js';
import {
  EMPTY_CHAIN_TIP,
  type BranchRecord,
  type ChainTip,
  type CommitRecord,
  type LogEntry,
  type NewBranch,
  type NewSnapshot,
  type SnapshotMeta,
  type SpaceWriteOps,
  type StoredReceipt,
  type TxRecordRow,
} from '../types.js';

/** A pool (reads, autocommit) or the client holding a batch's transaction. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

const BRANCH_SELECT = `
  SELECT b.id, b.doc_id, b.name, b.parent_id, b.fork_seq, b.fork_heads, b.closed, b.merged_into,
         b.created_at, t.seq AS tip_seq, t.commit_heads AS tip_heads, t.epoch AS tip_epoch
  FROM branches b
  LEFT JOIN LATERAL (
    SELECT seq, commit_heads, epoch FROM log
    WHERE log.space_id = b.space_id AND log.branch_id = b.id ORDER BY seq DESC LIMIT 1
  ) t ON true`;

const COMMIT_COLUMNS = 'seq, commit_from, epoch, committed_at, commit_heads';
const SNAPSHOT_COLUMNS = 'id, branch_id, seq, heads, root_ref, pinned, created_at, size';

/**
 * Named statements: node-postgres prepares each once per connection. Every
 * statement filters on space_id (the distribution column under Citus).
 */
const SQL = {
  chainTip:
    'SELECT epoch, tx_hash, committed_at FROM tx WHERE space_id = $1 ORDER BY epoch DESC LIMIT 1',
  branchByName: `${BRANCH_SELECT} WHERE b.space_id = $1 AND b.doc_id = $2 AND b.name = $3`,
  branchById: `${BRANCH_SELECT} WHERE b.space_id = $1 AND b.id = $2`,
  branchesOfDoc: `${BRANCH_SELECT} WHERE b.space_id = $1 AND b.doc_id = $2 ORDER BY b.name`,
  docIds: `SELECT DISTINCT doc_id FROM branches
    WHERE space_id = $1 AND doc_id > $2 AND left(doc_id, length($3)) = $3 ORDER BY doc_id LIMIT $4`,
  // One index probe per hash (log_by_hash), whatever the planner's statistics say:
  // a plain "hash = ANY(…)" was planned as a scan of the branch on fresh tables.
  findInBranch: `SELECT h.hash, l.seq FROM unnest($2::bytea[]) AS h(hash)
    CROSS JOIN LATERAL (SELECT seq FROM log
      WHERE space_id = $1 AND hash = h.hash AND branch_id = $3 AND seq <= $4 LIMIT 1) l`,
  readLog: `SELECT l.seq, l.hash, a.actor, l.actor_seq, l.deps FROM log l
    JOIN actors a ON a.space_id = l.space_id AND a.id = l.actor_id
    WHERE l.space_id = $1 AND l.branch_id = $2 AND l.seq BETWEEN $3 AND $4 ORDER BY l.seq LIMIT $5`,
  readLogBytes: `SELECT l.seq, l.hash, a.actor, l.actor_seq, l.deps, coalesce(l.bytes, o.bytes) AS bytes
    FROM log l
    JOIN actors a ON a.space_id = l.space_id AND a.id = l.actor_id
    LEFT JOIN log o ON o.space_id = l.space_id AND o.branch_id = l.origin_branch AND o.seq = l.origin_seq
    WHERE l.space_id = $1 AND l.branch_id = $2 AND l.seq BETWEEN $3 AND $4 ORDER BY l.seq LIMIT $5`,
  readBytes: `SELECT coalesce(l.bytes, o.bytes) AS bytes FROM log l
    LEFT JOIN log o ON o.space_id = l.space_id AND o.branch_id = l.origin_branch AND o.seq = l.origin_seq
    WHERE l.space_id = $1 AND l.branch_id = $2 AND l.seq BETWEEN $3 AND $4 ORDER BY l.seq`,
  actorSeqs: `SELECT a.actor, ba.seq FROM unnest($3::bytea[]) AS w(actor)
    JOIN actors a ON a.space_id = $1 AND a.actor = w.actor
    JOIN branch_actors ba ON ba.space_id = $1 AND ba.branch_id = $2 AND ba.actor_id = a.id`,
  actorMaxima: `SELECT a.actor, max(l.actor_seq) AS seq FROM log l
    JOIN actors a ON a.space_id = l.space_id AND a.id = l.actor_id
    WHERE l.space_id = $1 AND l.branch_id = $2 AND l.seq BETWEEN $3 AND $4 GROUP BY a.actor`,
  commitsBefore: `SELECT ${COMMIT_COLUMNS} FROM log
    WHERE space_id = $1 AND branch_id = $2 AND seq < $3 AND commit_from IS NOT NULL ORDER BY seq DESC LIMIT $4`,
  logSizeAfter: `SELECT count(*) AS changes, coalesce(sum(length(coalesce(l.bytes, o.bytes))), 0) AS bytes
    FROM log l
    LEFT JOIN log o ON o.space_id = l.space_id AND o.branch_id = l.origin_branch AND o.seq = l.origin_seq
    WHERE l.space_id = $1 AND l.branch_id = $2 AND l.seq > $3`,
  nearestSnapshot: `SELECT ${SNAPSHOT_COLUMNS} FROM snapshots
    WHERE space_id = $1 AND branch_id = $2 AND seq <= $3 ORDER BY seq DESC, id DESC LIMIT 1`,
  snapshotById: `SELECT ${SNAPSHOT_COLUMNS} FROM snapshots WHERE space_id = $1 AND id = $2`,
  snapshotBytes: 'SELECT bytes FROM snapshots WHERE space_id = $1 AND id = $2',
  snapshotsOfBranch: `SELECT ${SNAPSHOT_COLUMNS} FROM snapshots
    WHERE space_id = $1 AND branch_id = $2 ORDER BY seq DESC, id DESC`,
  setActorSeqs: `INSERT INTO branch_actors (space_id, branch_id, actor_id, seq)
    SELECT $1, $2, u.actor_id, u.seq FROM unnest($3::bigint[], $4::bigint[]) AS u(actor_id, seq)
    ON CONFLICT (space_id, branch_id, actor_id) DO UPDATE SET seq = GREATEST(branch_actors.seq, EXCLUDED.seq)`,
  // Ids come from a per-space counter, never reused (a client may hold one).
  insertSnapshot: `WITH n AS (
      UPDATE spaces SET snapshot_counter = snapshot_counter + 1 WHERE space_id = $1 RETURNING snapshot_counter)
    INSERT INTO snapshots (space_id, id, branch_id, seq, heads, root_ref, pinned, created_at, size, bytes)
    SELECT $1, n.snapshot_counter, $2, $3, $4, $5, $6, $7, $8, $9 FROM n
    RETURNING id`,
  dropEmptyBranch: `WITH gone AS (
      DELETE FROM branches b WHERE b.space_id = $1 AND b.id = $2
        AND NOT EXISTS (SELECT 1 FROM log WHERE log.space_id = $1 AND log.branch_id = $2)
      RETURNING id),
    actors AS (
      DELETE FROM branch_actors WHERE space_id = $1 AND branch_id IN (SELECT id FROM gone))
    SELECT count(*) AS dropped FROM gone`,
  deleteSnapshots: 'DELETE FROM snapshots WHERE space_id = $1 AND id = ANY($2::bigint[])',
  commitCovering: `SELECT e.seq, e.commit_from, e.epoch, e.committed_at, e.commit_heads
    FROM log r JOIN log e ON e.space_id = r.space_id AND e.branch_id = r.branch_id AND e.seq = r.commit_to
    WHERE r.space_id = $1 AND r.branch_id = $2 AND r.seq = $3`,
  commitEnds: `SELECT ${COMMIT_COLUMNS} FROM log
    WHERE space_id = $1 AND branch_id = $2 AND seq BETWEEN $3 AND $4 AND commit_from IS NOT NULL ORDER BY seq`,
  lastSeqUpTo:
    'SELECT max(seq) AS seq FROM log WHERE space_id = $1 AND branch_id = $2 AND epoch <= $3',
  epochAtTime: 'SELECT max(epoch) AS epoch FROM tx WHERE space_id = $1 AND committed_at <= $2',
  txRecord: 'SELECT * FROM tx WHERE space_id = $1 AND epoch = $2',
  receipt:
    'SELECT epoch, receipt, created_at FROM receipts WHERE space_id = $1 AND client_tx_id = $2',
  insertBranch: `INSERT INTO branches (space_id, id, doc_id, name, parent_id, fork_seq, fork_heads, created_at)
    SELECT $1, coalesce(max(id), 0) + 1, $2, $3, $4, $5, $6, $7 FROM branches WHERE space_id = $1
    RETURNING id`,
  // Ids of the given actors, allocating the missing ones (the batch holds the space's lock).
  internActors: `WITH want AS (
      SELECT w.actor, w.ord FROM unnest($2::bytea[]) WITH ORDINALITY AS w(actor, ord)),
    found AS (
      SELECT a.id, a.actor, a.max_seq FROM want JOIN actors a ON a.space_id = $1 AND a.actor = want.actor),
    base AS (SELECT coalesce(max(id), 0) AS top FROM actors WHERE space_id = $1),
    added AS (
      INSERT INTO actors (space_id, id, actor)
      SELECT $1, base.top + row_number() OVER (ORDER BY want.ord), want.actor
      FROM want CROSS JOIN base WHERE want.actor NOT IN (SELECT actor FROM found)
      RETURNING id, actor, max_seq)
    SELECT id, actor, max_seq FROM found UNION ALL SELECT id, actor, max_seq FROM added`,
  // One statement per commit: the log rows (bytes, or a pointer to where the space
  // already stores them), the branch's actor seqs, the space's highest seq per actor.
  // Only changes flagged as possibly stored ($14) are probed for a stored copy.
  appendCommit: `WITH u AS (
      SELECT * FROM unnest($8::bigint[], $9::bytea[], $10::bigint[], $11::bigint[], $12::bytea[],
        $13::bytea[], $14::boolean[]) AS u(seq, hash, actor_id, actor_seq, deps, bytes, maybe_stored)),
    o AS (
      SELECT u.seq, s.origin_branch, s.origin_seq FROM u
      LEFT JOIN LATERAL (
        SELECT coalesce(origin_branch, branch_id) AS origin_branch, coalesce(origin_seq, seq) AS origin_seq
        FROM log WHERE u.maybe_stored AND space_id = $1 AND hash = u.hash LIMIT 1) s ON true),
    seqs AS (
      UPDATE actors a SET max_seq = m.seq
      FROM (SELECT actor_id, max(actor_seq) AS seq FROM u GROUP BY actor_id) m
      WHERE a.space_id = $1 AND a.id = m.actor_id AND a.max_seq < m.seq
      RETURNING 1),
    ins AS (
      INSERT INTO log (space_id, branch_id, seq, hash, actor_id, actor_seq, deps, epoch, commit_to,
        origin_branch, origin_seq, commit_from, committed_at, commit_heads, bytes)
      SELECT $1, $2, u.seq, u.hash, u.actor_id, u.actor_seq, u.deps, $3, $4, o.origin_branch, o.origin_seq,
        CASE WHEN u.seq = $4 THEN $5::bigint END, CASE WHEN u.seq = $4 THEN $6::bigint END,
        CASE WHEN u.seq = $4 THEN $7::bytea END,
        CASE WHEN o.origin_branch IS NULL THEN u.bytes END
      FROM u JOIN o ON o.seq = u.seq
      RETURNING 1)
    INSERT INTO branch_actors (space_id, branch_id, actor_id, seq)
    SELECT $1, $2, actor_id, max(actor_seq) FROM u GROUP BY actor_id
    ON CONFLICT (space_id, branch_id, actor_id) DO UPDATE SET seq = GREATEST(branch_actors.seq, EXCLUDED.seq)`,
  closeBranch:
    'UPDATE branches SET closed = true, merged_into = $3 WHERE space_id = $1 AND id = $2',
  insertTx: `INSERT INTO tx (space_id, epoch, committed_at, tx_hash, prev_tx_hash, body_hash, server_sig,
    server_did, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
  upsertReceipt: `INSERT INTO receipts (space_id, client_tx_id, epoch, receipt, created_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (space_id, client_tx_id) DO UPDATE
    SET epoch = EXCLUDED.epoch, receipt = EXCLUDED.receipt, created_at = EXCLUDED.created_at`,
  pruneReceipts: 'DELETE FROM receipts WHERE space_id = $1 AND created_at < $2 RETURNING 1',
} as const;

/** All SQL of one space on PostgreSQL. */
export class PgSpaceOps implements SpaceWriteOps {
  /**
   * @param knownTip the chain tip read with the space lock: the batch's first
   * `chainTip()` is answered from it, saving a round trip.
   */
  constructor(
    private readonly db: Queryable,
    private readonly spaceId: string,
    private knownTip?: ChainTip,
  ) {}

  private async q(name: keyof typeof SQL, values: unknown[]): Promise<Row[]> {
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
    if (this.knownTip) {
      const tip = this.knownTip;
      this.knownTip = undefined;
      return tip;
    }
    const [r] = await this.q('chainTip', []);
    if (!r) return EMPTY_CHAIN_TIP;
    return {
      epoch: r.epoch as number,
      txHash: r.tx_hash as Buffer,
      committedAt: r.committed_at as number,
    };
  }

  async getBranch(docId: string, name: string): Promise<BranchRecord | undefined> {
    return toBranch((await this.q('branchByName', [docId, name]))[0]);
  }

  async getBranchById(id: number): Promise<BranchRecord | undefined> {
    return toBranch((await this.q('branchById', [id]))[0]);
  }

  async listBranches(docId: string): Promise<BranchRecord[]> {
    return (await this.q('branchesOfDoc', [docId])).map((r) => toBranch(r) as BranchRecord);
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
    return rows.map((r) => {
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
    return (await this.q('readBytes', [branchId, fromSeq, toSeq])).map((r) => r.bytes as Buffer);
  }

  async actorSeqs(branchId: number, actors: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (actors.length === 0) return out;
    for (const r of await this.q('actorSeqs', [branchId, actors.map(hexToBytes)])) {
      out.set(bytesToHex(r.actor as Buffer), r.seq as number);
    }
    return out;
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

  async readBranchCommits(
    branchId: number,
    fromSeq: number,
    toSeq: number,
  ): Promise<CommitRecord[]> {
    const ends = (await this.q('commitEnds', [branchId, fromSeq, toSeq])).map(
      (r) => toCommit(branchId, r) as CommitRecord,
    );
    const last = ends[ends.length - 1];
    if (!last || last.seqTo < toSeq) {
      const tail = await this.commitCovering(branchId, toSeq);
      if (tail && tail.seqTo > (last?.seqTo ?? 0)) ends.push(tail);
    }
    return ends.filter((c) => c.seqTo >= fromSeq);
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
    const [r] = await this.q('txRecord', [epoch]);
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
    const [r] = await this.q('receipt', [clientTxId]);
    if (!r) return undefined;
    return {
      epoch: r.epoch as number,
      receiptJson: r.receipt as string,
      createdAt: r.created_at as number,
    };
  }

  async createBranch(b: NewBranch): Promise<BranchRecord> {
    const [r] = await this.q('insertBranch', [
      b.docId,
      b.name,
      b.parentId,
      b.forkSeq,
      packHashes(b.forkHeads),
      b.createdAt,
    ]);
    return (await this.getBranchById(r?.id as number)) as BranchRecord;
  }

  async appendCommit(commit: CommitRecord, changes: readonly DecodedChange[]): Promise<void> {
    const actors = await this.internActors([...new Set(changes.map((c) => c.actor))]);
    const actor = (c: DecodedChange) => actors.get(c.actor) as { id: number; maxSeq: number };
    await this.q('appendCommit', [
      commit.branchId,
      commit.epoch,
      commit.seqTo,
      commit.seqFrom,
      commit.committedAt,
      packHashes(commit.heads),
      changes.map((_, i) => commit.seqFrom + i),
      changes.map((c) => hexToBytes(c.hash)),
      changes.map((c) => actor(c).id),
      changes.map((c) => c.seq),
      changes.map((c) => packHashes(c.deps)),
      changes.map((c) => Buffer.from(c.bytes)),
      // Above every stored seq of its actor, a change is new to the whole space.
      changes.map((c) => c.seq <= actor(c).maxSeq),
    ]);
  }

  private async internActors(
    actors: string[],
  ): Promise<Map<string, { id: number; maxSeq: number }>> {
    const ids = new Map<string, { id: number; maxSeq: number }>();
    for (const r of await this.q('internActors', [actors.map(hexToBytes)])) {
      ids.set(bytesToHex(r.actor as Buffer), { id: r.id as number, maxSeq: r.max_seq as number });
    }
    return ids;
  }

  async closeBranch(branchId: number, mergedInto: string | null): Promise<void> {
    await this.q('closeBranch', [branchId, mergedInto]);
  }

  async dropEmptyBranch(branchId: number): Promise<boolean> {
    const [r] = await this.q('dropEmptyBranch', [branchId]);
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

  async appendTxRecord(t: TxRecordRow): Promise<void> {
    await this.q('insertTx', [
      t.epoch,
      t.committedAt,
      Buffer.from(t.txHash),
      Buffer.from(t.prevTxHash),
      Buffer.from(t.bodyHash),
      Buffer.from(t.serverSig),
      t.serverDid,
      Buffer.from(t.body),
    ]);
  }

  async putReceipt(clientTxId: string, r: StoredReceipt): Promise<void> {
    await this.q('upsertReceipt', [clientTxId, r.epoch, r.receiptJson, r.createdAt]);
  }

  async pruneReceipts(beforeMs: number): Promise<number> {
    const pruned = await this.q('pruneReceipts', [beforeMs]);
    return pruned.length;
  }
}

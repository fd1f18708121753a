import type Database from 'better-sqlite3';

/* The prepared statements of one space file (schema in space-migrations.ts). */

const BRANCH_SELECT = `
  SELECT b.id, b.doc_id, b.name, b.kind, b.parent_id, b.fork_seq, b.fork_heads, b.closed, b.merged_into,
         b.created_at, t.seq AS tip_seq, t.commit_heads AS tip_heads, t.epoch AS tip_epoch
  FROM branches b
  LEFT JOIN log t ON t.branch_id = b.id
    AND t.seq = (SELECT max(seq) FROM log WHERE branch_id = b.id)`;

/** The row's bytes, or those of the row it points at (same change stored elsewhere). */
const LOG_BYTES = `coalesce(l.bytes, (SELECT o.bytes FROM log o
  WHERE o.branch_id = l.origin_branch AND o.seq = l.origin_seq))`;

const COMMIT_COLUMNS = 'seq, commit_from, epoch, committed_at, commit_heads';
const SNAPSHOT_COLUMNS = 'id, branch_id, seq, heads, root_ref, pinned, created_at, size';

/** A prepared statement of a space file. */
export interface Statement {
  run(...params: unknown[]): Database.RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** Prepares every statement of `SqliteSpaceOps` on one connection. */
export function prepareSpaceStatements(db: Database.Database) {
  const p = (sql: string): Statement => db.prepare(sql);
  // Statements that return their single column's value instead of a row.
  const one = (sql: string): Statement => db.prepare(sql).pluck();
  return {
    chainTip: p('SELECT epoch, tx_hash, committed_at FROM tx ORDER BY epoch DESC LIMIT 1'),
    branchByName: p(`${BRANCH_SELECT} WHERE b.doc_id = ? AND b.name = ?`),
    branchById: p(`${BRANCH_SELECT} WHERE b.id = ?`),
    branchesOfDoc: p(`${BRANCH_SELECT} WHERE b.doc_id = ? ORDER BY b.name`),
    docKind: one('SELECT kind FROM branches WHERE doc_id = ? LIMIT 1'),
    docIdsFrom: p('SELECT DISTINCT doc_id FROM branches WHERE doc_id >= ? ORDER BY doc_id LIMIT ?'),
    docIdsAfter: p('SELECT DISTINCT doc_id FROM branches WHERE doc_id > ? ORDER BY doc_id LIMIT ?'),
    // Driven from the list of [hashKey, hash] through log_by_hash: cost independent of
    // the log's length; the full hash is compared on the row.
    findInBranch: p(`SELECT l.hash, l.seq FROM json_each(?) j
        CROSS JOIN log l ON l.hash_key = j.value ->> 0 AND l.branch_id = ? AND l.seq <= ?
        WHERE l.hash = unhex(j.value ->> 1)`),
    storedCopies:
      p(`SELECT l.hash, l.branch_id, l.seq, l.origin_branch, l.origin_seq FROM json_each(?) j
        CROSS JOIN log l ON l.hash_key = j.value ->> 0 WHERE l.hash = unhex(j.value ->> 1)`),
    readLog: p(`SELECT l.seq, l.hash, a.actor, l.actor_seq, l.deps FROM log l
        JOIN actors a ON a.id = l.actor_id
        WHERE l.branch_id = ? AND l.seq BETWEEN ? AND ? ORDER BY l.seq LIMIT ?`),
    readLogBytes:
      p(`SELECT l.seq, l.hash, a.actor, l.actor_seq, l.deps, ${LOG_BYTES} AS bytes FROM log l
        JOIN actors a ON a.id = l.actor_id
        WHERE l.branch_id = ? AND l.seq BETWEEN ? AND ? ORDER BY l.seq LIMIT ?`),
    readBytes: one(`SELECT ${LOG_BYTES} FROM log l
        WHERE l.branch_id = ? AND l.seq BETWEEN ? AND ? ORDER BY l.seq`),
    actorSeqs: p(`SELECT a.actor, ba.seq FROM json_each(?) j
        CROSS JOIN actors a ON a.actor = unhex(j.value)
        CROSS JOIN branch_actors ba ON ba.branch_id = ? AND ba.actor_id = a.id`),
    actorMaxima:
      p(`SELECT a.actor, max(l.actor_seq) AS seq FROM log l JOIN actors a ON a.id = l.actor_id
        WHERE l.branch_id = ? AND l.seq BETWEEN ? AND ? GROUP BY l.actor_id`),
    commitsBefore: p(`SELECT ${COMMIT_COLUMNS} FROM log
        WHERE branch_id = ? AND seq < ? AND commit_from IS NOT NULL ORDER BY seq DESC LIMIT ?`),
    logSizeAfter:
      p(`SELECT count(*) AS changes, coalesce(sum(length(${LOG_BYTES})), 0) AS bytes FROM log l
        WHERE l.branch_id = ? AND l.seq > ?`),
    nearestSnapshot: p(`SELECT ${SNAPSHOT_COLUMNS} FROM snapshots
        WHERE branch_id = ? AND seq <= ? ORDER BY seq DESC, id DESC LIMIT 1`),
    snapshotById: p(`SELECT ${SNAPSHOT_COLUMNS} FROM snapshots WHERE id = ?`),
    snapshotBytes: one('SELECT bytes FROM snapshots WHERE id = ?'),
    snapshotsOfBranch: p(`SELECT ${SNAPSHOT_COLUMNS} FROM snapshots
        WHERE branch_id = ? ORDER BY seq DESC, id DESC`),
    commitCovering: p(`SELECT e.seq, e.commit_from, e.epoch, e.committed_at, e.commit_heads
        FROM log r JOIN log e ON e.branch_id = r.branch_id AND e.seq = r.commit_to
        WHERE r.branch_id = ? AND r.seq = ?`),
    commitEnds: p(`SELECT ${COMMIT_COLUMNS} FROM log
        WHERE branch_id = ? AND seq BETWEEN ? AND ? AND commit_from IS NOT NULL ORDER BY seq`),
    ownRange: p('SELECT min(seq) AS lo, max(seq) AS hi FROM log WHERE branch_id = ?'),
    epochAt: one('SELECT epoch FROM log WHERE branch_id = ? AND seq = ?'),
    txTime: one('SELECT committed_at FROM tx WHERE epoch = ?'),
    txRecord: p('SELECT * FROM tx WHERE epoch = ?'),
    txRecordsAfter: p('SELECT * FROM tx WHERE epoch > ? AND epoch <= ? ORDER BY epoch LIMIT ?'),
    receipt: p('SELECT epoch, receipt, created_at FROM receipts WHERE client_tx_id = ?'),
    // writes
    insertBranch:
      p(`INSERT INTO branches (doc_id, name, kind, parent_id, fork_seq, fork_heads, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
    actorRow: p('SELECT id, max_seq FROM actors WHERE actor = ?'),
    insertActor: p('INSERT INTO actors (actor) VALUES (?)'),
    raiseActorSeq: p('UPDATE actors SET max_seq = ? WHERE id = ? AND max_seq < ?'),
    insertLog:
      p(`INSERT INTO log (branch_id, seq, hash, hash_key, actor_id, actor_seq, deps, epoch, commit_to,
        origin_branch, origin_seq, commit_from, committed_at, commit_heads, bytes)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    upsertActorSeq: p(`INSERT INTO branch_actors (branch_id, actor_id, seq) VALUES (?, ?, ?)
        ON CONFLICT (branch_id, actor_id) DO UPDATE SET seq = max(seq, excluded.seq)`),
    closeBranch: p('UPDATE branches SET closed = 1, merged_into = ? WHERE id = ?'),
    ownLogRow: p('SELECT 1 FROM log WHERE branch_id = ? LIMIT 1'),
    deleteBranch: p('DELETE FROM branches WHERE id = ?'),
    deleteBranchActors: p('DELETE FROM branch_actors WHERE branch_id = ?'),
    insertSnapshot:
      p(`INSERT INTO snapshots (branch_id, seq, heads, root_ref, pinned, created_at, size, bytes)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    deleteSnapshot: p('DELETE FROM snapshots WHERE id = ?'),
    quarantined: p('SELECT hash, reason FROM quarantine'),
    insertQuarantine: p(
      'INSERT INTO quarantine (hash, reason, found_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    insertTx: p(`INSERT INTO tx (epoch, committed_at, tx_hash, prev_tx_hash, body_hash, server_sig,
        server_did, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    // An expired receipt may still be stored (pruning is periodic): replace it.
    insertReceipt: p(`INSERT OR REPLACE INTO receipts (client_tx_id, epoch, receipt, created_at)
        VALUES (?, ?, ?, ?)`),
    pruneReceipts: p('DELETE FROM receipts WHERE created_at < ?'),
    clientAck: p('SELECT epoch FROM client_acks WHERE client_id = ? AND doc_id = ? AND branch = ?'),
    upsertClientAck:
      p(`INSERT OR REPLACE INTO client_acks (client_id, doc_id, branch, epoch, updated_at)
      VALUES (?, ?, ?, ?, ?)`),
    pruneClientAcks: p('DELETE FROM client_acks WHERE updated_at < ?'),
  };
}

export type SpaceStatements = ReturnType<typeof prepareSpaceStatements>;

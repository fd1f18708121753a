/**
 * Every statement of the PostgreSQL backend (run by pg-space-ops.ts).
 * Named statements: node-postgres prepares each once per connection. Every
 * one filters on space_id, the distribution column under Citus
 * (test/postgres/citus-schema.test.ts lints this file).
 */

const BRANCH_SELECT = `
  SELECT b.id, b.doc_id, b.name, b.kind, b.parent_id, b.fork_seq, b.fork_heads, b.closed, b.merged_into,
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
/**
 * CTEs writing the log rows of one or more commits ($2-$14, one array element
 * per row): the bytes, or a pointer to where the space already stores them,
 * and the space's highest seq per actor. Only rows flagged as possibly stored
 * ($14) are probed for a stored copy; a change must not appear twice in one
 * statement (the caller splits), since rows a statement inserts are not
 * visible to its own probe.
 */
const LOG_ROWS = `u AS (
      SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::bytea[], $5::bigint[], $6::bigint[],
        $7::bytea[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bytea[],
        $13::bytea[], $14::boolean[])
      AS u(branch_id, seq, hash, actor_id, actor_seq, deps, epoch, commit_to, commit_from,
        committed_at, commit_heads, bytes, maybe_stored)),
    o AS (
      SELECT u.branch_id, u.seq, s.origin_branch, s.origin_seq FROM u
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
      SELECT $1, u.branch_id, u.seq, u.hash, u.actor_id, u.actor_seq, u.deps, u.epoch, u.commit_to,
        o.origin_branch, o.origin_seq, u.commit_from, u.committed_at, u.commit_heads,
        CASE WHEN o.origin_branch IS NULL THEN u.bytes END
      FROM u JOIN o ON o.branch_id = u.branch_id AND o.seq = u.seq
      RETURNING 1)`;

/** The final statement after LOG_ROWS: each branch's highest seq per actor. */
const ACTOR_SEQS = `INSERT INTO branch_actors (space_id, branch_id, actor_id, seq)
    SELECT $1, branch_id, actor_id, max(actor_seq) FROM u GROUP BY branch_id, actor_id
    ON CONFLICT (space_id, branch_id, actor_id) DO UPDATE SET seq = GREATEST(branch_actors.seq, EXCLUDED.seq)`;

export const SQL = {
  chainTip:
    'SELECT epoch, tx_hash, committed_at FROM tx WHERE space_id = $1 ORDER BY epoch DESC LIMIT 1',
  branchByName: `${BRANCH_SELECT} WHERE b.space_id = $1 AND b.doc_id = $2 AND b.name = $3`,
  branchById: `${BRANCH_SELECT} WHERE b.space_id = $1 AND b.id = $2`,
  branchesOfDoc: `${BRANCH_SELECT} WHERE b.space_id = $1 AND b.doc_id = $2 ORDER BY b.name`,
  docKind: 'SELECT kind FROM branches WHERE space_id = $1 AND doc_id = $2 LIMIT 1',
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
  quarantined: 'SELECT hash, reason FROM quarantine WHERE space_id = $1',
  insertQuarantine: `INSERT INTO quarantine (space_id, hash, reason, found_at)
    SELECT $1, h, r, $4 FROM unnest($2::bytea[], $3::text[]) AS q(h, r)
    ON CONFLICT (space_id, hash) DO NOTHING`,
  commitCovering: `SELECT e.seq, e.commit_from, e.epoch, e.committed_at, e.commit_heads
    FROM log r JOIN log e ON e.space_id = r.space_id AND e.branch_id = r.branch_id AND e.seq = r.commit_to
    WHERE r.space_id = $1 AND r.branch_id = $2 AND r.seq = $3`,
  commitEnds: `SELECT ${COMMIT_COLUMNS} FROM log
    WHERE space_id = $1 AND branch_id = $2 AND seq BETWEEN $3 AND $4 AND commit_from IS NOT NULL ORDER BY seq`,
  lastSeqUpTo:
    'SELECT max(seq) AS seq FROM log WHERE space_id = $1 AND branch_id = $2 AND epoch <= $3',
  epochAtTime: 'SELECT max(epoch) AS epoch FROM tx WHERE space_id = $1 AND committed_at <= $2',
  txRecord: 'SELECT * FROM tx WHERE space_id = $1 AND epoch = $2',
  txRecordsAfter:
    'SELECT * FROM tx WHERE space_id = $1 AND epoch > $2 AND epoch <= $3 ORDER BY epoch LIMIT $4',
  receipt:
    'SELECT epoch, receipt, created_at FROM receipts WHERE space_id = $1 AND client_tx_id = $2',
  insertBranch: `INSERT INTO branches (space_id, id, doc_id, name, kind, parent_id, fork_seq, fork_heads, created_at)
    SELECT $1, coalesce(max(id), 0) + 1, $2, $3, $4, $5, $6, $7, $8 FROM branches WHERE space_id = $1
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
  // The log rows of one or more commits in one statement (see LOG_ROWS), alone or with
  // the batch's tx records ($15-$22).
  appendLog: `WITH ${LOG_ROWS} ${ACTOR_SEQS}`,
  appendLogAndTxs: `WITH ${LOG_ROWS},
    txs AS (
      INSERT INTO tx (space_id, epoch, committed_at, tx_hash, prev_tx_hash, body_hash, server_sig,
        server_did, body)
      SELECT $1, * FROM unnest($15::bigint[], $16::bigint[], $17::bytea[], $18::bytea[], $19::bytea[],
        $20::bytea[], $21::text[], $22::bytea[])
      RETURNING 1)
    ${ACTOR_SEQS}`,
  closeBranch:
    'UPDATE branches SET closed = true, merged_into = $3 WHERE space_id = $1 AND id = $2',
  insertTxs: `INSERT INTO tx (space_id, epoch, committed_at, tx_hash, prev_tx_hash, body_hash, server_sig,
    server_did, body)
    SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bytea[], $5::bytea[], $6::bytea[],
      $7::bytea[], $8::text[], $9::bytea[])`,
  upsertReceipt: `INSERT INTO receipts (space_id, client_tx_id, epoch, receipt, created_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (space_id, client_tx_id) DO UPDATE
    SET epoch = EXCLUDED.epoch, receipt = EXCLUDED.receipt, created_at = EXCLUDED.created_at`,
  pruneReceipts: 'DELETE FROM receipts WHERE space_id = $1 AND created_at < $2 RETURNING 1',
  clientAck:
    'SELECT epoch FROM client_acks WHERE space_id = $1 AND client_id = $2 AND doc_id = $3 AND branch = $4',
  upsertClientAcks: `INSERT INTO client_acks (space_id, client_id, doc_id, branch, epoch, updated_at)
    SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
    ON CONFLICT (space_id, client_id, doc_id, branch)
    DO UPDATE SET epoch = EXCLUDED.epoch, updated_at = EXCLUDED.updated_at`,
  pruneClientAcks: 'DELETE FROM client_acks WHERE space_id = $1 AND updated_at < $2 RETURNING 1',
} as const;

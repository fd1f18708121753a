/**
 * The statements of the PostgreSQL backend's Yjs docs (run by pg-yjs-ops.ts;
 * schema: migration 9). Like pg-statements.ts: named (prepared once per
 * connection), `$1` is always the space, and every one filters on or inserts
 * it (test/postgres/citus-schema.test.ts lints this file too). Keys start
 * with `yjs`, so that their statement names never meet pg-statements.ts's.
 */

const CHECKPOINT_COLUMNS =
  'generation, epoch, chunk_count, total_bytes, sha256, state_vector, created_at';

export const YJS_SQL = {
  yjsDoc: `SELECT doc_id, created_at, last_epoch, checkpoint_gen, migration FROM yjs_docs
    WHERE space_id = $1 AND doc_id = $2`,
  // Two statements rather than one with both bounds, so that the scan starts
  // where the page does (the caller picks the bound, yjs-rows.ts).
  yjsDocIdsFrom:
    'SELECT doc_id FROM yjs_docs WHERE space_id = $1 AND doc_id >= $2 ORDER BY doc_id LIMIT $3',
  yjsDocIdsAfter:
    'SELECT doc_id FROM yjs_docs WHERE space_id = $1 AND doc_id > $2 ORDER BY doc_id LIMIT $3',
  yjsJournal: `SELECT epoch, committed_at, hash, bytes FROM yjs_journal
    WHERE space_id = $1 AND doc_id = $2 AND epoch > $3 AND epoch <= $4 ORDER BY epoch LIMIT $5`,
  // length() of a TOASTed value reads its size from the pointer, not the value.
  yjsJournalBefore: `SELECT epoch, committed_at, length(bytes) AS size FROM yjs_journal
    WHERE space_id = $1 AND doc_id = $2 AND epoch < $3 ORDER BY epoch DESC LIMIT $4`,
  yjsJournalSizeAfter: `SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS bytes
    FROM yjs_journal WHERE space_id = $1 AND doc_id = $2 AND epoch > $3`,
  yjsCheckpoints: `SELECT ${CHECKPOINT_COLUMNS} FROM yjs_checkpoints
    WHERE space_id = $1 AND doc_id = $2 ORDER BY epoch DESC, generation DESC`,
  yjsChunks: `SELECT bytes FROM yjs_chunks
    WHERE space_id = $1 AND doc_id = $2 AND generation = $3 ORDER BY idx`,
  // GREATEST ignores NULLs: the highest of either, 0 when neither has a row.
  yjsMaxGeneration: `SELECT coalesce(GREATEST(
      (SELECT max(generation) FROM yjs_checkpoints WHERE space_id = $1 AND doc_id = $2),
      (SELECT max(generation) FROM yjs_chunks WHERE space_id = $1 AND doc_id = $2)), 0) AS generation`,
  yjsCreateDoc: `INSERT INTO yjs_docs (space_id, doc_id, created_at) VALUES ($1, $2, $3)
    ON CONFLICT (space_id, doc_id) DO NOTHING`,
  // The doc's last epoch ($3: the rows' highest) and the rows ($4-$7) in one
  // statement; no row goes in unless the doc exists (the caller checks the count).
  yjsAppendJournal: `WITH d AS (
      UPDATE yjs_docs SET last_epoch = GREATEST(last_epoch, $3)
      WHERE space_id = $1 AND doc_id = $2 RETURNING 1)
    INSERT INTO yjs_journal (space_id, doc_id, epoch, committed_at, hash, bytes)
    SELECT $1, $2, u.epoch, u.committed_at, u.hash, u.bytes
    FROM unnest($4::bigint[], $5::bigint[], $6::bytea[], $7::bytea[]) AS u(epoch, committed_at, hash, bytes)
    WHERE EXISTS (SELECT 1 FROM d)`,
  yjsNextChunk: `SELECT coalesce(max(idx) + 1, 0) AS idx FROM yjs_chunks
    WHERE space_id = $1 AND doc_id = $2 AND generation = $3`,
  // One chunk per statement: a lone bytea parameter goes over the wire in
  // binary, where an array of them would be hex text twice its size.
  yjsPutChunk: `INSERT INTO yjs_chunks (space_id, doc_id, generation, idx, bytes)
    VALUES ($1, $2, $3, $4, $5)`,
  // The flip: the meta row and the pointer, only if the doc exists and the
  // generation's chunks are all written ($5 chunks of $6 bytes); the counts
  // found come back so the caller can tell which check failed.
  yjsPublish: `WITH c AS (
      SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS size FROM yjs_chunks
      WHERE space_id = $1 AND doc_id = $2 AND generation = $3),
    d AS (
      UPDATE yjs_docs SET checkpoint_gen = $3, last_epoch = GREATEST(last_epoch, $4)
      WHERE space_id = $1 AND doc_id = $2 AND (SELECT n = $5 AND size = $6 FROM c)
      RETURNING 1),
    ins AS (
      INSERT INTO yjs_checkpoints (space_id, doc_id, generation, epoch, chunk_count, total_bytes,
        sha256, state_vector, created_at)
      SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM d
      RETURNING 1)
    SELECT c.n AS chunks, c.size AS bytes, (SELECT count(*) FROM ins) AS published FROM c`,
  // The given checkpoints ($3) with their chunks, and the chunks of every
  // unpublished generation below the pointer ($4; none if it is NULL): a crash
  // between chunks and flip. Chunks above the pointer may belong to a
  // checkpoint still being written.
  yjsDropCheckpoints: `WITH gone AS (
      DELETE FROM yjs_checkpoints
      WHERE space_id = $1 AND doc_id = $2 AND generation = ANY($3::bigint[])
      RETURNING generation),
    chunks AS (
      DELETE FROM yjs_chunks c WHERE c.space_id = $1 AND c.doc_id = $2
        AND (c.generation = ANY($3::bigint[]) OR (c.generation < $4::bigint AND NOT EXISTS (
          SELECT 1 FROM yjs_checkpoints k
          WHERE k.space_id = $1 AND k.doc_id = $2 AND k.generation = c.generation)))
      RETURNING 1)
    SELECT count(*) AS dropped FROM gone`,
  yjsPruneJournal: `DELETE FROM yjs_journal
    WHERE space_id = $1 AND doc_id = $2 AND epoch <= $3 AND committed_at < $4`,
  yjsSetMigration: 'UPDATE yjs_docs SET migration = $3 WHERE space_id = $1 AND doc_id = $2',
} as const;

export type YjsStatementName = keyof typeof YJS_SQL;

/**
 * The statements of the PostgreSQL backend's extension KV records (run by
 * pg-kv-ops.ts; schema: migration 10). Like pg-statements.ts: named
 * (prepared once per connection), `$1` is always the space, and every one
 * filters on or inserts it (test/postgres/citus-schema.test.ts lints this
 * file too). Keys start with `kv`, so that their statement names never meet
 * pg-statements.ts's or pg-yjs-statements.ts's. Install, namespace and key
 * are `COLLATE "C"` in the schema: compared and ordered by their UTF-8
 * bytes, whatever the database's collation.
 */

/** A record's small columns; metadata and value (large) come last, and only when asked for. */
const RECORD_HEAD = 'namespace, key, revision, ttl_expires_at, created_at, updated_at, bytes';
/** A listing: a range of the primary key ($4 itself only if $5), minus expired rows ($6). */
const LIST_WHERE = `FROM kv_records WHERE space_id = $1 AND install = $2 AND namespace = $3
    AND key >= $4 AND ($5::boolean OR key > $4)
    AND (ttl_expires_at IS NULL OR ttl_expires_at > $6)`;

export const KV_SQL = {
  kvRecord: `SELECT ${RECORD_HEAD}, metadata, value FROM kv_records
    WHERE space_id = $1 AND install = $2 AND namespace = $3 AND key = $4`,
  // A listing is one range of the primary key: up to the end of the prefix's
  // run ($7, `kvListRange…`), or of the namespace when the prefix has no end
  // (`kvListFrom…`: the empty prefix). See kv-rows.ts kvListRange. Without
  // bodies, '' stands for metadata and value: they are never read (nor detoasted).
  kvListRange: `SELECT ${RECORD_HEAD}, metadata, value ${LIST_WHERE}
    AND key < $7 ORDER BY key LIMIT $8`,
  kvListFrom: `SELECT ${RECORD_HEAD}, metadata, value ${LIST_WHERE} ORDER BY key LIMIT $7`,
  kvListRangeKeys: `SELECT ${RECORD_HEAD}, '' AS metadata, '' AS value ${LIST_WHERE}
    AND key < $7 ORDER BY key LIMIT $8`,
  kvListFromKeys: `SELECT ${RECORD_HEAD}, '' AS metadata, '' AS value ${LIST_WHERE}
    ORDER BY key LIMIT $7`,
  kvUsage:
    'SELECT bytes_used, keys, namespaces FROM kv_installs WHERE space_id = $1 AND install = $2',
  kvNamespace: `SELECT keys, revision_floor FROM kv_namespaces
    WHERE space_id = $1 AND install = $2 AND namespace = $3`,
  kvSchemas: `SELECT version, status, created_at, schema FROM kv_schemas
    WHERE space_id = $1 AND install = $2 AND namespace = $3 ORDER BY version`,
  // Per install of the space (a handful), a range of the expiry index (LATERAL:
  // never a scan of the table, whatever the generic plan guesses); stops at the cap ($3).
  kvCountExpired: `SELECT count(*) AS n FROM (SELECT 1 FROM kv_installs i
      CROSS JOIN LATERAL (SELECT 1 FROM kv_records r
        WHERE r.space_id = i.space_id AND r.install = i.install AND r.ttl_expires_at <= $2
        LIMIT $3) AS e
      WHERE i.space_id = $1 LIMIT $3) AS expired`,
  // The same probe, LIMIT 1 per install (an EXISTS could become a semi-join
  // that reads every TTL entry of the space).
  kvInstallsWithExpired: `SELECT i.install FROM kv_installs i
      CROSS JOIN LATERAL (SELECT 1 FROM kv_records r
        WHERE r.space_id = i.space_id AND r.install = i.install AND r.ttl_expires_at <= $2
        LIMIT 1) AS e
      WHERE i.space_id = $1 ORDER BY i.install LIMIT $3`,
  // The lock of every KV write (lock order: install, namespaces, records). A
  // SELECT … FOR UPDATE first, as the row usually exists; else the insert
  // (which waits for a concurrent inserter's outcome) and the same SELECT again.
  kvLockInstall: `SELECT bytes_used, keys, namespaces FROM kv_installs
    WHERE space_id = $1 AND install = $2 FOR UPDATE`,
  kvCreateInstall: `INSERT INTO kv_installs (space_id, install) VALUES ($1, $2)
    ON CONFLICT (space_id, install) DO NOTHING`,
  kvSetUsage: `INSERT INTO kv_installs (space_id, install, bytes_used, keys, namespaces)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (space_id, install) DO UPDATE SET bytes_used = EXCLUDED.bytes_used,
      keys = EXCLUDED.keys, namespaces = EXCLUDED.namespaces`,
  kvLockNamespace: `SELECT keys, revision_floor FROM kv_namespaces
    WHERE space_id = $1 AND install = $2 AND namespace = $3 FOR UPDATE`,
  kvCreateNamespace: `INSERT INTO kv_namespaces (space_id, install, namespace) VALUES ($1, $2, $3)
    ON CONFLICT (space_id, install, namespace) DO NOTHING`,
  kvSetNamespace: `INSERT INTO kv_namespaces (space_id, install, namespace, keys, revision_floor)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (space_id, install, namespace) DO UPDATE SET keys = EXCLUDED.keys,
      revision_floor = EXCLUDED.revision_floor`,
  kvPutRecord: `INSERT INTO kv_records (space_id, install, namespace, key, revision, ttl_expires_at,
      created_at, updated_at, bytes, metadata, value)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (space_id, install, namespace, key) DO UPDATE SET revision = EXCLUDED.revision,
      ttl_expires_at = EXCLUDED.ttl_expires_at, created_at = EXCLUDED.created_at,
      updated_at = EXCLUDED.updated_at, bytes = EXCLUDED.bytes, metadata = EXCLUDED.metadata,
      value = EXCLUDED.value`,
  kvDeleteRecord: `DELETE FROM kv_records
    WHERE space_id = $1 AND install = $2 AND namespace = $3 AND key = $4`,
  // The oldest expiries first ($4 of them), found through the expiry index.
  kvRemoveExpired: `DELETE FROM kv_records
    WHERE space_id = $1 AND install = $2 AND (namespace, key) IN (
      SELECT namespace, key FROM kv_records
      WHERE space_id = $1 AND install = $2 AND ttl_expires_at <= $3
      ORDER BY ttl_expires_at LIMIT $4)
    RETURNING namespace, key, revision, bytes`,
  kvPutSchema: `INSERT INTO kv_schemas (space_id, install, namespace, version, status, created_at,
      schema) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (space_id, install, namespace, version) DO UPDATE SET status = EXCLUDED.status,
      created_at = EXCLUDED.created_at, schema = EXCLUDED.schema`,
} as const;

export type KvStatementName = keyof typeof KV_SQL;

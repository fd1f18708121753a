import type { Migration } from '../migrations.js';

/**
 * Space-file schema steps 6 and on (see space-migrations.ts for the rules
 * they follow): the commit-rows index, Yjs documents, extension KV storage.
 */
export const SPACE_MIGRATIONS_SINCE_6: readonly Migration[] = [
  {
    version: 6,
    name: 'index of commit rows',
    // History pages and version lookups ask for the commit rows of a branch
    // (commit_from IS NOT NULL: the last row of each commit). Without this
    // partial index they walk every change row of the range; with it, one
    // index entry per commit, covering every column those queries read
    // (plans and timings in docs/QUERY-PLANS.md). It costs one small index
    // insert per commit, not per change.
    up: `CREATE INDEX IF NOT EXISTS log_commits
      ON log (branch_id, seq, commit_from, epoch, committed_at, commit_heads)
      WHERE commit_from IS NOT NULL;`,
    down: `DROP INDEX log_commits;`,
  },
  {
    version: 7,
    name: 'Yjs documents',
    // Yjs docs (SPEC §11) beside the Automerge log, in their own doc id
    // namespace: the doc row (its last epoch and the pointer to its published
    // checkpoint), the journal (one row per committed update, keyed by epoch),
    // checkpoint metadata and the checkpoints' chunks. A checkpoint's chunks
    // are written first and become visible only through the meta row and the
    // pointer (storage/sqlite/sqlite-yjs-ops.ts). Large values go last so that
    // reading the other columns never touches overflow pages. Chunks (up to
    // 1 MiB each) live in a rowid table: a WITHOUT ROWID row that large would
    // only keep its key in the leaf anyway, and the key index stays small.
    up: `CREATE TABLE yjs_docs (
        doc_id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        last_epoch INTEGER NOT NULL DEFAULT 0,
        checkpoint_gen INTEGER,
        migration TEXT
      ) WITHOUT ROWID;
      CREATE TABLE yjs_journal (
        doc_id TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        committed_at INTEGER NOT NULL,
        hash BLOB NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (doc_id, epoch)
      ) WITHOUT ROWID;
      CREATE TABLE yjs_checkpoints (
        doc_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        chunk_count INTEGER NOT NULL,
        total_bytes INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        state_vector BLOB NOT NULL,
        PRIMARY KEY (doc_id, generation)
      ) WITHOUT ROWID;
      CREATE TABLE yjs_chunks (
        doc_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (doc_id, generation, idx)
      );`,
    down: `DROP TABLE yjs_chunks;
      DROP TABLE yjs_checkpoints;
      DROP TABLE yjs_journal;
      DROP TABLE yjs_docs;`,
  },
  {
    version: 8,
    name: 'extension KV storage',
    // Extension KV records (SPEC §12; storage/sqlite/sqlite-kv-ops.ts): per
    // install its counters (what its stored rows use), per namespace its
    // stored keys and the revision floor of re-created keys, the records, and
    // the JSON Schemas by version. Clustered by their keys (WITHOUT ROWID):
    // a listing is one range of the primary key (install, namespace, key).
    // TEXT with the default BINARY collation compares UTF-8 bytes, the order
    // SPEC §12 gives keys. A record's large columns (metadata, value) go last,
    // so a listing without bodies reads only the leaf's part of the row. The
    // partial expiry index holds only records with a TTL; it serves expired
    // removal per install (oldest first) and the space-wide probes of the
    // sweep and the metric (docs/QUERY-PLANS.md).
    up: `CREATE TABLE kv_installs (
        install TEXT PRIMARY KEY,
        bytes_used INTEGER NOT NULL DEFAULT 0,
        keys INTEGER NOT NULL DEFAULT 0,
        namespaces INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE TABLE kv_namespaces (
        install TEXT NOT NULL,
        namespace TEXT NOT NULL,
        keys INTEGER NOT NULL DEFAULT 0,
        revision_floor INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (install, namespace)
      ) WITHOUT ROWID;
      CREATE TABLE kv_records (
        install TEXT NOT NULL,
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        revision INTEGER NOT NULL,
        ttl_expires_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        metadata TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (install, namespace, key)
      ) WITHOUT ROWID;
      CREATE INDEX kv_records_expiry ON kv_records (install, ttl_expires_at)
        WHERE ttl_expires_at IS NOT NULL;
      CREATE TABLE kv_schemas (
        install TEXT NOT NULL,
        namespace TEXT NOT NULL,
        version INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        schema TEXT NOT NULL,
        PRIMARY KEY (install, namespace, version)
      ) WITHOUT ROWID;`,
    down: `DROP TABLE kv_schemas;
      DROP TABLE kv_records;
      DROP TABLE kv_namespaces;
      DROP TABLE kv_installs;`,
  },
];

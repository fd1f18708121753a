import type { Migration } from '../migrations.js';

/**
 * Schema of one space's SQLite file. A space has its own file, so no table
 * carries a space id. Hashes and actors are raw bytes.
 *
 * The log is the heart: one row per (branch, seq), clustered by that key, so
 * a commit appends to one leaf page and a materialization reads consecutive
 * pages. A change's bytes live in the first row that holds it; a later row
 * with the same hash (another branch) points at that origin, so bytes are
 * stored once per space and found by hash through `log_by_hash` (keyed by
 * the first 6 bytes of the hash, `hash_key`: a small index for random inserts). The last row
 * of each commit carries the commit (first seq, time, heads after); every row
 * carries its commit's epoch and last seq. A commit thus writes the log leaf,
 * one hash-index leaf, the branch's actor-seq row and the tx record: four
 * pages, which is what one fsync costs most for. `bytes` is the last column so
 * that reading the others never touches a large change's overflow pages.
 */
export const SPACE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'log, branches, tx chain, receipts',
    up: `
      CREATE TABLE space_info (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE branches (
        id INTEGER PRIMARY KEY,
        doc_id TEXT NOT NULL,
        name TEXT NOT NULL,
        parent_id INTEGER,
        fork_seq INTEGER NOT NULL DEFAULT 0,
        fork_heads BLOB NOT NULL DEFAULT x'',
        closed INTEGER NOT NULL DEFAULT 0,
        merged_into TEXT,
        created_at INTEGER NOT NULL,
        UNIQUE (doc_id, name)
      );
      CREATE TABLE actors (
        id INTEGER PRIMARY KEY,
        actor BLOB NOT NULL UNIQUE,
        max_seq INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE log (
        branch_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL,
        hash_key INTEGER NOT NULL,
        actor_id INTEGER NOT NULL,
        actor_seq INTEGER NOT NULL,
        deps BLOB NOT NULL,
        epoch INTEGER NOT NULL,
        commit_to INTEGER NOT NULL,
        origin_branch INTEGER,
        origin_seq INTEGER,
        commit_from INTEGER,
        committed_at INTEGER,
        commit_heads BLOB,
        bytes BLOB,
        PRIMARY KEY (branch_id, seq)
      ) WITHOUT ROWID;
      CREATE INDEX log_by_hash ON log (hash_key);
      CREATE TABLE branch_actors (
        branch_id INTEGER NOT NULL,
        actor_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (branch_id, actor_id)
      ) WITHOUT ROWID;
      CREATE TABLE tx (
        epoch INTEGER PRIMARY KEY,
        committed_at INTEGER NOT NULL,
        tx_hash BLOB NOT NULL,
        prev_tx_hash BLOB NOT NULL,
        body_hash BLOB NOT NULL,
        server_sig BLOB NOT NULL,
        server_did TEXT NOT NULL,
        body BLOB NOT NULL
      );
      CREATE TABLE receipts (
        client_tx_id TEXT PRIMARY KEY,
        epoch INTEGER NOT NULL,
        receipt TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX receipts_by_age ON receipts (created_at);
    `,
    down: `
      DROP TABLE receipts;
      DROP TABLE tx;
      DROP TABLE branch_actors;
      DROP TABLE log;
      DROP TABLE actors;
      DROP TABLE branches;
      DROP TABLE space_info;
    `,
  },
  {
    version: 2,
    name: 'snapshots',
    up: `
      CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        branch_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        heads BLOB NOT NULL,
        root_ref TEXT NOT NULL,
        pinned INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        size INTEGER NOT NULL,
        bytes BLOB NOT NULL
      );
      CREATE INDEX snapshots_by_branch ON snapshots (branch_id, seq);
    `,
    down: `DROP TABLE snapshots; DELETE FROM sqlite_sequence WHERE name = 'snapshots';`,
  },
  {
    version: 3,
    name: 'document kind',
    // Every branch of a doc carries the doc's kind (fixed by its first commit);
    // docs written before kinds existed are Automerge docs.
    up: `ALTER TABLE branches ADD COLUMN kind TEXT NOT NULL DEFAULT 'automerge';`,
    down: `ALTER TABLE branches DROP COLUMN kind;`,
  },
  {
    version: 4,
    name: 'quarantined changes',
    // Changes accepted (their headers were valid) whose ops turned out not to apply.
    up: `CREATE TABLE quarantine (
        hash BLOB PRIMARY KEY,
        reason TEXT NOT NULL,
        found_at INTEGER NOT NULL
      ) WITHOUT ROWID;`,
    down: `DROP TABLE quarantine;`,
  },
  {
    version: 5,
    name: "live clients' acknowledgements",
    // Per live client, doc and branch: the epoch up to which the client said
    // it holds the branch (SPEC §6 resume). Written in batches, pruned by age.
    up: `CREATE TABLE client_acks (
        client_id TEXT NOT NULL,
        doc_id TEXT NOT NULL,
        branch TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (client_id, doc_id, branch)
      ) WITHOUT ROWID;
      CREATE INDEX client_acks_by_age ON client_acks (updated_at);`,
    down: `DROP TABLE client_acks;`,
  },
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

/** Schema of the registry file (`cairn.sqlite` in the data dir). */
export const REGISTRY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'spaces and settings',
    up: `
      CREATE TABLE spaces (
        space_id TEXT PRIMARY KEY,
        file TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    `,
    down: `
      DROP TABLE settings;
      DROP TABLE spaces;
    `,
  },
];

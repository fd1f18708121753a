import type { Migration } from '../migrations.js';
import { SPACE_MIGRATIONS_SINCE_6 } from './space-migrations-since-6.js';

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
  ...SPACE_MIGRATIONS_SINCE_6,
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

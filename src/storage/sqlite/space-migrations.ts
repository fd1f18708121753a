import type { Migration } from '../migrations.js';

/**
 * Schema of one space's SQLite file. Hashes and actors are stored as raw
 * bytes; a space has its own file, so no table carries a space id. Tips of
 * branches are not stored: they are the last row of `commits`.
 */
export const SPACE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'log, branches, commits, tx chain, receipts',
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
      CREATE TABLE actors (id INTEGER PRIMARY KEY, actor BLOB NOT NULL UNIQUE);
      CREATE TABLE changes (
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        actor_id INTEGER NOT NULL,
        actor_seq INTEGER NOT NULL,
        deps BLOB NOT NULL,
        bytes BLOB NOT NULL
      );
      CREATE TABLE log (
        branch_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        change_id INTEGER NOT NULL,
        PRIMARY KEY (branch_id, seq)
      ) WITHOUT ROWID;
      CREATE INDEX log_by_change ON log (change_id, branch_id, seq);
      CREATE TABLE branch_actors (
        branch_id INTEGER NOT NULL,
        actor_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (branch_id, actor_id)
      ) WITHOUT ROWID;
      CREATE TABLE commits (
        branch_id INTEGER NOT NULL,
        seq_from INTEGER NOT NULL,
        seq_to INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        committed_at INTEGER NOT NULL,
        heads BLOB NOT NULL,
        PRIMARY KEY (branch_id, seq_from)
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
      DROP TABLE commits;
      DROP TABLE branch_actors;
      DROP TABLE log;
      DROP TABLE changes;
      DROP TABLE actors;
      DROP TABLE branches;
      DROP TABLE space_info;
    `,
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

import type { Migration } from '../migrations.js';
import { citusGuard } from './pg-citus.js';
import { PG_MIGRATIONS_SINCE_8, V10_KV_TABLES, V9_YJS_TABLES } from './pg-migrations-since-8.js';

/** The tables of schema version 1, distributed by migration 2 (frozen: migrations never change). */
const V1_DISTRIBUTED = [
  'spaces',
  'branches',
  'actors',
  'log',
  'branch_actors',
  'tx',
  'receipts',
] as const;
/** Tables distributed by space (colocated) when Citus is present. */
export const DISTRIBUTED_TABLES = [
  ...V1_DISTRIBUTED,
  'snapshots',
  'quarantine',
  'client_acks',
  ...V9_YJS_TABLES,
  ...V10_KV_TABLES,
] as const;
/** Small server-wide tables: a Citus reference table, and the migration marker (coordinator-local). */
export const REFERENCE_TABLES = ['settings'] as const;
export const LOCAL_TABLES = ['schema_migrations'] as const;

/**
 * The PostgreSQL schema: the same shape as the SQLite one (see
 * sqlite/space-migrations.ts), with `space_id` leading every primary and
 * unique key so that Citus can shard by space. No foreign keys, no triggers,
 * no sequences (ids are allocated per space under the space's row lock).
 */
export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'spaces, log, branches, tx chain, receipts, settings',
    up: `
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE spaces (space_id TEXT PRIMARY KEY, created_at BIGINT NOT NULL);
      CREATE TABLE branches (
        space_id TEXT NOT NULL,
        id BIGINT NOT NULL,
        doc_id TEXT NOT NULL,
        name TEXT NOT NULL,
        parent_id BIGINT,
        fork_seq BIGINT NOT NULL DEFAULT 0,
        fork_heads BYTEA NOT NULL DEFAULT '\\x',
        closed BOOLEAN NOT NULL DEFAULT false,
        merged_into TEXT,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (space_id, id),
        UNIQUE (space_id, doc_id, name)
      );
      CREATE TABLE actors (
        space_id TEXT NOT NULL,
        id BIGINT NOT NULL,
        actor BYTEA NOT NULL,
        max_seq BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (space_id, id),
        UNIQUE (space_id, actor)
      );
      CREATE TABLE log (
        space_id TEXT NOT NULL,
        branch_id BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        actor_id BIGINT NOT NULL,
        actor_seq BIGINT NOT NULL,
        deps BYTEA NOT NULL,
        epoch BIGINT NOT NULL,
        commit_to BIGINT NOT NULL,
        origin_branch BIGINT,
        origin_seq BIGINT,
        commit_from BIGINT,
        committed_at BIGINT,
        commit_heads BYTEA,
        bytes BYTEA,
        PRIMARY KEY (space_id, branch_id, seq)
      );
      CREATE INDEX log_by_hash ON log (space_id, hash, branch_id, seq);
      CREATE TABLE branch_actors (
        space_id TEXT NOT NULL,
        branch_id BIGINT NOT NULL,
        actor_id BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (space_id, branch_id, actor_id)
      );
      CREATE TABLE tx (
        space_id TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        committed_at BIGINT NOT NULL,
        tx_hash BYTEA NOT NULL,
        prev_tx_hash BYTEA NOT NULL,
        body_hash BYTEA NOT NULL,
        server_sig BYTEA NOT NULL,
        server_did TEXT NOT NULL,
        body BYTEA NOT NULL,
        PRIMARY KEY (space_id, epoch)
      );
      CREATE INDEX tx_by_time ON tx (space_id, committed_at);
      CREATE TABLE receipts (
        space_id TEXT NOT NULL,
        client_tx_id TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        receipt TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (space_id, client_tx_id)
      );
      CREATE INDEX receipts_by_age ON receipts (space_id, created_at);
    `,
    down: `
      DROP TABLE receipts;
      DROP TABLE tx;
      DROP TABLE branch_actors;
      DROP TABLE log;
      DROP TABLE actors;
      DROP TABLE branches;
      DROP TABLE spaces;
      DROP TABLE settings;
    `,
  },
  {
    version: 2,
    name: 'distribute by space when Citus is present',
    up: citusGuard(
      [
        ...REFERENCE_TABLES.map((t) => `PERFORM create_reference_table('${t}');`),
        `PERFORM create_distributed_table('spaces', 'space_id');`,
        ...V1_DISTRIBUTED.filter((t) => t !== 'spaces').map(
          (t) => `PERFORM create_distributed_table('${t}', 'space_id', colocate_with => 'spaces');`,
        ),
      ].join('\n      '),
    ),
    down: citusGuard(
      [...V1_DISTRIBUTED, ...REFERENCE_TABLES]
        .map((t) => `PERFORM undistribute_table('${t}');`)
        .join('\n      '),
    ),
  },
  {
    version: 3,
    name: 'snapshots',
    up: `
      CREATE TABLE snapshots (
        space_id TEXT NOT NULL,
        id BIGINT NOT NULL,
        branch_id BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        heads BYTEA NOT NULL,
        root_ref TEXT NOT NULL,
        pinned BOOLEAN NOT NULL DEFAULT false,
        created_at BIGINT NOT NULL,
        size BIGINT NOT NULL,
        bytes BYTEA NOT NULL,
        PRIMARY KEY (space_id, id)
      );
      CREATE INDEX snapshots_by_branch ON snapshots (space_id, branch_id, seq);
      ALTER TABLE spaces ADD COLUMN snapshot_counter BIGINT NOT NULL DEFAULT 0;
      ${citusGuard(`PERFORM create_distributed_table('snapshots', 'space_id', colocate_with => 'spaces');`)}
    `,
    down: `
      ${citusGuard(`PERFORM undistribute_table('snapshots');`)}
      ALTER TABLE spaces DROP COLUMN snapshot_counter;
      DROP TABLE snapshots;
    `,
  },
  {
    version: 4,
    name: 'write generation of a space',
    // Bumped by every write batch under the space's row lock: a process whose
    // writer cache was filled at generation g may keep it only if the next
    // batch finds g + 1 (nobody else wrote in between).
    up: `ALTER TABLE spaces ADD COLUMN write_gen BIGINT NOT NULL DEFAULT 0;`,
    down: `ALTER TABLE spaces DROP COLUMN write_gen;`,
  },
  {
    version: 5,
    name: 'document kind',
    // Every branch of a doc carries the doc's kind (fixed by its first commit);
    // docs written before kinds existed are Automerge docs.
    up: `ALTER TABLE branches ADD COLUMN kind TEXT NOT NULL DEFAULT 'automerge';`,
    down: `ALTER TABLE branches DROP COLUMN kind;`,
  },
  {
    version: 6,
    name: 'quarantined changes',
    // Changes accepted (their headers were valid) whose ops turned out not to apply.
    up: `
      CREATE TABLE quarantine (
        space_id TEXT NOT NULL,
        hash BYTEA NOT NULL,
        reason TEXT NOT NULL,
        found_at BIGINT NOT NULL,
        PRIMARY KEY (space_id, hash)
      );
      ${citusGuard(`PERFORM create_distributed_table('quarantine', 'space_id', colocate_with => 'spaces');`)}
    `,
    down: `
      ${citusGuard(`PERFORM undistribute_table('quarantine');`)}
      DROP TABLE quarantine;
    `,
  },
  {
    version: 7,
    name: "live clients' acknowledgements",
    // Per live client, doc and branch: the epoch up to which the client said
    // it holds the branch (SPEC §6 resume). Written in batches, pruned by age.
    up: `
      CREATE TABLE client_acks (
        space_id TEXT NOT NULL,
        client_id TEXT NOT NULL,
        doc_id TEXT NOT NULL,
        branch TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (space_id, client_id, doc_id, branch)
      );
      CREATE INDEX client_acks_by_age ON client_acks (space_id, updated_at);
      ${citusGuard(`PERFORM create_distributed_table('client_acks', 'space_id', colocate_with => 'spaces');`)}
    `,
    down: `
      ${citusGuard(`PERFORM undistribute_table('client_acks');`)}
      DROP TABLE client_acks;
    `,
  },
  ...PG_MIGRATIONS_SINCE_8,
];

import type { Migration } from '../migrations.js';

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
/** The Yjs tables of schema version 9, distributed by that migration (frozen too). */
const V9_YJS_TABLES = ['yjs_docs', 'yjs_journal', 'yjs_checkpoints', 'yjs_chunks'] as const;
/** The extension KV tables of schema version 10, distributed by that migration (frozen too). */
const V10_KV_TABLES = ['kv_installs', 'kv_namespaces', 'kv_records', 'kv_schemas'] as const;
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

const citusGuard = (body: string) => `
  DO $$
  BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
      ${body}
    END IF;
  END $$;`;

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
  {
    version: 8,
    name: 'index of commit rows',
    // History pages and version lookups ask for the commit rows of a branch
    // (commit_from IS NOT NULL: the last row of each commit). Without this
    // partial index they filter every change row of the range; with it, one
    // index entry per commit, covering the columns those queries read (plans
    // and timings in docs/QUERY-PLANS.md). Citus creates it on every shard.
    up: `CREATE INDEX IF NOT EXISTS log_commits ON log (space_id, branch_id, seq)
      INCLUDE (commit_from, epoch, committed_at, commit_heads)
      WHERE commit_from IS NOT NULL;`,
    down: `DROP INDEX log_commits;`,
  },
  {
    version: 9,
    name: 'Yjs documents',
    // Yjs docs (SPEC §11), as in SQLite's space migration 7: the doc row (last
    // epoch, pointer to the published checkpoint), the journal (one row per
    // committed update), checkpoint metadata and chunks; a checkpoint's chunks
    // are visible only once its meta row and the pointer are written
    // (pg-yjs-ops.ts). Doc ids sort by their bytes (COLLATE "C", on every
    // table so that they compare with each other), as in SQLite: listings are
    // byte-ordered and a prefix's ids are one run of the primary key, whatever
    // the database's default collation.
    up: `
      CREATE TABLE yjs_docs (
        space_id TEXT NOT NULL,
        doc_id TEXT COLLATE "C" NOT NULL,
        created_at BIGINT NOT NULL,
        last_epoch BIGINT NOT NULL DEFAULT 0,
        checkpoint_gen BIGINT,
        migration TEXT,
        PRIMARY KEY (space_id, doc_id)
      );
      CREATE TABLE yjs_journal (
        space_id TEXT NOT NULL,
        doc_id TEXT COLLATE "C" NOT NULL,
        epoch BIGINT NOT NULL,
        committed_at BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        bytes BYTEA NOT NULL,
        PRIMARY KEY (space_id, doc_id, epoch)
      );
      CREATE TABLE yjs_checkpoints (
        space_id TEXT NOT NULL,
        doc_id TEXT COLLATE "C" NOT NULL,
        generation BIGINT NOT NULL,
        epoch BIGINT NOT NULL,
        chunk_count BIGINT NOT NULL,
        total_bytes BIGINT NOT NULL,
        sha256 BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        state_vector BYTEA NOT NULL,
        PRIMARY KEY (space_id, doc_id, generation)
      );
      CREATE TABLE yjs_chunks (
        space_id TEXT NOT NULL,
        doc_id TEXT COLLATE "C" NOT NULL,
        generation BIGINT NOT NULL,
        idx BIGINT NOT NULL,
        bytes BYTEA NOT NULL,
        PRIMARY KEY (space_id, doc_id, generation, idx)
      );
      ${citusGuard(
        V9_YJS_TABLES.map(
          (t) => `PERFORM create_distributed_table('${t}', 'space_id', colocate_with => 'spaces');`,
        ).join('\n      '),
      )}
    `,
    down: `
      ${citusGuard(
        [...V9_YJS_TABLES]
          .reverse()
          .map((t) => `PERFORM undistribute_table('${t}');`)
          .join('\n      '),
      )}
      DROP TABLE yjs_chunks;
      DROP TABLE yjs_checkpoints;
      DROP TABLE yjs_journal;
      DROP TABLE yjs_docs;
    `,
  },
  {
    version: 10,
    name: 'extension KV storage',
    // Extension KV records (SPEC §12), as in SQLite's space migration 8: per
    // install its counters, per namespace its stored keys and revision floor,
    // the records, and the JSON Schemas by version (pg-kv-ops.ts). Install,
    // namespace and key sort by their bytes (COLLATE "C", on every table so
    // that they compare with each other), as in SQLite: listings are in UTF-8
    // byte order and one range of the primary key, whatever the database's
    // collation. A record's large columns go last. The partial expiry index
    // holds only records with a TTL: expired removal per install (oldest
    // first) and the per-install probes of the sweep and the metric
    // (docs/QUERY-PLANS.md). Citus creates it on every shard.
    up: `
      CREATE TABLE kv_installs (
        space_id TEXT NOT NULL,
        install TEXT COLLATE "C" NOT NULL,
        bytes_used BIGINT NOT NULL DEFAULT 0,
        keys BIGINT NOT NULL DEFAULT 0,
        namespaces BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (space_id, install)
      );
      CREATE TABLE kv_namespaces (
        space_id TEXT NOT NULL,
        install TEXT COLLATE "C" NOT NULL,
        namespace TEXT COLLATE "C" NOT NULL,
        keys BIGINT NOT NULL DEFAULT 0,
        revision_floor BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (space_id, install, namespace)
      );
      CREATE TABLE kv_records (
        space_id TEXT NOT NULL,
        install TEXT COLLATE "C" NOT NULL,
        namespace TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        revision BIGINT NOT NULL,
        ttl_expires_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        bytes BIGINT NOT NULL,
        metadata TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (space_id, install, namespace, key)
      );
      CREATE INDEX kv_records_expiry ON kv_records (space_id, install, ttl_expires_at)
        WHERE ttl_expires_at IS NOT NULL;
      CREATE TABLE kv_schemas (
        space_id TEXT NOT NULL,
        install TEXT COLLATE "C" NOT NULL,
        namespace TEXT COLLATE "C" NOT NULL,
        version BIGINT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        schema TEXT NOT NULL,
        PRIMARY KEY (space_id, install, namespace, version)
      );
      ${citusGuard(
        V10_KV_TABLES.map(
          (t) => `PERFORM create_distributed_table('${t}', 'space_id', colocate_with => 'spaces');`,
        ).join('\n      '),
      )}
    `,
    down: `
      ${citusGuard(
        [...V10_KV_TABLES]
          .reverse()
          .map((t) => `PERFORM undistribute_table('${t}');`)
          .join('\n      '),
      )}
      DROP TABLE kv_schemas;
      DROP TABLE kv_records;
      DROP TABLE kv_namespaces;
      DROP TABLE kv_installs;
    `,
  },
];

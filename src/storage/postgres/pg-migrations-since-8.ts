import type { Migration } from '../migrations.js';
import { citusGuard } from './pg-citus.js';

/** The Yjs tables of schema version 9, distributed by that migration (frozen: migrations never change). */
export const V9_YJS_TABLES = ['yjs_docs', 'yjs_journal', 'yjs_checkpoints', 'yjs_chunks'] as const;
/** The extension KV tables of schema version 10, distributed by that migration (frozen too). */
export const V10_KV_TABLES = ['kv_installs', 'kv_namespaces', 'kv_records', 'kv_schemas'] as const;

/**
 * PostgreSQL schema steps 8 and on (see pg-migrations.ts for the rules they
 * follow): the commit-rows index, Yjs documents, extension KV storage, the
 * commit-rows index without heads.
 */
export const PG_MIGRATIONS_SINCE_8: readonly Migration[] = [
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
  {
    version: 11,
    name: 'commit-rows index without heads',
    // Step 8 covered commit_heads too, but a btree entry holds at most 2704
    // bytes: a commit leaving ~85 or more heads (as many concurrent writers
    // merged, a valid state, SPEC §1) failed its whole write batch with
    // "index row size exceeds btree maximum". The heads are read from the
    // row instead (one heap fetch per commit row, still never a change row).
    // SQLite's index has no entry size limit and keeps them. (Down restores
    // step 8's index, which fails while such a commit is stored.)
    up: `DROP INDEX IF EXISTS log_commits;
      CREATE INDEX log_commits ON log (space_id, branch_id, seq)
      INCLUDE (commit_from, epoch, committed_at)
      WHERE commit_from IS NOT NULL;`,
    down: `DROP INDEX log_commits;
      CREATE INDEX log_commits ON log (space_id, branch_id, seq)
      INCLUDE (commit_from, epoch, committed_at, commit_heads)
      WHERE commit_from IS NOT NULL;`,
  },
];

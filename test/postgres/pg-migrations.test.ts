import { describe, expect, it } from 'vitest';
import {
  migrateDown,
  migrateUp,
  migrationStatus,
  type Migration,
} from '../../src/storage/migrations.js';
import { PgBackend } from '../../src/storage/postgres/pg-backend.js';
import {
  DISTRIBUTED_TABLES,
  LOCAL_TABLES,
  PG_MIGRATIONS,
  REFERENCE_TABLES,
} from '../../src/storage/postgres/pg-migrations.js';
import { MIGRATION_LOCK_KEY, pgMigrationExecutor } from '../../src/storage/postgres/pg-migrator.js';
import { CITUS_GUARD, lintCatalog, schemaShape, tableNames } from '../helpers/citus-lint.js';
import {
  dropDatabasesAfterAll,
  freshDatabase,
  withClient,
  migratedDatabase,
} from '../helpers/pg-databases.js';

/** Migrations of the PostgreSQL schema: numbered steps, each with an exact down, applied once under concurrent starts, Citus steps guarded. */

dropDatabasesAfterAll();

/** The tables of step 9 (Yjs docs), in the order it creates them. */
const YJS_TABLES = ['yjs_docs', 'yjs_journal', 'yjs_checkpoints', 'yjs_chunks'];
/** The tables of step 10 (extension KV storage), in the order it creates them. */
const KV_TABLES = ['kv_installs', 'kv_namespaces', 'kv_records', 'kv_schemas'];
/** The tables distributed by steps after 2 (each by its own step). */
const LATER = new Set(['snapshots', 'quarantine', 'client_acks', ...YJS_TABLES, ...KV_TABLES]);

/** The newest schema version, and the versions from..to. */
const LATEST = PG_MIGRATIONS.length;
const steps = (from: number, to = LATEST) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('PostgreSQL migrations', () => {
  it('numbers its steps densely: the schema, Citus distribution, snapshots, write generations, doc kinds, quarantine, client acks, the commit-rows index, Yjs docs, extension KV storage, the commit-rows index without heads', () => {
    expect(PG_MIGRATIONS.map((m) => m.version)).toEqual(steps(1));
    expect(LATEST).toBe(11);
  });

  it('the Citus steps are no-ops on plain PostgreSQL (2 changes nothing, 3 only adds snapshots)', async () => {
    const db = await freshDatabase();
    await withClient(db.url, async (client) => {
      const citus = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'citus'");
      expect(citus.rowCount).toBe(0);
      const exec = await pgMigrationExecutor(client);
      expect(await migrateUp(exec, PG_MIGRATIONS.slice(0, 1))).toEqual([1]);
      const before = await schemaShape(client);
      const v1Tables = await tableNames(client);
      expect(await migrateUp(exec, PG_MIGRATIONS.slice(0, 2))).toEqual([2]);
      expect(await schemaShape(client)).toEqual(before);
      expect(await migrationStatus(exec, PG_MIGRATIONS)).toEqual({
        current: 2,
        latest: LATEST,
        pending: steps(3),
      });
      expect(await migrateUp(exec, PG_MIGRATIONS)).toEqual(steps(3));
      expect(await tableNames(client)).toEqual(
        [...v1Tables, 'client_acks', 'quarantine', 'snapshots', ...YJS_TABLES, ...KV_TABLES].sort(),
      );
      expect(await lintCatalog(client)).toEqual([]);
      expect(await migrationStatus(exec, PG_MIGRATIONS)).toEqual({
        current: LATEST,
        latest: LATEST,
        pending: [],
      });
      for (const v of steps(3).reverse()) expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(v);
      expect(await schemaShape(client)).toEqual(before);
      expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(2);
      expect(await schemaShape(client)).toEqual(before);
    });
  });

  it('with Citus present, steps 2, 3, 6, 7, 9 and 10 distribute every table on space_id (simulated with stubs)', async () => {
    const [, step2, step3, , , step6, step7, , step9, step10] = PG_MIGRATIONS as Migration[] as [
      Migration,
      Migration,
      Migration,
      Migration,
      Migration,
      Migration,
      Migration,
      Migration,
      Migration,
      Migration,
    ];
    for (const [name, step] of [
      ['step 2', step2],
      ['step 3', step3],
      ['step 6', step6],
      ['step 7', step7],
      ['step 9', step9],
      ['step 10', step10],
    ] as const) {
      expect(
        step.up.split(CITUS_GUARD).length - 1,
        `${name}: up is guarded by the citus check`,
      ).toBe(1);
      expect(
        step.down.split(CITUS_GUARD).length - 1,
        `${name}: down is guarded by the citus check`,
      ).toBe(1);
    }
    const db = await migratedDatabase();
    await withClient(db.url, async (client) => {
      // Stand-ins with Citus's signatures that record their calls, outside `public`.
      await client.query(`
        CREATE SCHEMA citus_stub;
        CREATE TABLE citus_stub.calls (n BIGINT GENERATED ALWAYS AS IDENTITY, fn TEXT, tbl TEXT, col TEXT, colocate TEXT);
        CREATE FUNCTION citus_stub.create_reference_table(table_name regclass) RETURNS void
          LANGUAGE sql AS $$ INSERT INTO citus_stub.calls (fn, tbl) VALUES ('reference', table_name::text) $$;
        CREATE FUNCTION citus_stub.create_distributed_table(table_name regclass, distribution_column text,
            distribution_type text DEFAULT 'hash', colocate_with text DEFAULT 'default', shard_count int DEFAULT NULL)
          RETURNS void LANGUAGE sql AS $$
            INSERT INTO citus_stub.calls (fn, tbl, col, colocate)
            VALUES ('distribute', table_name::text, distribution_column, colocate_with) $$;
        CREATE FUNCTION citus_stub.undistribute_table(table_name regclass, cascade_via_foreign_keys boolean DEFAULT false)
          RETURNS void LANGUAGE sql AS $$ INSERT INTO citus_stub.calls (fn, tbl) VALUES ('undistribute', table_name::text) $$;
        SET search_path = public, citus_stub;
      `);
      type Call = { fn: string; tbl: string; col: string | null; colocate: string | null };
      const calls = async () =>
        (await client.query<Call>('SELECT fn, tbl, col, colocate FROM citus_stub.calls ORDER BY n'))
          .rows;
      const run = async (sql: string) => {
        await client.query('TRUNCATE citus_stub.calls');
        await client.query(sql.replace(CITUS_GUARD, 'true'));
        return calls();
      };
      const colocated = (t: string) => ({
        fn: 'distribute',
        tbl: t,
        col: 'space_id',
        colocate: 'spaces',
      });
      // Back to schema 2 first: steps 10, 9, 7, 6 and 3 undistribute their tables, then drop them.
      expect(await run(step10.down)).toEqual(
        [...KV_TABLES]
          .reverse()
          .map((t) => ({ fn: 'undistribute', tbl: t, col: null, colocate: null })),
      );
      expect(await tableNames(client)).not.toContain('kv_records');
      expect(await run(step9.down)).toEqual(
        [...YJS_TABLES]
          .reverse()
          .map((t) => ({ fn: 'undistribute', tbl: t, col: null, colocate: null })),
      );
      expect(await tableNames(client)).not.toContain('yjs_docs');
      expect(await run(step7.down)).toEqual([
        { fn: 'undistribute', tbl: 'client_acks', col: null, colocate: null },
      ]);
      expect(await run(step6.down)).toEqual([
        { fn: 'undistribute', tbl: 'quarantine', col: null, colocate: null },
      ]);
      expect(await run(step3.down)).toEqual([
        { fn: 'undistribute', tbl: 'snapshots', col: null, colocate: null },
      ]);
      expect(await tableNames(client)).not.toContain('snapshots');
      const up2 = await run(step2.up);
      expect(up2).toEqual([
        ...REFERENCE_TABLES.map((t) => ({ fn: 'reference', tbl: t, col: null, colocate: null })),
        { fn: 'distribute', tbl: 'spaces', col: 'space_id', colocate: 'default' },
        ...DISTRIBUTED_TABLES.filter((t) => t !== 'spaces' && !LATER.has(t)).map(colocated),
      ]);
      const up3 = await run(step3.up);
      expect(up3).toEqual([colocated('snapshots')]);
      expect(await tableNames(client)).toContain('snapshots');
      // (Steps 4 and 5 only add columns, and stayed.)
      const up6 = await run(step6.up);
      expect(up6).toEqual([colocated('quarantine')]);
      const up7 = await run(step7.up);
      expect(up7).toEqual([colocated('client_acks')]);
      // (Step 8 only adds an index, and stayed.)
      const up9 = await run(step9.up);
      expect(up9).toEqual(YJS_TABLES.map(colocated));
      const up10 = await run(step10.up);
      expect(up10).toEqual(KV_TABLES.map(colocated));
      // Over all steps, every distributed table is distributed exactly once, on space_id.
      const distributed = [...up2, ...up3, ...up6, ...up7, ...up9, ...up10]
        .filter((c) => c.fn === 'distribute')
        .map((c) => c.tbl);
      expect([...distributed].sort()).toEqual([...DISTRIBUTED_TABLES].sort());
      // Down in reverse order undoes all of it.
      const undone = [
        ...(await run(step10.down)),
        ...(await run(step9.down)),
        ...(await run(step7.down)),
        ...(await run(step6.down)),
        ...(await run(step3.down)),
        ...(await run(step2.down)),
      ].map((c) => `${c.fn} ${c.tbl}`);
      expect(undone[0]).toBe('undistribute kv_schemas');
      expect(undone.sort()).toEqual(
        [...DISTRIBUTED_TABLES, ...REFERENCE_TABLES].map((t) => `undistribute ${t}`).sort(),
      );
      // The migration marker stays on the coordinator.
      for (const t of LOCAL_TABLES) expect(undone).not.toContain(`undistribute ${t}`);
      await client.query('DROP SCHEMA citus_stub CASCADE');
    });
  });

  it('migrate down then up works for every step', async () => {
    const db = await migratedDatabase();
    await withClient(db.url, async (client) => {
      const exec = await pgMigrationExecutor(client);
      const full = await schemaShape(client);
      expect(await migrateUp(exec, PG_MIGRATIONS), 'up is idempotent').toEqual([]);
      const shapes = new Set([JSON.stringify(full)]);
      for (const v of steps(3).reverse()) {
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(v);
        const shape = JSON.stringify(await schemaShape(client));
        expect(shapes.has(shape), `down of step ${v} changes the schema`).toBe(false);
        shapes.add(shape);
      }
      expect(await migrationStatus(exec, PG_MIGRATIONS)).toEqual({
        current: 2,
        latest: LATEST,
        pending: steps(3),
      });
      const v2 = await schemaShape(client);
      expect(v2).not.toEqual(full);
      expect(await tableNames(client)).not.toContain('snapshots');
      expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(2);
      expect(await migrationStatus(exec, PG_MIGRATIONS)).toEqual({
        current: 1,
        latest: LATEST,
        pending: steps(2),
      });
      expect(await schemaShape(client)).toEqual(v2);
      expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(1);
      expect(await tableNames(client)).toEqual(['schema_migrations']);
      expect(await migrateDown(exec, PG_MIGRATIONS)).toBeUndefined();
      expect(await migrationStatus(exec, PG_MIGRATIONS)).toEqual({
        current: 0,
        latest: LATEST,
        pending: steps(1),
      });
      expect(await migrateUp(exec, PG_MIGRATIONS)).toEqual(steps(1));
      expect(await schemaShape(client)).toEqual(full);
      expect(await lintCatalog(client)).toEqual([]);
      // Steps down and up again, with data in the tables.
      await client.query("INSERT INTO spaces (space_id, created_at) VALUES ('did:key:z6MkX', 1)");
      expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(LATEST);
      expect(await migrateUp(exec, PG_MIGRATIONS)).toEqual([LATEST]);
      for (const v of steps(2).reverse()) expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(v);
      expect(await migrateUp(exec, PG_MIGRATIONS)).toEqual(steps(2));
      expect(await schemaShape(client)).toEqual(full);
      expect((await client.query('SELECT space_id FROM spaces')).rows).toEqual([
        { space_id: 'did:key:z6MkX' },
      ]);
    });
    // A backend opens the re-migrated database.
    const backend = await PgBackend.open({ connectionString: db.url, maxConnections: 1 });
    try {
      expect(await backend.schemaVersion()).toBe(LATEST);
    } finally {
      await backend.close();
    }
  });

  it('concurrent starts apply each migration exactly once', async () => {
    for (const starts of [2, 4]) {
      const db = await freshDatabase();
      const backends = await Promise.all(
        Array.from({ length: starts }, () =>
          PgBackend.open({ connectionString: db.url, maxConnections: 2 }),
        ),
      );
      try {
        await withClient(db.url, async (client) => {
          const rows = (
            await client.query<{ version: number; name: string }>(
              'SELECT version, name FROM schema_migrations ORDER BY version',
            )
          ).rows;
          expect(
            rows.map((r) => r.version),
            `${starts} concurrent starts`,
          ).toEqual(steps(1));
          expect(rows.map((r) => r.name)).toEqual(PG_MIGRATIONS.map((m) => m.name));
          // pg_locks lists the whole cluster: other test files migrate their
          // own databases at the same time (this flaked before the filter).
          const held = await client.query(
            `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
            [MIGRATION_LOCK_KEY],
          );
          expect(held.rowCount, 'the migration lock is released').toBe(0);
          expect(await lintCatalog(client)).toEqual([]);
        });
        for (const b of backends) expect(await b.schemaVersion()).toBe(LATEST);
      } finally {
        await Promise.all(backends.map((b) => b.close()));
      }
    }
  });
});

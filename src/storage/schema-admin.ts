import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { CairnError } from '../core/errors.js';
import {
  migrateDown,
  migrateUp,
  migrationStatus,
  type Migration,
  type MigrationExecutor,
  type MigrationStatus,
} from './migrations.js';
import { PG_MIGRATIONS } from './postgres/pg-migrations.js';
import { pgMigrationExecutor, withMigrationLock } from './postgres/pg-migrator.js';
import { DataDirLock } from './sqlite/data-dir.js';
import { REGISTRY_FILE, SPACES_DIR } from './sqlite/sqlite-backend.js';
import { sqliteMigrationExecutor } from './sqlite/sqlite-migrator.js';
import { REGISTRY_MIGRATIONS, SPACE_MIGRATIONS } from './sqlite/space-migrations.js';

/** Where the schemas live: a SQLite data dir or a PostgreSQL database. */
export type SchemaTarget = { dataDir: string } | { databaseUrl: string };

/** One schema's state: the registry, the space files (SQLite), or the database (PostgreSQL). */
export interface SchemaState extends MigrationStatus {
  schema: 'registry' | 'spaces' | 'database';
  /** SQLite space files: how many are at each version. */
  files?: Record<string, number>;
}

/** What `cairn migrate` did to one schema. */
export interface SchemaChange {
  schema: SchemaState['schema'];
  /** Versions applied (up) or reverted (down), per file for space files. */
  versions: number[];
  files?: number;
}

/** The lowest version `down` leaves: below it the base tables (and every space's data) would go. */
const FLOOR_VERSION = 1;

/**
 * `cairn migrate status|up|down` (SPEC §8) against a data dir whose server
 * is stopped (the data dir lock is taken: a running server is refused) or a
 * PostgreSQL database (under the migration advisory lock). `up` applies
 * every pending step; `down` reverts exactly the newest step — of the space
 * schema on SQLite, in every space file — and never below version 1.
 */
export async function schemaStatus(target: SchemaTarget): Promise<SchemaState[]> {
  return withSchemas(target, async (schemas) => {
    const out: SchemaState[] = [];
    for (const s of schemas) out.push(await s.status());
    return out;
  });
}

export async function schemaUp(target: SchemaTarget): Promise<SchemaChange[]> {
  return withSchemas(target, async (schemas) => {
    const out: SchemaChange[] = [];
    for (const s of schemas) out.push(await s.apply('up'));
    return out;
  });
}

export async function schemaDown(target: SchemaTarget): Promise<SchemaChange[]> {
  return withSchemas(target, async (schemas) => {
    const last = schemas.at(-1) as Schema;
    return [await last.apply('down')];
  });
}

interface Schema {
  status(): Promise<SchemaState>;
  apply(direction: 'up' | 'down'): Promise<SchemaChange>;
}

async function withSchemas<T>(target: SchemaTarget, fn: (s: Schema[]) => Promise<T>): Promise<T> {
  if ('databaseUrl' in target) return withPg(target.databaseUrl, fn);
  return withSqliteFiles(target.dataDir, async ([registryFile, ...files]) => {
    const registry = new Database(registryFile as string);
    try {
      return await fn([
        single('registry', sqliteMigrationExecutor(registry), REGISTRY_MIGRATIONS),
        spaceFiles(files),
      ]);
    } finally {
      registry.close();
    }
  });
}

async function withPg<T>(url: string, fn: (s: Schema[]) => Promise<T>): Promise<T> {
  return withPgClient(url, async (client) => {
    const exec = await pgMigrationExecutor(client);
    return withMigrationLock(client, () => fn([single('database', exec, PG_MIGRATIONS)]));
  });
}

/** One connection for a command's work; a refused connection is one clear error. */
export async function withPgClient<T>(
  url: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new CairnError(
      'StorageUnavailable',
      `cannot connect to the database: ${(err as Error).message}`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The registry and every space file of a data dir, with the data dir lock held. */
export async function withSqliteFiles<T>(
  dir: string,
  fn: (files: string[]) => T | Promise<T>,
): Promise<T> {
  const dataDir = path.resolve(dir);
  const registry = path.join(dataDir, REGISTRY_FILE);
  if (!fs.existsSync(registry)) {
    throw new CairnError(
      'ValidationError',
      `${dataDir} is not a cairn data dir (no ${REGISTRY_FILE})`,
    );
  }
  const lock = DataDirLock.acquire(dataDir);
  try {
    const spacesDir = path.join(dataDir, SPACES_DIR);
    const spaces = fs.existsSync(spacesDir)
      ? fs
          .readdirSync(spacesDir)
          .filter((f) => f.endsWith('.sqlite'))
          .map((f) => path.join(spacesDir, f))
      : [];
    return await fn([registry, ...spaces]);
  } finally {
    lock.release();
  }
}

function single(
  schema: SchemaState['schema'],
  exec: MigrationExecutor,
  migrations: readonly Migration[],
): Schema {
  return {
    status: async () => ({ schema, ...(await migrationStatus(exec, migrations)) }),
    apply: async (direction) => ({ schema, versions: await step(exec, migrations, direction) }),
  };
}

/** Every space file's schema, each migrated on its own (a file is one database). */
function spaceFiles(files: readonly string[]): Schema {
  const each = async <T>(fn: (exec: MigrationExecutor) => Promise<T>): Promise<T[]> => {
    const out: T[] = [];
    for (const file of files) {
      const db = new Database(file);
      try {
        out.push(await fn(sqliteMigrationExecutor(db)));
      } finally {
        db.close();
      }
    }
    return out;
  };
  return {
    async status() {
      const states = await each((exec) => migrationStatus(exec, SPACE_MIGRATIONS));
      const versions: Record<string, number> = {};
      for (const s of states) versions[s.current] = (versions[s.current] ?? 0) + 1;
      const current =
        states.length > 0 ? Math.min(...states.map((s) => s.current)) : SPACE_MIGRATIONS.length;
      const pending = SPACE_MIGRATIONS.filter((m) => m.version > current).map((m) => m.version);
      return {
        schema: 'spaces',
        current,
        latest: SPACE_MIGRATIONS.length,
        pending,
        files: versions,
      };
    },
    async apply(direction) {
      const done = await each((exec) => step(exec, SPACE_MIGRATIONS, direction));
      return {
        schema: 'spaces',
        versions: [...new Set(done.flat())].sort((a, b) => a - b),
        files: files.length,
      };
    },
  };
}

async function step(
  exec: MigrationExecutor,
  migrations: readonly Migration[],
  direction: 'up' | 'down',
): Promise<number[]> {
  if (direction === 'up') return migrateUp(exec, migrations);
  const { current } = await migrationStatus(exec, migrations);
  if (current <= FLOOR_VERSION) {
    throw new CairnError(
      'ValidationError',
      `the schema is at version ${current}: migrate down stops at ${FLOOR_VERSION} (below it the base tables, and every space's data, would be dropped)`,
    );
  }
  const reverted = await migrateDown(exec, migrations);
  return reverted === undefined ? [] : [reverted];
}

/**
 * `cairn analyze`: refreshes the planner's statistics — SQLite `ANALYZE` in
 * the registry and every space file (data dir lock held), PostgreSQL
 * `ANALYZE` of the database. Returns how many databases were analyzed.
 */
export async function analyzeStorage(target: SchemaTarget): Promise<{ databases: number }> {
  if ('databaseUrl' in target) {
    return withPgClient(target.databaseUrl, async (client) => {
      await client.query('ANALYZE');
      return { databases: 1 };
    });
  }
  return withSqliteFiles(target.dataDir, (files) => {
    for (const file of files) {
      const db = new Database(file);
      try {
        db.exec('ANALYZE');
      } finally {
        db.close();
      }
    }
    return { databases: files.length };
  });
}

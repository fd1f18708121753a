import pg from 'pg';
import { silentLogger, type Logger } from '../../core/logger.js';
import { PgCommitListener } from './pg-commit-listener.js';
import { assert } from '../../core/assert.js';
import { isSpaceId } from '../../core/ids.js';
import { LruMap } from '../../core/lru-map.js';
import { migrateUp, migrationStatus } from '../migrations.js';
import type { CommitWatcher, SpaceLease, StorageBackend } from '../types.js';
import { mapPgError } from './pg-errors.js';
import { PG_MIGRATIONS } from './pg-migrations.js';
import { pgMigrationExecutor, withMigrationLock } from './pg-migrator.js';
import { PgSpaceStore } from './pg-space-store.js';

export interface PgBackendOptions {
  connectionString: string;
  /** Connections in the pool (default 10). */
  maxConnections?: number;
  logger?: Logger;
}

const INT8_OID = 20;
/** Spaces remembered as existing without a query. */
const KNOWN_SPACES_KEPT = 100_000;
/** Space stores (and their writer caches) kept between batches. */
const STORES_KEPT = 10_000;

/** Every BIGINT cairn stores (seqs, epochs, ms, ids) is a safe integer. */
function typeParser(oid: number, format?: string) {
  if (oid === INT8_OID) return (value: string) => Number(value);
  return pg.types.getTypeParser(oid, format as 'text');
}

/** How long /readyz waits for the database. */
const PROBE_TIMEOUT_MS = 2000;

/**
 * PostgreSQL: one database for every space, `space_id` on every row.
 * Several cairn processes may share the database; each space's writes are
 * serialized by a row lock on its `spaces` row.
 */
export class PgBackend implements StorageBackend {
  readonly kind = 'postgres' as const;
  /** Spaces known to exist (bounded: a forgotten one is looked up again). */
  private readonly known = new LruMap<string, true>(KNOWN_SPACES_KEPT);
  /**
   * Per-space stores, kept so a space's writer cache survives between its
   * batches; bounded (a store holds no connection, so dropping one only
   * costs its cache).
   */
  private readonly stores = new LruMap<string, PgSpaceStore>(STORES_KEPT);

  private constructor(
    private readonly pool: pg.Pool,
    private readonly options: PgBackendOptions,
  ) {}

  static async open(options: PgBackendOptions): Promise<PgBackend> {
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      types: { getTypeParser: typeParser } as pg.CustomTypesConfig,
    });
    // A client losing its connection (idle in the pool, or checked out by a
    // batch) emits 'error'; unheard, that would crash the process. The failing
    // query reports the error, and the pool drops such clients on release.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    try {
      const client = await pool.connect();
      try {
        await withMigrationLock(client, async () =>
          migrateUp(await pgMigrationExecutor(client), PG_MIGRATIONS),
        );
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end();
      throw mapPgError(err);
    }
    return new PgBackend(pool, options);
  }

  async acquireSpace(
    spaceId: string,
    options: { create: boolean },
  ): Promise<SpaceLease | undefined> {
    assert(isSpaceId(spaceId), 'space id must be validated before it reaches storage');
    if (!options.create && !this.known.has(spaceId)) {
      const found = await this.query('SELECT 1 FROM spaces WHERE space_id = $1', [spaceId]);
      if (found.length === 0) return undefined;
      this.known.set(spaceId, true);
    }
    let store = this.stores.get(spaceId);
    if (!store) {
      store = new PgSpaceStore(spaceId, this.pool);
      this.stores.set(spaceId, store);
    }
    return { store, isNew: false, release: () => undefined };
  }

  /** The space row is created inside the batch and rolls back with it: nothing to settle. */
  async settleNewSpace(): Promise<void> {}

  async listSpaces(): Promise<string[]> {
    return (await this.query('SELECT space_id FROM spaces ORDER BY space_id', [])).map(
      (r) => r.space_id as string,
    );
  }

  async getSetting(key: string): Promise<string | undefined> {
    const [r] = await this.query('SELECT value FROM settings WHERE key = $1', [key]);
    return r?.value as string | undefined;
  }

  async putSettingIfAbsent(key: string, value: string): Promise<string> {
    await this.query(
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
      [key, value],
    );
    return (await this.getSetting(key)) as string;
  }

  openHandles(): number {
    return this.pool.totalCount;
  }

  async probeWritable(): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('database did not answer within 2 s'), PROBE_TIMEOUT_MS);
    });
    const probe = this.pool.query('SELECT 1').then(
      () => undefined,
      (err: unknown) => `database unreachable: ${(err as Error).message}`,
    );
    try {
      return await Promise.race([probe, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async schemaVersion(): Promise<number> {
    const client = await this.pool.connect();
    try {
      return (await migrationStatus(await pgMigrationExecutor(client), PG_MIGRATIONS)).current;
    } finally {
      client.release();
    }
  }

  /** Commits announced by every process on this database (this one's too). */
  async watchCommits(watcher: CommitWatcher): Promise<() => Promise<void>> {
    const listener = new PgCommitListener(
      this.options.connectionString,
      watcher,
      this.options.logger ?? silentLogger,
    );
    await listener.start();
    return () => listener.stop();
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async query(text: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    try {
      return (await this.pool.query(text, values)).rows;
    } catch (err) {
      throw mapPgError(err);
    }
  }
}

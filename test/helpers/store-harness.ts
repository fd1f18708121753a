import { afterAll, beforeAll } from 'vitest';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { PgBackend } from '../../src/storage/postgres/pg-backend.js';
import { SqliteBackend } from '../../src/storage/sqlite/sqlite-backend.js';
import type { SpaceReadOps, SpaceWriteOps, StorageBackend } from '../../src/storage/types.js';
import { createTestDatabase, TEST_BACKEND, type TestDatabase } from './backend.js';
import { makeTempDir } from './temp-dir.js';

/**
 * A storage backend of the run's kind opened directly (no engine), for the
 * conformance tests of one storage interface: `write` runs one batch on a
 * space's writer as the space writer does (committed unless told not to),
 * `read` reads committed state. Opened before the file's tests, closed after.
 */
export function storeHarness(name: string, options: { icuLocale?: string } = {}) {
  let backend: StorageBackend | undefined;
  let database: TestDatabase | undefined;
  const temp = makeTempDir(`cairn-${name}-`);
  let spaces = 0;
  beforeAll(async () => {
    if (TEST_BACKEND === 'postgres') {
      database = await createTestDatabase(
        options.icuLocale ? { icuLocale: options.icuLocale } : {},
      );
      backend = await PgBackend.open({ connectionString: database.url, maxConnections: 4 });
    } else {
      backend = await SqliteBackend.open({ dataDir: temp.dir, sync: 'normal' });
    }
  });
  afterAll(async () => {
    await backend?.close();
    await database?.drop();
    temp.cleanup();
  });
  const opened = () => {
    if (!backend) throw new Error('the store harness is opened in beforeAll');
    return backend;
  };
  return {
    get backend(): StorageBackend {
      return opened();
    },
    get database(): TestDatabase | undefined {
      return database;
    },
    /** The SQLite data dir (unused on PostgreSQL). */
    dataDir: temp.dir,
    /** A fresh space per test: nothing leaks between them. */
    newSpace: () => `did:key:z6Mk${name.replace(/[^A-Za-z0-9]/g, '')}${++spaces}`,
    async write<T>(
      space: string,
      fn: (ops: SpaceWriteOps) => Promise<T>,
      commit = true,
    ): Promise<T> {
      const b = opened();
      const lease = await b.acquireSpace(space, { create: true });
      if (!lease) throw new Error('no lease');
      let committed = false;
      try {
        const result = await lease.store.writeBatch(async (ops) => ({
          result: await fn(ops),
          commit,
        }));
        committed = commit;
        return result;
      } finally {
        lease.release();
        if (lease.isNew) await b.settleNewSpace(space, committed);
      }
    },
    read: <T>(space: string, fn: (ops: SpaceReadOps) => Promise<T>) =>
      withSpaceReader(opened(), space, fn),
  };
}

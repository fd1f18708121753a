import type pg from 'pg';
import type { Migration, MigrationExecutor } from '../migrations.js';

/** Session advisory lock key held while migrating, so concurrent starts apply each step once. */
export const MIGRATION_LOCK_KEY = 0x6361_6972; // "cair"

/** Runs migrations through one client; each step and its record in one transaction. */
export async function pgMigrationExecutor(client: pg.ClientBase): Promise<MigrationExecutor> {
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
  )`);
  return {
    appliedVersions: async () =>
      (
        await client.query<{ version: number }>(
          'SELECT version FROM schema_migrations ORDER BY version',
        )
      ).rows.map((r) => r.version),
    run: async (m: Migration, direction) => {
      await client.query('BEGIN');
      try {
        const done = await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [
          m.version,
        ]);
        if ((direction === 'up') !== (done.rowCount === 1)) {
          await client.query(direction === 'up' ? m.up : m.down);
          if (direction === 'up') {
            await client.query(
              'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
              [m.version, m.name, Date.now()],
            );
          } else {
            await client.query('DELETE FROM schema_migrations WHERE version = $1', [m.version]);
          }
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    },
  };
}

/** Runs `fn` holding the migration lock (other processes starting at once wait). */
export async function withMigrationLock<T>(
  client: pg.ClientBase,
  fn: () => Promise<T>,
): Promise<T> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
}

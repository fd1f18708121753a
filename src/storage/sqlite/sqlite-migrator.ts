import type Database from 'better-sqlite3';
import type { Migration, MigrationExecutor } from '../migrations.js';

/** Runs migrations on one SQLite database; each step and its record in one transaction. */
export function sqliteMigrationExecutor(db: Database.Database): MigrationExecutor {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  return {
    appliedVersions: async () =>
      (
        db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as {
          version: number;
        }[]
      ).map((r) => r.version),
    run: async (m: Migration, direction) => {
      const step = db.transaction(() => {
        // Re-checked under the write lock: another process may have just run this step.
        const done = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version);
        if ((direction === 'up') === (done !== undefined)) return;
        if (direction === 'up') {
          db.exec(m.up);
          db.prepare(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
          ).run(m.version, m.name, Date.now());
        } else {
          db.exec(m.down);
          db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(m.version);
        }
      });
      // IMMEDIATE: two processes opening the same new file must not both apply a step.
      step.immediate();
    },
  };
}

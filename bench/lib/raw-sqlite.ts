import path from 'node:path';
import Database from 'better-sqlite3';
import { measureLoop, withTempDir, type Phase, type Rate } from './timing.js';

export type SyncMode = 'full' | 'normal';

/**
 * The baseline: plain better-sqlite3 in its own fresh file, WAL and the given
 * `synchronous`, one row per transaction (BEGIN; INSERT; COMMIT), the row
 * being one change's bytes. This is the durable-commit rate of the machine.
 */
export async function measureRawOneRowPerTx(
  sync: SyncMode,
  changes: readonly Uint8Array[],
  phase: Phase,
): Promise<Rate> {
  if (changes.length === 0) throw new Error('no changes to insert');
  return withTempDir('cairn-bench-raw-', async (dir) => {
    const db = new Database(path.join(dir, 'raw.sqlite'));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
      db.exec('CREATE TABLE changes (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)');
      const begin = db.prepare('BEGIN');
      const insert = db.prepare('INSERT INTO changes (bytes) VALUES (?)');
      const commit = db.prepare('COMMIT');
      let next = 0;
      return measureLoop(phase, () => {
        begin.run();
        insert.run(changes[next % changes.length]);
        commit.run();
        next++;
      });
    } finally {
      db.close();
    }
  });
}

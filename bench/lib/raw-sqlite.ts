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

/**
 * What a durable commit costs on this disk, as a latency floor for live
 * benches: plain better-sqlite3 in its own fresh file, WAL, `synchronous =
 * FULL`, one `bytes`-long row per transaction, `count` transactions started
 * `1000 / perSecond` ms apart; each sample is one BEGIN…COMMIT (fsync
 * included), in ms.
 */
export async function measureRawCommitLatency(
  count: number,
  perSecond: number,
  bytes: number,
): Promise<number[]> {
  return withTempDir('cairn-bench-raw-latency-', async (dir) => {
    const db = new Database(path.join(dir, 'raw.sqlite'));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec('CREATE TABLE changes (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)');
      const begin = db.prepare('BEGIN');
      const insert = db.prepare('INSERT INTO changes (bytes) VALUES (?)');
      const commit = db.prepare('COMMIT');
      const row = Buffer.alloc(bytes, 7);
      const samples: number[] = [];
      const t0 = performance.now();
      for (let i = 0; i < count; i++) {
        const wait = t0 + (i * 1000) / perSecond - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const start = performance.now();
        begin.run();
        insert.run(row);
        commit.run();
        samples.push(performance.now() - start);
      }
      return samples;
    } finally {
      db.close();
    }
  });
}

import pg from 'pg';
import { nowMs, rateOf, type Bounds, type Phase, type Rate } from './timing.js';

const INSERT = {
  name: 'raw_insert',
  text: 'INSERT INTO changes (bytes) VALUES ($1)',
};

/**
 * The PostgreSQL baseline: plain `pg` clients on a fresh database (a
 * one-table schema: identity key + bytea), each doing single-row
 * transactions — BEGIN; INSERT one change's bytes (a named, prepared
 * statement); COMMIT — and awaiting each before the next. `clients` is how
 * many run concurrently, each on its own connection held for the whole
 * measurement (so 64 clients = 64 connections, no pool queueing).
 */
export async function measureRawPgOneRowPerTx(
  databaseUrl: string,
  changes: readonly Uint8Array[],
  phase: Phase,
  clients: number,
): Promise<Rate> {
  if (changes.length === 0) throw new Error('no changes to insert');
  if (clients < 1) throw new Error('no clients');
  const conns: pg.Client[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      const c = new pg.Client({ connectionString: databaseUrl });
      conns.push(c);
      await c.connect();
    }
    await (conns[0] as pg.Client).query(
      'CREATE TABLE changes (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, bytes BYTEA NOT NULL)',
    );
    const rows = changes.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    let next = 0;
    const loop = async (bounds: Bounds): Promise<Rate> => {
      const start = nowMs();
      const deadline = start + bounds.seconds * 1000;
      let started = 0;
      const worker = async (client: pg.Client): Promise<number> => {
        let done = 0;
        while (started < bounds.maxOps && nowMs() < deadline) {
          started++;
          const row = rows[next++ % rows.length];
          await client.query('BEGIN');
          await client.query({ ...INSERT, values: [row] });
          await client.query('COMMIT');
          done++;
        }
        return done;
      };
      const counts = await Promise.all(conns.map(worker));
      return rateOf(
        counts.reduce((a, b) => a + b, 0),
        nowMs() - start,
      );
    };
    await loop(phase.warmup);
    return await loop(phase.measure);
  } finally {
    await Promise.allSettled(conns.map((c) => c.end()));
  }
}

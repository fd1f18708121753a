import type pg from 'pg';
import type { BatchResult, ChainTip, SpaceStore, SpaceWriteOps } from '../types.js';
import { mapPgError } from './pg-errors.js';
import { PgSpaceOps } from './pg-space-ops.js';

/**
 * One space on PostgreSQL. Reads go through the pool (committed data only);
 * a write batch takes a client, opens a transaction and locks the space's row
 * (creating it on the first write), which serializes batches of one space
 * across every cairn process on the database. The row insert rolls back with
 * a batch that commits nothing, so a refused transaction creates no space.
 */
export class PgSpaceStore implements SpaceStore {
  readonly reader: PgSpaceOps;

  constructor(
    readonly spaceId: string,
    private readonly pool: pg.Pool,
  ) {
    this.reader = new PgSpaceOps(pool, spaceId);
  }

  async writeBatch<T>(fn: (ops: SpaceWriteOps) => Promise<BatchResult<T>>): Promise<T> {
    let client: pg.PoolClient | undefined;
    let broken: Error | undefined;
    try {
      client = await this.pool.connect();
      await client.query('BEGIN');
      const tip = await this.lockSpace(client);
      const { result, commit } = await fn(new PgSpaceOps(client, this.spaceId, tip));
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      return result;
    } catch (err) {
      if (client) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr as Error;
        }
      }
      throw mapPgError(err);
    } finally {
      // A client whose rollback failed is not returned to the pool.
      client?.release(broken);
    }
  }

  /**
   * Locks the space's row (creating it on the first write), then reads the
   * chain tip. Two statements on purpose: a statement that waited for the lock
   * keeps the snapshot it started with (READ COMMITTED), so a tip read in the
   * same statement could predate the commit of the process that held the lock.
   */
  private async lockSpace(client: pg.PoolClient): Promise<ChainTip> {
    const lock = {
      name: 'cairn_lockSpace',
      text: 'SELECT 1 FROM spaces WHERE space_id = $1 FOR UPDATE',
      values: [this.spaceId],
    };
    const found = await client.query(lock);
    if (found.rowCount !== 1) {
      await client.query({
        name: 'cairn_createSpace',
        text: 'INSERT INTO spaces (space_id, created_at) VALUES ($1, $2) ON CONFLICT (space_id) DO NOTHING',
        values: [this.spaceId, Date.now()],
      });
      await client.query(lock);
    }
    return new PgSpaceOps(client, this.spaceId).chainTip();
  }
}

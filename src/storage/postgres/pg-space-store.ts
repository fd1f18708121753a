import type pg from 'pg';
import {
  EMPTY_CHAIN_TIP,
  type BatchResult,
  type ChainTip,
  type SpaceStore,
  type SpaceWriteOps,
} from '../types.js';
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

  /** Locks the space's row (creating it on the first write) and reads the chain tip with it. */
  private async lockSpace(client: pg.PoolClient): Promise<ChainTip> {
    const lock = {
      name: 'cairn_lockSpace',
      text: `SELECT t.epoch, t.tx_hash, t.committed_at FROM spaces s
        LEFT JOIN LATERAL (SELECT epoch, tx_hash, committed_at FROM tx
          WHERE tx.space_id = s.space_id ORDER BY epoch DESC LIMIT 1) t ON true
        WHERE s.space_id = $1 FOR UPDATE OF s`,
      values: [this.spaceId],
    };
    let found = await client.query(lock);
    if (found.rowCount !== 1) {
      await client.query({
        name: 'cairn_createSpace',
        text: 'INSERT INTO spaces (space_id, created_at) VALUES ($1, $2) ON CONFLICT (space_id) DO NOTHING',
        values: [this.spaceId, Date.now()],
      });
      found = await client.query(lock);
    }
    const r = found.rows[0] as {
      epoch: number | null;
      tx_hash: Buffer | null;
      committed_at: number | null;
    };
    if (r.epoch === null) return EMPTY_CHAIN_TIP;
    return { epoch: r.epoch, txHash: r.tx_hash as Buffer, committedAt: r.committed_at as number };
  }
}

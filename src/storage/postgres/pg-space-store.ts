import type pg from 'pg';
import type { BatchResult, SpaceStore, SpaceWriteOps } from '../types.js';
import { WriterCache } from '../writer-cache.js';
import { mapPgError } from './pg-errors.js';
import { PgSpaceOps } from './pg-space-ops.js';

/**
 * One space on PostgreSQL. Reads go through the pool (committed data only);
 * a write batch takes a client, opens a transaction and locks the space's row
 * (creating it on the first write), which serializes batches of one space
 * across every cairn process on the database. The row insert rolls back with
 * a batch that commits nothing, so a refused transaction creates no space.
 *
 * Locking also bumps the space's write generation. The store keeps a
 * `WriterCache` across its batches only while each batch finds the
 * generation its own last commit left (no other process wrote the space in
 * between); otherwise, and after any rollback, it starts empty. Under load
 * this turns most per-transaction reads (branch row, actor seqs, actor ids)
 * into cache hits, which on PostgreSQL are round trips saved.
 */
export class PgSpaceStore implements SpaceStore {
  readonly reader: PgSpaceOps;
  private readonly cache = new WriterCache();
  /** The write generation the cache is valid for (the last committed batch's). */
  private cacheGen: number | undefined;
  private cacheInUse = false;

  constructor(
    readonly spaceId: string,
    private readonly pool: pg.Pool,
  ) {
    this.reader = new PgSpaceOps(pool, spaceId);
  }

  async writeBatch<T>(fn: (ops: SpaceWriteOps) => Promise<BatchResult<T>>): Promise<T> {
    // The space's writer queue runs one batch at a time; should another overlap
    // it, that one goes without the cache (its write still bumps the generation).
    const cached = !this.cacheInUse;
    let client: pg.PoolClient | undefined;
    let broken: Error | undefined;
    try {
      if (cached) this.cacheInUse = true;
      client = await this.pool.connect();
      await client.query('BEGIN');
      const gen = await this.lockSpace(client);
      if (cached) this.takeCacheAt(gen);
      // The chain tip is read by the batch's first chainTip(), a statement after the
      // lock (it must see what the lock's previous holder committed), unless the
      // cache holds it: then nobody else wrote since this store's own last commit.
      const ops = new PgSpaceOps(client, this.spaceId, cached ? this.cache : undefined);
      const { result, commit } = await fn(ops);
      if (commit) await ops.flush();
      if (!commit && cached) this.cache.clear();
      await client.query(commit ? commitStatement(client, this.spaceId, ops) : 'ROLLBACK');
      if (commit && cached) this.cacheGen = gen;
      return result;
    } catch (err) {
      // Whatever the cache saw may not have committed (a failed COMMIT included).
      if (cached) this.cache.clear();
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
      if (cached) this.cacheInUse = false;
    }
  }

  /** Keeps the cache only if the last write to the space was this store's own last commit. */
  private takeCacheAt(gen: number): void {
    if (this.cacheGen === undefined || gen !== this.cacheGen + 1) this.cache.clear();
    this.cacheGen = undefined;
  }

  /**
   * Locks the space's row (creating it on the first write) and returns its new
   * write generation. The tip is not read here: a statement that waited for
   * the lock keeps the snapshot it started with (READ COMMITTED), so a tip
   * read in the same statement could predate the lock holder's commit.
   */
  private async lockSpace(client: pg.PoolClient): Promise<number> {
    // An UPDATE waits for the row lock and then sees the row as committed by its holder.
    const lock = {
      name: 'cairn_lockSpace',
      text: 'UPDATE spaces SET write_gen = write_gen + 1 WHERE space_id = $1 RETURNING write_gen',
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
    return Number((found.rows[0] as { write_gen: string | number }).write_gen);
  }
}

/** The channel commits are announced on (`PgBackend.watchCommits` listens). */
export const COMMITS_CHANNEL = 'cairn_commits';

/**
 * COMMIT, preceded by a NOTIFY of the batch's last epoch when it appended tx
 * records: delivered to listeners only if the transaction commits, and sent
 * in the same round trip (a simple-query pair), so it costs no extra wait.
 */
function commitStatement(client: pg.PoolClient, spaceId: string, ops: PgSpaceOps): string {
  if (ops.lastAppendedEpoch === undefined) return 'COMMIT';
  const payload = client.escapeLiteral(`${ops.lastAppendedEpoch} ${spaceId}`);
  return `SELECT pg_notify('${COMMITS_CHANNEL}', ${payload}); COMMIT`;
}

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CairnError } from '../core/errors.js';
import { withSqliteFiles, type SchemaTarget } from './schema-admin.js';
import { SPACES_DIR, spaceFileName } from './sqlite/sqlite-backend.js';

/** What reclaiming a space's free pages did: its file sizes before and after. */
export interface ReclaimReport {
  /** SQLite: the space file and its WAL, in bytes; PostgreSQL: not measured (autovacuum's work). */
  bytesBefore: number | null;
  bytesAfter: number | null;
}

/**
 * Gives a space's free pages (dropped snapshots, pruned receipts) back to
 * the file system: on SQLite a checkpoint and `VACUUM` of the space's file,
 * with the data dir lock held (the server must be stopped). On PostgreSQL,
 * autovacuum reuses those pages and the files are shared by every space, so
 * there is nothing per space to do.
 */
export async function reclaimSpace(target: SchemaTarget, spaceId: string): Promise<ReclaimReport> {
  if ('databaseUrl' in target) return { bytesBefore: null, bytesAfter: null };
  return withSqliteFiles(target.dataDir, () => {
    const file = path.join(path.resolve(target.dataDir), SPACES_DIR, spaceFileName(spaceId));
    if (!fs.existsSync(file)) {
      throw new CairnError('NotFound', `no space ${spaceId} in ${target.dataDir}`);
    }
    const bytesBefore = sizeWithWal(file);
    const db = new Database(file);
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.exec('VACUUM');
      db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      db.close();
    }
    return { bytesBefore, bytesAfter: sizeWithWal(file) };
  });
}

function sizeWithWal(file: string): number {
  const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
  return size(file) + size(`${file}-wal`);
}

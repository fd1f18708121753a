import Database from 'better-sqlite3';
import { CairnError } from '../../core/errors.js';
import { migrateUp } from '../migrations.js';
import type { BatchResult, SpaceStore, SpaceWriteOps } from '../types.js';
import { SPACE_MIGRATIONS } from './space-migrations.js';
import { sqliteMigrationExecutor } from './sqlite-migrator.js';
import { SqliteSpaceOps } from './sqlite-space-ops.js';
import { WriterCache } from '../writer-cache.js';

/** `FULL` fsyncs the WAL at every commit (survives power loss); `NORMAL` survives process crashes only. */
export type SqliteSync = 'full' | 'normal';

export interface SqliteOpenOptions {
  sync: SqliteSync;
  busyTimeoutMs: number;
}

/** WAL pages between automatic checkpoints (SQLite's default is 1000). */
const WAL_CHECKPOINT_PAGES = 10_000;
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** Page cache per connection, KiB (SQLite's default is 2 MiB). */
const CACHE_KIB = 32 * 1024;

function openConnection(
  file: string,
  options: SqliteOpenOptions,
  readonly: boolean,
): Database.Database {
  const db = new Database(file, { readonly, fileMustExist: readonly });
  db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`);
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    // The hash index takes random inserts: checkpointing less often writes each of
    // its pages back once per many commits instead of once per few (ingest cost
    // would otherwise grow with history), and the WAL file is trimmed afterwards.
    db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  }
  // Pages are allocated as used: small spaces stay small, big ones keep their index hot.
  db.pragma(`cache_size = -${CACHE_KIB}`);
  return db;
}

/**
 * One space's SQLite file, held through two connections: the writer (used
 * only by the space's writer queue, one batch at a time) and a reader that
 * sees committed data only, so reads never observe a batch in progress.
 */
export class SqliteSpaceStore implements SpaceStore {
  readonly reader: SqliteSpaceOps;
  private readonly writeDb: Database.Database;
  private readonly readDb: Database.Database;
  private readonly writer: SqliteSpaceOps;
  private readonly tx;
  private batchOpen = false;

  private constructor(
    readonly spaceId: string,
    writeDb: Database.Database,
    readDb: Database.Database,
  ) {
    this.writeDb = writeDb;
    this.readDb = readDb;
    this.writer = new SqliteSpaceOps(writeDb, new WriterCache());
    this.reader = new SqliteSpaceOps(readDb);
    this.tx = {
      begin: writeDb.prepare('BEGIN IMMEDIATE'),
      commit: writeDb.prepare('COMMIT'),
      rollback: writeDb.prepare('ROLLBACK'),
    };
  }

  /** Opens (creating and migrating if needed) the file of `spaceId`. */
  static async open(
    spaceId: string,
    file: string,
    options: SqliteOpenOptions,
  ): Promise<SqliteSpaceStore> {
    const writeDb = openConnection(file, options, false);
    try {
      await migrateUp(sqliteMigrationExecutor(writeDb), SPACE_MIGRATIONS);
      const stored = writeDb
        .prepare("SELECT value FROM space_info WHERE key = 'space_id'")
        .pluck()
        .get();
      if (stored === undefined) {
        writeDb.prepare("INSERT INTO space_info (key, value) VALUES ('space_id', ?)").run(spaceId);
      } else if (stored !== spaceId) {
        throw new CairnError('Internal', `space file ${file} belongs to another space`);
      }
      const readDb = openConnection(file, options, true);
      return new SqliteSpaceStore(spaceId, writeDb, readDb);
    } catch (err) {
      writeDb.close();
      throw err;
    }
  }

  async writeBatch<T>(fn: (ops: SpaceWriteOps) => Promise<BatchResult<T>>): Promise<T> {
    if (this.batchOpen) throw new Error('overlapping write batches on one space');
    this.batchOpen = true;
    try {
      this.tx.begin.run();
      const { result, commit } = await fn(this.writer);
      if (commit) {
        this.tx.commit.run();
      } else {
        this.writer.forgetUncommitted();
        this.tx.rollback.run();
      }
      return result;
    } catch (err) {
      // Also when COMMIT itself failed: SQLite may have rolled back on its own.
      this.writer.forgetUncommitted();
      if (this.writeDb.inTransaction) this.tx.rollback.run();
      throw mapSqliteError(err);
    } finally {
      this.batchOpen = false;
    }
  }

  close(): void {
    this.readDb.close();
    this.writeDb.close();
  }
}

/** Disk full, read-only or vanished files are the degraded mode of SPEC §8, not bugs. */
export function mapSqliteError(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|BUSY|LOCKED)/.test(code)
  ) {
    return new CairnError('StorageUnavailable', `storage unavailable (${code})`);
  }
  return err;
}

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CairnError } from '../../core/errors.js';

const LOCK_FILE = 'cairn.lock';
const HOLDER_FILE = 'cairn.pid';

/**
 * Makes `dir` (and its missing parents) one level at a time, after checking
 * that the nearest existing ancestor is a writable directory. (A recursive
 * `mkdirSync` under /proc never returns; a path through a file fails late.)
 */
export function ensureDataDir(dir: string): void {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  while (!fs.existsSync(cur)) {
    missing.unshift(cur);
    const parent = path.dirname(cur);
    if (parent === cur) break;
    cur = parent;
  }
  const unusable = (why: string) =>
    new CairnError('StorageUnavailable', `data dir ${dir} cannot be used: ${why}`);
  if (!fs.statSync(cur).isDirectory()) throw unusable(`${cur} is not a directory`);
  try {
    fs.accessSync(cur, fs.constants.W_OK | fs.constants.X_OK);
    for (const m of missing) fs.mkdirSync(m);
  } catch (err) {
    throw unusable((err as NodeJS.ErrnoException).code ?? String(err));
  }
}

/**
 * One process per SQLite data dir (SPEC §8): the holder keeps an exclusive
 * SQLite lock on `cairn.lock` for as long as it runs, so a second process
 * (or a second open in the same one) is refused at once, and a crashed
 * holder's lock goes with it (the OS drops it). `cairn.pid` names the holder
 * in the refusal.
 */
export class DataDirLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly holderFile: string,
  ) {}

  static acquire(dataDir: string): DataDirLock {
    const db = new Database(path.join(dataDir, LOCK_FILE));
    try {
      db.pragma('busy_timeout = 0');
      // The lock file holds no data: no journal file beside it.
      db.pragma('journal_mode = MEMORY');
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      throw new CairnError(
        'StorageUnavailable',
        `data dir ${dataDir} is in use by ${holderOf(dataDir)}: one process per SQLite data dir (PostgreSQL serves several)`,
      );
    }
    const holderFile = path.join(dataDir, HOLDER_FILE);
    fs.writeFileSync(
      holderFile,
      JSON.stringify({ pid: process.pid, since: new Date().toISOString() }),
    );
    return new DataDirLock(db, holderFile);
  }

  release(): void {
    if (!this.db.open) return;
    try {
      fs.rmSync(this.holderFile, { force: true });
    } finally {
      this.db.close();
    }
  }
}

function holderOf(dataDir: string): string {
  try {
    const { pid, since } = JSON.parse(fs.readFileSync(path.join(dataDir, HOLDER_FILE), 'utf8')) as {
      pid: number;
      since: string;
    };
    return `process ${pid} (since ${since})`;
  } catch {
    return 'another process';
  }
}

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { assert } from '../../core/assert.js';
import { isSpaceId } from '../../core/ids.js';
import { LruMap } from '../../core/lru-map.js';
import { migrateUp, migrationStatus } from '../migrations.js';
import type { SpaceLease, StorageBackend } from '../types.js';
import { LeasePool } from './space-pool.js';
import { REGISTRY_MIGRATIONS } from './space-migrations.js';
import { DataDirLock, ensureDataDir } from './data-dir.js';
import { sqliteMigrationExecutor } from './sqlite-migrator.js';
import { SqliteSpaceStore, type SqliteOpenOptions, type SqliteSync } from './sqlite-space-store.js';

export interface SqliteBackendOptions {
  dataDir: string;
  sync?: SqliteSync;
  maxOpenSpaces?: number;
  busyTimeoutMs?: number;
}

export const REGISTRY_FILE = 'cairn.sqlite';
export const SPACES_DIR = 'spaces';
/** Registered spaces remembered without a registry lookup (each entry is a short string). */
const KNOWN_SPACES_KEPT = 100_000;

/**
 * A space's file name comes from a hash of its DID, never from the DID
 * itself, so no space id can name a path outside the data dir.
 */
export function spaceFileName(spaceId: string): string {
  return `${createHash('sha256').update(spaceId, 'utf8').digest('hex').slice(0, 40)}.sqlite`;
}

/** Below this much free space in the data dir, /readyz fails (a commit may need a few pages more). */
const MIN_FREE_BYTES = 1024 * 1024;

/** SQLite: a registry file plus one database file per space, under one data dir. */
export class SqliteBackend implements StorageBackend {
  readonly kind = 'sqlite' as const;
  private readonly registry: Database.Database;
  private readonly pool: LeasePool<SqliteSpaceStore>;
  private readonly openOptions: SqliteOpenOptions;
  private readonly spacesDir: string;
  /** Spaces known to be registered (bounded: a forgotten one is looked up again). */
  private readonly registered = new LruMap<string, true>(KNOWN_SPACES_KEPT);
  private readonly statements;

  private constructor(
    readonly dataDir: string,
    registry: Database.Database,
    options: SqliteBackendOptions,
    private readonly lock: DataDirLock,
  ) {
    this.registry = registry;
    this.spacesDir = path.join(dataDir, SPACES_DIR);
    this.openOptions = {
      sync: options.sync ?? 'full',
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    };
    this.pool = new LeasePool(options.maxOpenSpaces ?? 256, (s) => s.close());
    this.statements = {
      lookup: registry.prepare('SELECT 1 FROM spaces WHERE space_id = ?'),
      register: registry.prepare(
        'INSERT OR IGNORE INTO spaces (space_id, file, created_at) VALUES (?, ?, ?)',
      ),
    };
  }

  static async open(options: SqliteBackendOptions): Promise<SqliteBackend> {
    const dataDir = path.resolve(options.dataDir);
    ensureDataDir(path.join(dataDir, SPACES_DIR));
    const lock = DataDirLock.acquire(dataDir);
    try {
      const registry = new Database(path.join(dataDir, REGISTRY_FILE));
      registry.pragma('journal_mode = WAL');
      registry.pragma('synchronous = FULL');
      registry.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      await migrateUp(sqliteMigrationExecutor(registry), REGISTRY_MIGRATIONS);
      return new SqliteBackend(dataDir, registry, options, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  async acquireSpace(
    spaceId: string,
    options: { create: boolean },
  ): Promise<SpaceLease | undefined> {
    assert(isSpaceId(spaceId), 'space id must be validated before it reaches storage');
    // Registered spaces are remembered: a space is never unregistered.
    const registered = this.registered.has(spaceId) || this.lookupRegistered(spaceId);
    if (!registered && !options.create) return undefined;
    const { value, release } = await this.pool.acquire(spaceId, () =>
      SqliteSpaceStore.open(spaceId, this.spaceFile(spaceId), this.openOptions),
    );
    return { store: value, isNew: !registered, release };
  }

  async settleNewSpace(spaceId: string, committed: boolean): Promise<void> {
    if (this.registered.has(spaceId)) return;
    if (committed) {
      // Registered after the first commit: a crash before this leaves a file that the next write adopts.
      this.statements.register.run(spaceId, spaceFileName(spaceId), Date.now());
      this.registered.set(spaceId, true);
    } else if (this.pool.discard(spaceId)) {
      const file = this.spaceFile(spaceId);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    }
  }

  private spaceFile(spaceId: string): string {
    return path.join(this.spacesDir, spaceFileName(spaceId));
  }

  private lookupRegistered(spaceId: string): boolean {
    const found = this.statements.lookup.get(spaceId) !== undefined;
    if (found) this.registered.set(spaceId, true);
    return found;
  }

  async listSpaces(): Promise<string[]> {
    return this.registry
      .prepare('SELECT space_id FROM spaces ORDER BY space_id')
      .pluck()
      .all() as string[];
  }

  async getSetting(key: string): Promise<string | undefined> {
    return this.registry.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(key) as
      string | undefined;
  }

  async putSettingIfAbsent(key: string, value: string): Promise<string> {
    this.registry
      .prepare('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)')
      .run(key, value);
    return (await this.getSetting(key)) as string;
  }

  async schemaVersion(): Promise<number> {
    return (await migrationStatus(sqliteMigrationExecutor(this.registry), REGISTRY_MIGRATIONS))
      .current;
  }

  get openSpaces(): number {
    return this.pool.size;
  }

  openHandles(): number {
    // The registry, plus a writer and a reader connection per open space.
    return 1 + 2 * this.pool.size;
  }

  async probeWritable(): Promise<string | undefined> {
    try {
      fs.accessSync(this.dataDir, fs.constants.W_OK);
      const { bavail, bsize } = fs.statfsSync(this.dataDir);
      if (bavail * bsize < MIN_FREE_BYTES) return `data dir has ${bavail * bsize} bytes free`;
      return undefined;
    } catch (err) {
      return `data dir not writable: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    }
  }

  async close(): Promise<void> {
    this.pool.closeAll();
    if (this.registry.open) this.registry.close();
    this.lock.release();
  }
}

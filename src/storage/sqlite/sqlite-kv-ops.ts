import type Database from 'better-sqlite3';
import {
  kvListRange,
  toKvNamespace,
  toKvRecord,
  toKvRemoved,
  toKvSchema,
  toKvUsage,
} from '../kv-rows.js';
import type {
  KvNamespaceRow,
  KvRecordRow,
  KvRemoved,
  KvSchemaRow,
  KvUsageRow,
  KvWriteOps,
} from '../kv-types.js';
import type { Row } from '../row-mappers.js';
import type { Statement } from './sqlite-statements.js';

/** A record's small columns; metadata and value (large) come last, and only when asked for. */
const RECORD_HEAD = 'namespace, key, revision, ttl_expires_at, created_at, updated_at, bytes';
/** A listing: a range of the primary key (@from itself only if @inclusive), minus expired rows. */
const LIST_WHERE = `FROM kv_records WHERE install = @install AND namespace = @namespace
  AND key >= @from AND (@inclusive OR key > @from)
  AND (ttl_expires_at IS NULL OR ttl_expires_at > @now)`;
const WITH_BODIES = `SELECT ${RECORD_HEAD}, metadata, value`;
// '' instead of the large columns: a list without values never reads them.
const WITHOUT_BODIES = `SELECT ${RECORD_HEAD}, '' AS metadata, '' AS value`;

/**
 * The SQL of a space file's KV records (schema: migration 8 of
 * space-migrations.ts). Exported for the plan checks of
 * test/storage/kv-store.test.ts and docs/QUERY-PLANS.md. Keys are TEXT with
 * the BINARY collation: compared and ordered by their UTF-8 bytes.
 */
export const SQLITE_KV_SQL = {
  record: `SELECT ${RECORD_HEAD}, metadata, value FROM kv_records
    WHERE install = ? AND namespace = ? AND key = ?`,
  // A listing is one range of the primary key: up to the end of the prefix's
  // run (`listRange…`), or of the namespace when the prefix has no end
  // (`listFrom…`: the empty prefix). See kv-rows.ts kvListRange.
  listRange: `${WITH_BODIES} ${LIST_WHERE} AND key < @to ORDER BY key LIMIT @limit`,
  listFrom: `${WITH_BODIES} ${LIST_WHERE} ORDER BY key LIMIT @limit`,
  listRangeKeys: `${WITHOUT_BODIES} ${LIST_WHERE} AND key < @to ORDER BY key LIMIT @limit`,
  listFromKeys: `${WITHOUT_BODIES} ${LIST_WHERE} ORDER BY key LIMIT @limit`,
  usage: 'SELECT bytes_used, keys, namespaces FROM kv_installs WHERE install = ?',
  namespace: 'SELECT keys, revision_floor FROM kv_namespaces WHERE install = ? AND namespace = ?',
  schemas: `SELECT version, status, created_at, schema FROM kv_schemas
    WHERE install = ? AND namespace = ? ORDER BY version`,
  // Per install (a handful per space), a range of the expiry index; stops at
  // the cap. CROSS JOIN: SQLite keeps that join order (installs outside).
  countExpired: `SELECT count(*) FROM (SELECT 1 FROM kv_installs i
    CROSS JOIN kv_records r ON r.install = i.install WHERE r.ttl_expires_at <= ? LIMIT ?)`,
  installsWithExpired: `SELECT install FROM kv_installs i WHERE EXISTS (
      SELECT 1 FROM kv_records r WHERE r.install = i.install AND r.ttl_expires_at <= ?)
    ORDER BY install LIMIT ?`,
  // The space file has one writer (its batch): no row lock to take.
  createInstall: 'INSERT OR IGNORE INTO kv_installs (install) VALUES (?)',
  setUsage: `INSERT INTO kv_installs (install, bytes_used, keys, namespaces) VALUES (?, ?, ?, ?)
    ON CONFLICT (install) DO UPDATE SET bytes_used = excluded.bytes_used, keys = excluded.keys,
      namespaces = excluded.namespaces`,
  createNamespace: 'INSERT OR IGNORE INTO kv_namespaces (install, namespace) VALUES (?, ?)',
  setNamespace: `INSERT INTO kv_namespaces (install, namespace, keys, revision_floor)
    VALUES (?, ?, ?, ?)
    ON CONFLICT (install, namespace) DO UPDATE SET keys = excluded.keys,
      revision_floor = excluded.revision_floor`,
  putRecord: `INSERT INTO kv_records (install, namespace, key, revision, ttl_expires_at,
      created_at, updated_at, bytes, metadata, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (install, namespace, key) DO UPDATE SET revision = excluded.revision,
      ttl_expires_at = excluded.ttl_expires_at, created_at = excluded.created_at,
      updated_at = excluded.updated_at, bytes = excluded.bytes, metadata = excluded.metadata,
      value = excluded.value`,
  deleteRecord: 'DELETE FROM kv_records WHERE install = ? AND namespace = ? AND key = ?',
  // The oldest expiries first, found through the expiry index.
  removeExpired: `DELETE FROM kv_records WHERE install = @install AND (namespace, key) IN (
      SELECT namespace, key FROM kv_records WHERE install = @install AND ttl_expires_at <= @now
      ORDER BY ttl_expires_at LIMIT @limit)
    RETURNING namespace, key, revision, bytes`,
  putSchema: `INSERT INTO kv_schemas (install, namespace, version, status, created_at, schema)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (install, namespace, version) DO UPDATE SET status = excluded.status,
      created_at = excluded.created_at, schema = excluded.schema`,
} as const;

type KvStatements = { [K in keyof typeof SQLITE_KV_SQL]: Statement };

/** Statements that return their single column's value instead of a row. */
const PLUCKED: ReadonlySet<string> = new Set(['countExpired', 'installsWithExpired']);

function prepareKvStatements(db: Database.Database): KvStatements {
  const prepared: Record<string, Statement> = {};
  for (const [name, sql] of Object.entries(SQLITE_KV_SQL)) {
    const statement = db.prepare(sql);
    prepared[name] = PLUCKED.has(name) ? statement.pluck() : statement;
  }
  return prepared as KvStatements;
}

/**
 * The KV records of one space file (SPEC §12; schema: migration 8 of
 * space-migrations.ts), on the connection of the `SqliteSpaceOps` that holds
 * it: the writer's sees its batch, the reader's committed data only. The
 * file has one writer, so the "locks" of `lockInstall` / `lockNamespace`
 * only create the rows: the batch is already alone.
 */
export class SqliteKvOps implements KvWriteOps {
  private readonly s: KvStatements;

  constructor(db: Database.Database) {
    this.s = prepareKvStatements(db);
  }

  async get(install: string, namespace: string, key: string): Promise<KvRecordRow | undefined> {
    const r = this.s.record.get(install, namespace, key) as Row | undefined;
    return r && toKvRecord(r);
  }

  async list(
    install: string,
    namespace: string,
    prefix: string,
    afterKey: string | null,
    nowMs: number,
    limit: number,
    withBodies: boolean,
  ): Promise<KvRecordRow[]> {
    const range = kvListRange(prefix, afterKey);
    if (!range || limit <= 0) return [];
    const { from, inclusive, to } = range;
    const bounded = to !== null;
    const statement = withBodies
      ? bounded
        ? this.s.listRange
        : this.s.listFrom
      : bounded
        ? this.s.listRangeKeys
        : this.s.listFromKeys;
    const params = { install, namespace, from, inclusive: inclusive ? 1 : 0, now: nowMs, limit };
    const rows = statement.all(bounded ? { ...params, to } : params) as Row[];
    return rows.map(toKvRecord);
  }

  async usage(install: string): Promise<KvUsageRow> {
    return toKvUsage(this.s.usage.get(install) as Row | undefined);
  }

  async namespace(install: string, namespace: string): Promise<KvNamespaceRow | undefined> {
    return toKvNamespace(this.s.namespace.get(install, namespace) as Row | undefined);
  }

  async schemas(install: string, namespace: string): Promise<KvSchemaRow[]> {
    return (this.s.schemas.all(install, namespace) as Row[]).map(toKvSchema);
  }

  async countExpired(nowMs: number, cap: number): Promise<number> {
    if (cap <= 0) return 0;
    return this.s.countExpired.get(nowMs, cap) as number;
  }

  async installsWithExpired(nowMs: number, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    return this.s.installsWithExpired.all(nowMs, limit) as string[];
  }

  async lockInstall(install: string): Promise<KvUsageRow> {
    this.s.createInstall.run(install);
    return this.usage(install);
  }

  async setUsage(install: string, usage: KvUsageRow): Promise<void> {
    this.s.setUsage.run(install, usage.bytesUsed, usage.keys, usage.namespaces);
  }

  async lockNamespace(install: string, namespace: string): Promise<KvNamespaceRow> {
    this.s.createNamespace.run(install, namespace);
    return (await this.namespace(install, namespace)) as KvNamespaceRow;
  }

  async setNamespace(install: string, namespace: string, row: KvNamespaceRow): Promise<void> {
    this.s.setNamespace.run(install, namespace, row.keys, row.revisionFloor);
  }

  async putRecord(install: string, row: KvRecordRow): Promise<void> {
    this.s.putRecord.run(
      install,
      row.namespace,
      row.key,
      row.revision,
      row.ttlExpiresAt,
      row.createdAt,
      row.updatedAt,
      row.bytes,
      row.metadata,
      row.value,
    );
  }

  async deleteRecord(install: string, namespace: string, key: string): Promise<boolean> {
    return this.s.deleteRecord.run(install, namespace, key).changes > 0;
  }

  async removeExpired(install: string, nowMs: number, limit: number): Promise<KvRemoved[]> {
    if (limit <= 0) return [];
    const rows = this.s.removeExpired.all({ install, now: nowMs, limit }) as Row[];
    return rows.map(toKvRemoved);
  }

  async putSchema(install: string, namespace: string, row: KvSchemaRow): Promise<void> {
    this.s.putSchema.run(install, namespace, row.version, row.status, row.createdAt, row.schema);
  }
}

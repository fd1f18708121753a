import type pg from 'pg';
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
import { KV_SQL, type KvStatementName } from './pg-kv-statements.js';
import { mapPgError } from './pg-errors.js';
import type { Queryable } from './pg-space-ops.js';

/**
 * The extension KV records of one space on PostgreSQL (SPEC §12), through
 * the pool (reads of committed data) or the client of a write batch (the
 * `PgSpaceOps` that holds it passes its own), so a batch's KV reads see its
 * KV writes.
 *
 * Locks: `lockInstall` and `lockNamespace` take their row with `SELECT … FOR
 * UPDATE` (inserting it first when absent), held until the batch's
 * transaction ends. Every KV write locks its install first (the order in
 * kv-types.ts), so the writers of one install queue on that one row, in
 * whichever process they run, and see each other's counters.
 *
 * Like PgYjsOps, these statements do not flush the batch's `PgWriteQueue`:
 * it holds only log rows and tx records, which no KV statement reads or
 * writes, and the store flushes it before COMMIT.
 */
export class PgKvOps implements KvWriteOps {
  constructor(
    private readonly db: Queryable,
    private readonly spaceId: string,
  ) {}

  private async run(name: KvStatementName, values: unknown[]): Promise<pg.QueryResult<Row>> {
    try {
      return await this.db.query<Row>({
        name: `cairn_${name}`,
        text: KV_SQL[name],
        values: [this.spaceId, ...values],
      });
    } catch (err) {
      throw mapPgError(err);
    }
  }

  private async rows(name: KvStatementName, values: unknown[]): Promise<Row[]> {
    return (await this.run(name, values)).rows;
  }

  async get(install: string, namespace: string, key: string): Promise<KvRecordRow | undefined> {
    const [r] = await this.rows('kvRecord', [install, namespace, key]);
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
    const head = [install, namespace, from, inclusive, nowMs];
    const rows =
      to === null
        ? await this.rows(withBodies ? 'kvListFrom' : 'kvListFromKeys', [...head, limit])
        : await this.rows(withBodies ? 'kvListRange' : 'kvListRangeKeys', [...head, to, limit]);
    return rows.map(toKvRecord);
  }

  async usage(install: string): Promise<KvUsageRow> {
    return toKvUsage((await this.rows('kvUsage', [install]))[0]);
  }

  async namespace(install: string, namespace: string): Promise<KvNamespaceRow | undefined> {
    return toKvNamespace((await this.rows('kvNamespace', [install, namespace]))[0]);
  }

  async schemas(install: string, namespace: string): Promise<KvSchemaRow[]> {
    return (await this.rows('kvSchemas', [install, namespace])).map(toKvSchema);
  }

  async countExpired(nowMs: number, cap: number): Promise<number> {
    if (cap <= 0) return 0;
    return Number((await this.rows('kvCountExpired', [nowMs, cap]))[0]?.n ?? 0);
  }

  async installsWithExpired(nowMs: number, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const rows = await this.rows('kvInstallsWithExpired', [nowMs, limit]);
    return rows.map((r) => r.install as string);
  }

  async lockInstall(install: string): Promise<KvUsageRow> {
    let [r] = await this.rows('kvLockInstall', [install]);
    if (!r) {
      await this.run('kvCreateInstall', [install]);
      [r] = await this.rows('kvLockInstall', [install]);
    }
    return toKvUsage(r);
  }

  async setUsage(install: string, usage: KvUsageRow): Promise<void> {
    await this.run('kvSetUsage', [install, usage.bytesUsed, usage.keys, usage.namespaces]);
  }

  async lockNamespace(install: string, namespace: string): Promise<KvNamespaceRow> {
    let [r] = await this.rows('kvLockNamespace', [install, namespace]);
    if (!r) {
      await this.run('kvCreateNamespace', [install, namespace]);
      [r] = await this.rows('kvLockNamespace', [install, namespace]);
    }
    return toKvNamespace(r) as KvNamespaceRow;
  }

  async setNamespace(install: string, namespace: string, row: KvNamespaceRow): Promise<void> {
    await this.run('kvSetNamespace', [install, namespace, row.keys, row.revisionFloor]);
  }

  async putRecord(install: string, row: KvRecordRow): Promise<void> {
    await this.run('kvPutRecord', [
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
    ]);
  }

  async deleteRecord(install: string, namespace: string, key: string): Promise<boolean> {
    return ((await this.run('kvDeleteRecord', [install, namespace, key])).rowCount ?? 0) > 0;
  }

  async removeExpired(install: string, nowMs: number, limit: number): Promise<KvRemoved[]> {
    if (limit <= 0) return [];
    return (await this.rows('kvRemoveExpired', [install, nowMs, limit])).map(toKvRemoved);
  }

  async putSchema(install: string, namespace: string, row: KvSchemaRow): Promise<void> {
    await this.run('kvPutSchema', [
      install,
      namespace,
      row.version,
      row.status,
      row.createdAt,
      row.schema,
    ]);
  }
}

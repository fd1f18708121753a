import { CairnError, isCairnError } from '../core/errors.js';
import type { JsonValue } from '../core/json.js';
import { LruMap } from '../core/lru-map.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import { decodeCursor, encodeCursor } from '../protocol/cursor.js';
import { withSpaceReader } from '../storage/space-access.js';
import type {
  KvReadOps,
  KvRecordRow,
  KvSchemaRow,
  KvSchemaStatus,
  KvWriteOps,
} from '../storage/kv-types.js';
import type { SpaceReadOps, StorageBackend } from '../storage/types.js';
import { removeExpired, type KvCleanupStats } from './kv-accounting.js';
import type { KvLimits } from './kv-limits.js';
import { checkInstall, checkKey, checkNamespace, measurePut, type KvPut } from './kv-rules.js';
import { KvSchemaValidator } from './kv-schemas.js';
import { applyDelete, applyPut, isLive } from './kv-write.js';

/** A record as the API answers it. */
export interface KvRecordView {
  key: string;
  value?: JsonValue;
  metadata?: Record<string, JsonValue>;
  revision: number;
  ttlExpiresAt?: number;
  createdAt: number;
  updatedAt: number;
}

/** Installs whose list count is remembered (every 16th list cleans; a forgotten one restarts at 0). */
const LIST_COUNTS_KEPT = 10_000;

const isListCursor = (v: unknown): v is { n: string; p: string; k: string } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { n: unknown }).n === 'string' &&
  typeof (v as { p: unknown }).p === 'string' &&
  typeof (v as { k: unknown }).k === 'string';

/**
 * Extension KV storage (SPEC §12) over a space's storage: every write is
 * one task in the space's writer queue (serialized with the space's other
 * writes; on PostgreSQL, also under the install's row lock), answered after
 * its durable commit; reads never write. Visibility of expired records
 * follows the clock at once; their removal is opportunistic and bounded.
 */
export class KvService {
  readonly cleanup: KvCleanupStats = { removed: 0 };
  /** Told of every space a KV write goes to (the background sweep follows them). */
  onWrite: (space: string) => void = () => undefined;
  private readonly schemasCheck: KvSchemaValidator;
  private readonly listCounts = new LruMap<string, number>(LIST_COUNTS_KEPT);

  constructor(
    private readonly backend: StorageBackend,
    private readonly pipeline: CommitPipeline,
    readonly limits: KvLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.schemasCheck = new KvSchemaValidator(limits.compiledSchemasKept);
  }

  async get(space: string, install: string, ns: string, key: string, ifRevision?: number) {
    checkIds(install, ns);
    checkKey(key);
    const row = await this.read(space, (kv) => kv.get(install, ns, key), undefined);
    if (!isLive(row, this.now())) throw new CairnError('KeyNotFound', `no key ${key}`, { key });
    if (ifRevision !== undefined && row.revision !== ifRevision) {
      throw new CairnError('RevisionMismatch', `key ${key} is at revision ${row.revision}`, {
        key,
        currentRevision: row.revision,
      });
    }
    return view(row, true, true);
  }

  async put(space: string, install: string, ns: string, put: KvPut) {
    const [done] = await this.putMany(space, install, ns, [put]);
    return done as { created: boolean; record: KvRecordView };
  }

  /** Bulk put: all or nothing (SPEC §12: at most 20 items and 512 KiB, no duplicate keys). */
  async putMany(space: string, install: string, ns: string, puts: KvPut[]) {
    checkIds(install, ns);
    if (puts.length === 0 || puts.length > this.limits.bulkItems) {
      throw new CairnError('LimitExceeded', `1-${this.limits.bulkItems} items`, {
        limit: 'bulkItems',
      });
    }
    const measured = puts.map((p) => measurePut(p, this.limits));
    const total = measured.reduce((n, p) => n + p.bytes, 0);
    if (puts.length > 1 && total > this.limits.bulkBytes) {
      throw new CairnError(
        'LimitExceeded',
        `the items are ${total} bytes (at most ${this.limits.bulkBytes})`,
        {
          limit: 'bulkBytes',
          requested: total,
          max: this.limits.bulkBytes,
        },
      );
    }
    if (new Set(puts.map((p) => p.key)).size !== puts.length) {
      throw new CairnError('ValidationError', 'a key appears twice');
    }
    return this.write(space, install, async (kv, usage, nowMs) => {
      const schemas = await kv.schemas(install, ns);
      const out = [];
      for (const p of measured) {
        this.schemasCheck.validate(p.value, schemas, p.schemaVersion, p.key);
        const at = { install, namespace: ns, nowMs };
        const done = await applyPut(kv, at, usage, p, this.limits, this.cleanup);
        out.push({ created: done.created, record: view(done.row, false, false) });
      }
      return out;
    });
  }

  async delete(space: string, install: string, ns: string, key: string, ifRevision?: number) {
    checkIds(install, ns);
    checkKey(key);
    return this.write(space, install, (kv, usage, nowMs) =>
      applyDelete(kv, { install, namespace: ns, nowMs }, usage, key, ifRevision),
    );
  }

  async list(
    space: string,
    install: string,
    ns: string,
    q: { prefix: string; cursor?: string; limit: number; values: boolean; metadata: boolean },
  ) {
    checkIds(install, ns);
    let after: string | null = null;
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor, isListCursor);
      // A cursor is for the listing it came from: another namespace or prefix is a tampered one.
      if (c.n !== ns || c.p !== q.prefix) throw new CairnError('ValidationError', 'invalid cursor');
      after = c.k;
    }
    const nowMs = this.now();
    const bodies = q.values || q.metadata;
    let spaceExists = true;
    const rows = await this.read(
      space,
      (kv) => kv.list(install, ns, q.prefix, after, nowMs, q.limit + 1, bodies),
      [] as KvRecordRow[],
      () => (spaceExists = false),
    );
    // A space that does not exist has nothing to clean, and a read never creates one.
    if (spaceExists) this.countList(space, install);
    const items = rows.slice(0, q.limit).map((r) => view(r, q.values, q.metadata));
    const last = items.at(-1);
    return {
      items,
      ...(rows.length > q.limit && last
        ? { nextCursor: encodeCursor({ n: ns, p: q.prefix, k: last.key }) }
        : {}),
    };
  }

  async putSchema(
    space: string,
    install: string,
    ns: string,
    version: number,
    schema: JsonValue,
    status: KvSchemaStatus,
  ) {
    checkIds(install, ns);
    this.schemasCheck.check(schema);
    await this.write(space, install, async (kv, _usage, nowMs) => {
      const existing = await kv.schemas(install, ns);
      if (status === 'active') {
        // At most one active: activating one deprecates the previous active one.
        for (const s of existing) {
          if (s.status === 'active' && s.version !== version)
            await kv.putSchema(install, ns, { ...s, status: 'deprecated' });
        }
      }
      const before = existing.find((s) => s.version === version);
      await kv.putSchema(install, ns, {
        version,
        status,
        schema: JSON.stringify(schema),
        createdAt: before?.createdAt ?? nowMs,
      });
    });
    return { version, status };
  }

  async schemas(space: string, install: string, ns: string) {
    checkIds(install, ns);
    const rows = await this.read(space, (kv) => kv.schemas(install, ns), [] as KvSchemaRow[]);
    return {
      items: rows.map((r) => ({
        version: r.version,
        status: r.status,
        schema: JSON.parse(r.schema) as JsonValue,
        createdAt: r.createdAt,
      })),
    };
  }

  async usage(space: string, install: string) {
    checkInstall(install);
    const usage = await this.read(space, (kv) => kv.usage(install), {
      bytesUsed: 0,
      keys: 0,
      namespaces: 0,
    });
    const l = this.limits;
    return {
      ...usage,
      limits: {
        valueBytes: l.valueBytes,
        metadataBytes: l.metadataBytes,
        keysPerNamespace: l.keysPerNamespace,
        namespacesPerInstall: l.namespacesPerInstall,
        bytesPerInstall: l.bytesPerInstall,
      },
    };
  }

  /** Removes up to `cleanupPerWrite` expired records of an install (the sweep, every 16th list). */
  async sweep(space: string, install: string): Promise<number> {
    // Queued at once (ordered with the writes around it); an install with nothing stored
    // has nothing to remove, and gets no write (and no row).
    this.onWrite(space);
    return this.pipeline.runWrite(space, async (ops) => {
      if ((await ops.kv.usage(install)).keys === 0) return 0;
      const usage = await ops.kv.lockInstall(install);
      const n = await removeExpired(
        ops.kv,
        install,
        usage,
        this.now(),
        this.limits.cleanupPerWrite,
        this.cleanup,
      );
      await ops.kv.setUsage(install, usage);
      return n;
    });
  }

  /**
   * One KV write: a task in the space's writer queue that locks the
   * install's row first, removes up to `cleanupPerWrite` of its expired
   * records, runs `fn`, and saves the counters.
   */
  private write<T>(
    space: string,
    install: string,
    fn: (
      kv: KvWriteOps,
      usage: { bytesUsed: number; keys: number; namespaces: number },
      nowMs: number,
    ) => Promise<T>,
  ): Promise<T> {
    this.onWrite(space);
    return this.pipeline.runWrite(space, async (ops) => {
      const nowMs = this.now();
      const usage = await ops.kv.lockInstall(install);
      await removeExpired(ops.kv, install, usage, nowMs, this.limits.cleanupPerWrite, this.cleanup);
      const result = await fn(ops.kv, usage, nowMs);
      await ops.kv.setUsage(install, usage);
      return result;
    });
  }

  /** A read of committed state; a space that does not exist reads as `empty` (and `missing` is told). */
  private async read<T>(
    space: string,
    fn: (kv: KvReadOps) => Promise<T>,
    empty: T,
    missing: () => void = () => undefined,
  ): Promise<T> {
    try {
      return await withSpaceReader(this.backend, space, (ops: SpaceReadOps) => fn(ops.kv));
    } catch (err) {
      if (isCairnError(err) && err.code === 'DocNotFound') {
        missing();
        return empty;
      }
      throw err;
    }
  }

  /** Every `cleanupEveryLists`-th list of an install also removes expired records (in the background). */
  private countList(space: string, install: string): void {
    const key = JSON.stringify([space, install]);
    const n = (this.listCounts.get(key) ?? 0) + 1;
    this.listCounts.set(key, n % this.limits.cleanupEveryLists);
    if (n % this.limits.cleanupEveryLists === 0)
      void this.sweep(space, install).catch(() => undefined);
  }
}

function checkIds(install: string, ns: string): void {
  checkInstall(install);
  checkNamespace(ns);
}

function view(row: KvRecordRow, values: boolean, metadata: boolean): KvRecordView {
  return {
    key: row.key,
    ...(values ? { value: JSON.parse(row.value) as JsonValue } : {}),
    ...(metadata ? { metadata: JSON.parse(row.metadata) as Record<string, JsonValue> } : {}),
    revision: row.revision,
    ...(row.ttlExpiresAt !== null ? { ttlExpiresAt: row.ttlExpiresAt } : {}),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

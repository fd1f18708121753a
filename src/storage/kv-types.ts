/**
 * Storage of extension KV records (SPEC §12), its own narrow interface
 * beside the documents: reached as `lease.store` … `ops.kv` of a space's
 * read or write ops, in the same connection and transaction. The rules
 * (visibility of expired records, revisions, quotas, schemas) live in
 * `src/kv/`; this layer stores rows and counters and takes the locks.
 *
 * Lock order (PostgreSQL; SQLite has one writer per space file): every KV
 * write takes its install's accounting row first (`lockInstall`), then
 * namespace rows, then records — never another order, so concurrent writers
 * of one install queue on one row and never deadlock, and quotas checked
 * under that lock are exact.
 */

/** One stored record. `value` and `metadata` are compact JSON text. */
export interface KvRecordRow {
  namespace: string;
  key: string;
  value: string;
  metadata: string;
  revision: number;
  /**
   * When it expires (ms since 1970); null: never. Expired at `nowMs` once
   * `ttlExpiresAt <= nowMs` (for `list`, `removeExpired`, `countExpired` and
   * `installsWithExpired` alike). An expired row may still be stored.
   */
  ttlExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
  /** UTF-8 bytes of `value` plus `metadata` (what counts against the byte quota). */
  bytes: number;
}

/** An install's counters: what its stored rows (expired ones too, until removed) use. */
export interface KvUsageRow {
  bytesUsed: number;
  keys: number;
  /** Namespaces holding at least one stored record. */
  namespaces: number;
}

/** A namespace's own row: its stored records, and the revision floor of re-created keys. */
export interface KvNamespaceRow {
  keys: number;
  /**
   * The highest revision any record of this namespace had when it was
   * deleted or removed after expiry; a key created now starts above it, so
   * a key's revisions never repeat (no ABA) without keeping tombstones.
   */
  revisionFloor: number;
}

export type KvSchemaStatus = 'draft' | 'active' | 'deprecated';

export interface KvSchemaRow {
  version: number;
  status: KvSchemaStatus;
  /** The JSON Schema as compact JSON text. */
  schema: string;
  createdAt: number;
}

/** A record removed after expiry: what the caller takes off the counters. */
export interface KvRemoved {
  namespace: string;
  key: string;
  revision: number;
  bytes: number;
}

export interface KvReadOps {
  /** The stored record, expired or not (the caller decides visibility with its clock). */
  get(install: string, namespace: string, key: string): Promise<KvRecordRow | undefined>;
  /**
   * Records of a namespace whose key starts with `prefix` (literally: `%`,
   * `_` and `\` are plain characters) and sorts after `afterKey` (byte
   * order; null: from the start), not expired at `nowMs`, in key byte
   * order, at most `limit`. Without `withBodies`, `value` and `metadata`
   * are '' (not read).
   */
  list(
    install: string,
    namespace: string,
    prefix: string,
    afterKey: string | null,
    nowMs: number,
    limit: number,
    withBodies: boolean,
  ): Promise<KvRecordRow[]>;
  /** The install's counters (all zero when it has none). */
  usage(install: string): Promise<KvUsageRow>;
  namespace(install: string, namespace: string): Promise<KvNamespaceRow | undefined>;
  /** A namespace's schemas, by version ascending. */
  schemas(install: string, namespace: string): Promise<KvSchemaRow[]>;
  /**
   * Records of the whole space expired at `nowMs` and still stored, counted
   * up to `cap` (metrics). Like `installsWithExpired`, it looks through the
   * installs that have their accounting row: every write creates it first
   * (`lockInstall`).
   */
  countExpired(nowMs: number, cap: number): Promise<number>;
  /**
   * Installs with a record expired at `nowMs`, in byte order, at most
   * `limit` (the background sweep).
   */
  installsWithExpired(nowMs: number, limit: number): Promise<string[]>;
}

export interface KvWriteOps extends KvReadOps {
  /**
   * The first step of every KV write: locks the install's accounting row
   * (creating it at zero if absent) and returns its counters.
   */
  lockInstall(install: string): Promise<KvUsageRow>;
  /**
   * Sets the install's counters (after the caller's arithmetic under the
   * lock); creates the row if absent.
   */
  setUsage(install: string, usage: KvUsageRow): Promise<void>;
  /** Locks (creating at zero if absent) and returns a namespace's row. */
  lockNamespace(install: string, namespace: string): Promise<KvNamespaceRow>;
  /** Sets a namespace's row (under the install's lock); creates it if absent. */
  setNamespace(install: string, namespace: string, row: KvNamespaceRow): Promise<void>;
  /**
   * Inserts or replaces a record (every field, by install, namespace and
   * key). Counters are the caller's.
   */
  putRecord(install: string, row: KvRecordRow): Promise<void>;
  /** Deletes a stored record; whether one was there. */
  deleteRecord(install: string, namespace: string, key: string): Promise<boolean>;
  /**
   * Deletes up to `limit` records of the install expired at `nowMs`, those
   * that expired first; returns what it removed, in no particular order.
   * Counters and namespace rows are left to the caller.
   */
  removeExpired(install: string, nowMs: number, limit: number): Promise<KvRemoved[]>;
  /** Inserts or replaces a schema version of a namespace. */
  putSchema(install: string, namespace: string, row: KvSchemaRow): Promise<void>;
}

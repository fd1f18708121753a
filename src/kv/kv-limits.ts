/** The limits of extension KV storage (SPEC §10, §12), each with its reason. */
export interface KvLimits {
  /** A value's compact JSON, UTF-8 bytes: records are small state, not files. */
  valueBytes: number;
  /** A record's metadata: a few tags, not a second value. */
  metadataBytes: number;
  /** Records per namespace: a namespace lists and sweeps in bounded time. */
  keysPerNamespace: number;
  /** Namespaces per install: an install's schema set stays small. */
  namespacesPerInstall: number;
  /** Bytes per install: one extension cannot fill the database. */
  bytesPerInstall: number;
  /** Items and bytes of a bulk put: one write transaction stays short. */
  bulkItems: number;
  bulkBytes: number;
  /** TTL bounds: shorter is a cache's job, longer is not "expiring". */
  minTtlSeconds: number;
  maxTtlSeconds: number;
  /** Expired records one write removes before it runs (bounded work per request). */
  cleanupPerWrite: number;
  /** Every this-many lists of an install also remove expired records. */
  cleanupEveryLists: number;
  /** Compiled schemas kept (each holds generated code). */
  compiledSchemasKept: number;
}

export const DEFAULT_KV_LIMITS: Readonly<KvLimits> = Object.freeze({
  valueBytes: 64 * 1024,
  metadataBytes: 4 * 1024,
  keysPerNamespace: 5120,
  namespacesPerInstall: 32,
  bytesPerInstall: 256 * 1024 * 1024,
  bulkItems: 20,
  bulkBytes: 512 * 1024,
  minTtlSeconds: 60,
  maxTtlSeconds: 30 * 24 * 3600,
  cleanupPerWrite: 100,
  cleanupEveryLists: 16,
  compiledSchemasKept: 256,
});

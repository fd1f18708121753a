import { CairnError } from '../core/errors.js';
import type { KvRecordRow, KvWriteOps } from '../storage/kv-types.js';
import { brokenQuota, removeExpired, type KvCleanupStats } from './kv-accounting.js';
import type { KvLimits } from './kv-limits.js';
import type { MeasuredPut } from './kv-rules.js';

/** What one put did. */
export interface PutResult {
  created: boolean;
  row: KvRecordRow;
}

/** A record is live at `nowMs` unless it has expired (visibility never waits for cleanup). */
export const isLive = (row: KvRecordRow | undefined, nowMs: number): row is KvRecordRow =>
  row !== undefined && (row.ttlExpiresAt === null || row.ttlExpiresAt > nowMs);

/**
 * One put inside a KV write transaction whose install row the caller
 * locked (`usage` is its counters, updated here and saved by the caller).
 * Lock order: install (caller) → namespace → record. Checks `ifAbsent` /
 * `ifRevision` against the live record, the quotas (after removing every
 * expired record of the install, if one would break), then stores it.
 */
export async function applyPut(
  kv: KvWriteOps,
  at: { install: string; namespace: string; nowMs: number },
  usage: { bytesUsed: number; keys: number; namespaces: number },
  put: MeasuredPut,
  limits: KvLimits,
  stats: KvCleanupStats,
): Promise<PutResult> {
  const { install, namespace, nowMs } = at;
  let ns = await kv.lockNamespace(install, namespace);
  let stored = await kv.get(install, namespace, put.key);
  const live = isLive(stored, nowMs) ? stored : undefined;
  if (put.ifAbsent && live) {
    throw new CairnError('RevisionMismatch', `key ${put.key} exists`, {
      key: put.key,
      currentRevision: live.revision,
    });
  }
  if (put.ifRevision !== undefined && live?.revision !== put.ifRevision) {
    throw new CairnError(
      'RevisionMismatch',
      `key ${put.key} is not at revision ${put.ifRevision}`,
      {
        key: put.key,
        ...(live ? { currentRevision: live.revision } : {}),
      },
    );
  }
  const delta = () => ({
    bytes: put.bytes - (stored?.bytes ?? 0),
    keys: stored ? 0 : 1,
    namespaceKeys: stored ? 0 : 1,
    namespaces: stored || ns.keys > 0 ? 0 : 1,
  });
  let broken = brokenQuota(usage, ns.keys, delta(), limits);
  if (broken) {
    // Expired records still count until removed: remove them all, then check again (in
    // batches of at least one, whatever `cleanupPerWrite` says: 0 must not skip this).
    const batch = Math.max(1, limits.cleanupPerWrite);
    while ((await removeExpired(kv, install, usage, nowMs, batch, stats)) > 0);
    ns = await kv.lockNamespace(install, namespace);
    stored = await kv.get(install, namespace, put.key);
    broken = brokenQuota(usage, ns.keys, delta(), limits);
    if (broken) throw broken;
  }
  const d = delta();
  // A key's revisions never repeat: a new (or expired) key starts above the namespace floor.
  const floor = Math.max(ns.revisionFloor, stored && !live ? stored.revision : 0);
  const row: KvRecordRow = {
    namespace,
    key: put.key,
    value: put.valueText,
    metadata: put.metadataText,
    revision: live ? live.revision + 1 : floor + 1,
    ttlExpiresAt: put.ttlSeconds === undefined ? null : nowMs + put.ttlSeconds * 1000,
    createdAt: live ? live.createdAt : nowMs,
    updatedAt: nowMs,
    bytes: put.bytes,
  };
  await kv.putRecord(install, row);
  await kv.setNamespace(install, namespace, {
    keys: ns.keys + d.namespaceKeys,
    revisionFloor: floor,
  });
  usage.bytesUsed += d.bytes;
  usage.keys += d.keys;
  usage.namespaces += d.namespaces;
  return { created: !live, row };
}

/** One delete inside a KV write transaction (install locked by the caller). */
export async function applyDelete(
  kv: KvWriteOps,
  at: { install: string; namespace: string; nowMs: number },
  usage: { bytesUsed: number; keys: number; namespaces: number },
  key: string,
  ifRevision: number | undefined,
): Promise<boolean> {
  const { install, namespace, nowMs } = at;
  // The install is locked (the caller): reading the record first is safe, and a delete of
  // a key that is not there then creates no namespace row.
  const stored = await kv.get(install, namespace, key);
  const live = isLive(stored, nowMs) ? stored : undefined;
  if (ifRevision !== undefined && live?.revision !== ifRevision) {
    throw new CairnError('RevisionMismatch', `key ${key} is not at revision ${ifRevision}`, {
      key,
      ...(live ? { currentRevision: live.revision } : {}),
    });
  }
  if (!stored) return false;
  const ns = await kv.lockNamespace(install, namespace);
  await kv.deleteRecord(install, namespace, key);
  await kv.setNamespace(install, namespace, {
    keys: ns.keys - 1,
    revisionFloor: Math.max(ns.revisionFloor, stored.revision),
  });
  usage.bytesUsed -= stored.bytes;
  usage.keys -= 1;
  if (ns.keys === 1) usage.namespaces -= 1;
  return live !== undefined;
}

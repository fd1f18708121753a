import { CairnError } from '../core/errors.js';
import type { KvUsageRow, KvWriteOps } from '../storage/kv-types.js';
import type { KvLimits } from './kv-limits.js';

/** Expired records removed by writes and lists, for the TTL metric. */
export interface KvCleanupStats {
  removed: number;
}

/**
 * Removes up to `limit` of the install's expired records and takes them
 * off the counters: the install's (already locked by the caller: the lock
 * order is install → namespace → record) and each namespace's, whose
 * revision floor rises to the removed record's revision (no ABA).
 */
export async function removeExpired(
  kv: KvWriteOps,
  install: string,
  usage: KvUsageRow,
  nowMs: number,
  limit: number,
  stats: KvCleanupStats,
): Promise<number> {
  const removed = await kv.removeExpired(install, nowMs, limit);
  for (const r of removed) {
    const ns = await kv.lockNamespace(install, r.namespace);
    ns.keys -= 1;
    ns.revisionFloor = Math.max(ns.revisionFloor, r.revision);
    await kv.setNamespace(install, r.namespace, ns);
    usage.keys -= 1;
    usage.bytesUsed -= r.bytes;
    if (ns.keys === 0) usage.namespaces -= 1;
  }
  stats.removed += removed.length;
  return removed.length;
}

/** What a write adds to an install: bytes, keys, namespaces, and one namespace's keys. */
export interface UsageDelta {
  bytes: number;
  keys: number;
  namespaces: number;
  namespaceKeys: number;
}

/** The quota a delta would break, or undefined (limits inclusive). */
export function brokenQuota(
  usage: KvUsageRow,
  namespaceKeys: number,
  delta: UsageDelta,
  limits: KvLimits,
): CairnError | undefined {
  const checks: [string, number, number, number][] = [
    ['bytesPerInstall', usage.bytesUsed, delta.bytes, limits.bytesPerInstall],
    ['keysPerNamespace', namespaceKeys, delta.namespaceKeys, limits.keysPerNamespace],
    ['namespacesPerInstall', usage.namespaces, delta.namespaces, limits.namespacesPerInstall],
  ];
  for (const [limit, used, add, max] of checks) {
    if (add > 0 && used + add > max) {
      return new CairnError('QuotaExceeded', `${limit}: ${used} used + ${add} > ${max}`, {
        limit,
        used,
        requested: add,
        max,
      });
    }
  }
  return undefined;
}

/**
 * An in-memory model of extension KV storage (SPEC §12, docs/KV.md) for one
 * space, written from the SPEC and KV.md alone (nothing from src/): per
 * install the stored records (live ones, and expired ones until they are
 * removed), each namespace's revision floor, the list count that triggers a
 * cleanup, and whether the space exists yet.
 *
 * What it models exactly, and how:
 * - Visibility: a record is live at `now` while `ttlExpiresAt > now`.
 * - Removal of expired records: every write that succeeds first removes up
 *   to `cleanupPerWrite` of the install's expired records, those that
 *   expired first (the driver keeps expiry times unique per install, so
 *   which ones is never a tie); a put that would break a quota removes all
 *   of them, then checks again; every `cleanupEveryLists`-th list of an
 *   install (of an existing space) sweeps like a write that does nothing
 *   else. A write that fails keeps nothing, its cleanup included.
 * - Revisions: an update is the live revision + 1; a key created (or
 *   re-created over its own expired, still stored record) starts above the
 *   namespace's floor, the highest revision of any record of the namespace
 *   deleted, removed after expiry, or replaced after expiry.
 * - Usage: the UTF-8 bytes of compact JSON of value + metadata, the keys and
 *   the non-empty namespaces of everything stored (expired included).
 * - Quotas (inclusive), checked in the order bytes, keys per namespace,
 *   namespaces per install; only what a write adds is checked.
 *
 * Independently of the floor rule, it keeps every revision each key ever
 * had, so a test can also assert the SPEC's own promise (never repeats).
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface ModelLimits {
  valueBytes: number;
  metadataBytes: number;
  keysPerNamespace: number;
  namespacesPerInstall: number;
  bytesPerInstall: number;
  bulkItems: number;
  minTtlSeconds: number;
  maxTtlSeconds: number;
  cleanupPerWrite: number;
  cleanupEveryLists: number;
}

export interface ModelRecord {
  key: string;
  value: Json;
  metadata: Record<string, Json>;
  revision: number;
  ttlExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
  bytes: number;
}

export interface ModelPut {
  key: string;
  value: Json;
  metadata?: Record<string, Json>;
  ttlSeconds?: number;
  ifRevision?: number;
  ifAbsent?: boolean;
}

/** A refusal: the SPEC §9 code and the details a client sees. */
export interface ModelError {
  code: string;
  details: Record<string, unknown>;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ModelError };

export interface Usage {
  bytesUsed: number;
  keys: number;
  namespaces: number;
}

/** What a put answers: `{key, revision, ttlExpiresAt?, createdAt, updatedAt}` and whether it created. */
export interface Written {
  created: boolean;
  record: {
    key: string;
    revision: number;
    ttlExpiresAt?: number;
    createdAt: number;
    updatedAt: number;
  };
}

class Refusal extends Error {
  constructor(readonly error: ModelError) {
    super(error.code);
  }
}

const refuse = (code: string, details: Record<string, unknown> = {}): never => {
  throw new Refusal({ code, details });
};

const UTF8 = new TextEncoder();
export const utf8Bytes = (text: string) => UTF8.encode(text).byteLength;
/** Byte order of the keys' UTF-8 (what the SPEC orders by; JS `<` compares UTF-16 units). */
export const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

interface InstallState {
  /** namespace → key → stored record (live or expired-not-removed). */
  records: Map<string, Map<string, ModelRecord>>;
  /** namespace → revision floor. */
  floors: Map<string, number>;
}

function cloneInstall(s: InstallState): InstallState {
  return {
    records: new Map([...s.records].map(([ns, m]) => [ns, new Map(m)])),
    floors: new Map(s.floors),
  };
}

export const isLive = (r: ModelRecord | undefined, now: number): r is ModelRecord =>
  r !== undefined && (r.ttlExpiresAt === null || r.ttlExpiresAt > now);

export class KvOracle {
  private readonly installs = new Map<string, InstallState>();
  private readonly listCounts = new Map<string, number>();
  /** Every revision each key ever had, by JSON [install, namespace, key]. */
  readonly history = new Map<string, number[]>();
  /** The space exists once a write to it has succeeded (a refused one creates nothing). */
  spaceExists = false;
  /** Expired records removed so far (by writes, quota cleanups and sweeps). */
  removedCount = 0;
  /** Puts that broke a quota until every expired record was removed, and then did not. */
  quotaCleanups = 0;

  constructor(readonly limits: ModelLimits) {}

  // ---- reads ---------------------------------------------------------------

  get(install: string, ns: string, key: string, now: number, ifRevision?: number) {
    const r = this.state(install).records.get(ns)?.get(key);
    if (!isLive(r, now))
      return { ok: false, error: { code: 'KeyNotFound', details: { key } } } as const;
    if (ifRevision !== undefined && r.revision !== ifRevision) {
      return {
        ok: false,
        error: { code: 'RevisionMismatch', details: { key, currentRevision: r.revision } },
      } as const;
    }
    return { ok: true, value: r } as const;
  }

  /** Every live record of a namespace whose key starts with `prefix` (literally), in key byte order. */
  listAll(install: string, ns: string, prefix: string, now: number): ModelRecord[] {
    const m = this.state(install).records.get(ns) ?? new Map<string, ModelRecord>();
    return [...m.values()]
      .filter((r) => isLive(r, now) && r.key.startsWith(prefix))
      .sort((a, b) => byteOrder(a.key, b.key));
  }

  /**
   * One page of a listing was answered: counts it, and returns whether this
   * list was an install's `cleanupEveryLists`-th (the caller waits for that
   * sweep, then calls `sweep`). Lists of a space that does not exist count
   * nothing.
   */
  listed(install: string): boolean {
    if (!this.spaceExists) return false;
    const n = (this.listCounts.get(install) ?? 0) + 1;
    this.listCounts.set(install, n % this.limits.cleanupEveryLists);
    return n % this.limits.cleanupEveryLists === 0;
  }

  usage(install: string): Usage {
    return this.usageOf(this.state(install));
  }

  /** Everything stored, expired included: [namespace, record]. */
  stored(install: string): [string, ModelRecord][] {
    const out: [string, ModelRecord][] = [];
    for (const [ns, m] of this.state(install).records)
      for (const r of m.values()) out.push([ns, r]);
    return out;
  }

  floor(install: string, ns: string): number {
    return this.state(install).floors.get(ns) ?? 0;
  }

  installNames(): string[] {
    return [...this.installs.keys()];
  }

  /** Whether a stored record of the install expires at `at` (the driver keeps expiries unique). */
  expiryTaken(install: string, at: number): boolean {
    return this.stored(install).some(([, r]) => r.ttlExpiresAt === at);
  }

  // ---- writes --------------------------------------------------------------

  /** A bulk put (one item: a plain put): all or nothing. */
  put(install: string, ns: string, puts: ModelPut[], now: number): Outcome<Written[]> {
    try {
      this.checkPuts(puts);
    } catch (err) {
      if (err instanceof Refusal) return { ok: false, error: err.error };
      throw err;
    }
    return this.write(install, now, (s) => puts.map((p) => this.applyPut(s, install, ns, p, now)));
  }

  delete(install: string, ns: string, key: string, now: number, ifRevision?: number) {
    return this.write(install, now, (s) => {
      const m = s.records.get(ns);
      const stored = m?.get(key);
      const live = isLive(stored, now) ? stored : undefined;
      if (ifRevision !== undefined && live?.revision !== ifRevision) {
        refuse('RevisionMismatch', { key, ...(live ? { currentRevision: live.revision } : {}) });
      }
      if (!stored || !m) return false;
      m.delete(key);
      s.floors.set(ns, Math.max(s.floors.get(ns) ?? 0, stored.revision));
      return live !== undefined;
    });
  }

  /** A sweep (background, or every `cleanupEveryLists`-th list): a write that only cleans. */
  sweep(install: string, now: number): void {
    const out = this.write(install, now, () => undefined);
    if (!out.ok) throw new Error('oracle: a sweep cannot fail');
  }

  // ---- internals -----------------------------------------------------------

  private state(install: string): InstallState {
    let s = this.installs.get(install);
    if (!s) {
      s = { records: new Map(), floors: new Map() };
      this.installs.set(install, s);
    }
    return s;
  }

  /** Runs a write on a copy of the install's state, after its cleanup; keeps it only if it succeeds. */
  private write<T>(install: string, now: number, fn: (s: InstallState) => T): Outcome<T> {
    const s = cloneInstall(this.state(install));
    const removedBefore = this.removedCount;
    const history = new Map([...this.history].map(([k, v]) => [k, [...v]]));
    try {
      this.removeExpired(s, now, this.limits.cleanupPerWrite);
      const value = fn(s);
      this.installs.set(install, s);
      this.spaceExists = true;
      return { ok: true, value };
    } catch (err) {
      this.removedCount = removedBefore;
      this.history.clear();
      for (const [k, v] of history) this.history.set(k, v);
      if (err instanceof Refusal) return { ok: false, error: err.error };
      throw err;
    }
  }

  /** Removes up to `limit` expired records, those that expired first; the floors rise. */
  private removeExpired(s: InstallState, now: number, limit: number): number {
    const expired: [string, ModelRecord][] = [];
    for (const [ns, m] of s.records) {
      for (const r of m.values())
        if (r.ttlExpiresAt !== null && r.ttlExpiresAt <= now) expired.push([ns, r]);
    }
    expired.sort(([, a], [, b]) => (a.ttlExpiresAt as number) - (b.ttlExpiresAt as number));
    const taken = expired.slice(0, limit);
    const next = expired[limit];
    const last = taken.at(-1);
    if (next && last && next[1].ttlExpiresAt === last[1].ttlExpiresAt) {
      throw new Error('oracle: two expired records share an expiry (the driver must avoid it)');
    }
    for (const [ns, r] of taken) {
      s.records.get(ns)?.delete(r.key);
      s.floors.set(ns, Math.max(s.floors.get(ns) ?? 0, r.revision));
    }
    this.removedCount += taken.length;
    return taken.length;
  }

  /** The checks of a put before any write: sizes, TTL range, conditions, bulk shape. */
  private checkPuts(puts: ModelPut[]): void {
    const l = this.limits;
    if (puts.length === 0 || puts.length > l.bulkItems)
      refuse('LimitExceeded', { limit: 'bulkItems' });
    for (const p of puts) {
      const valueBytes = utf8Bytes(JSON.stringify(p.value));
      if (valueBytes > l.valueBytes) refuse('LimitExceeded', { limit: 'valueBytes', key: p.key });
      const metaBytes = utf8Bytes(JSON.stringify(p.metadata ?? {}));
      if (metaBytes > l.metadataBytes)
        refuse('LimitExceeded', { limit: 'metadataBytes', key: p.key });
      const ttl = p.ttlSeconds;
      if (
        ttl !== undefined &&
        !(Number.isInteger(ttl) && ttl >= l.minTtlSeconds && ttl <= l.maxTtlSeconds)
      ) {
        refuse('ValidationError', { key: p.key });
      }
      if (p.ifAbsent && p.ifRevision !== undefined) refuse('ValidationError', { key: p.key });
    }
    if (new Set(puts.map((p) => p.key)).size !== puts.length) refuse('ValidationError');
  }

  private applyPut(
    s: InstallState,
    install: string,
    ns: string,
    p: ModelPut,
    now: number,
  ): Written {
    let m = s.records.get(ns);
    if (!m) {
      m = new Map();
      s.records.set(ns, m);
    }
    const records = m;
    let stored = records.get(p.key);
    const live = isLive(stored, now) ? stored : undefined;
    if (p.ifAbsent && live)
      refuse('RevisionMismatch', { key: p.key, currentRevision: live.revision });
    if (p.ifRevision !== undefined && live?.revision !== p.ifRevision) {
      refuse('RevisionMismatch', {
        key: p.key,
        ...(live ? { currentRevision: live.revision } : {}),
      });
    }
    const bytes = utf8Bytes(JSON.stringify(p.value)) + utf8Bytes(JSON.stringify(p.metadata ?? {}));
    const broken = () => {
      const usage = this.usageOf(s);
      const nsKeys = records.size;
      const checks: [string, number, number, number][] = [
        [
          'bytesPerInstall',
          usage.bytesUsed,
          bytes - (stored?.bytes ?? 0),
          this.limits.bytesPerInstall,
        ],
        ['keysPerNamespace', nsKeys, stored ? 0 : 1, this.limits.keysPerNamespace],
        [
          'namespacesPerInstall',
          usage.namespaces,
          stored || nsKeys > 0 ? 0 : 1,
          this.limits.namespacesPerInstall,
        ],
      ];
      for (const [limit, used, requested, max] of checks) {
        if (requested > 0 && used + requested > max) return { limit, used, requested, max };
      }
      return undefined;
    };
    if (broken()) {
      // Expired records count until removed: a write that would break a quota removes them all first.
      this.removeExpired(s, now, Number.MAX_SAFE_INTEGER);
      stored = records.get(p.key);
      const still = broken();
      if (still) refuse('QuotaExceeded', still);
      this.quotaCleanups++;
    }
    const floor = Math.max(s.floors.get(ns) ?? 0, stored && !live ? stored.revision : 0);
    s.floors.set(ns, floor);
    const record: ModelRecord = {
      key: p.key,
      value: p.value,
      metadata: p.metadata ?? {},
      revision: live ? live.revision + 1 : floor + 1,
      ttlExpiresAt: p.ttlSeconds === undefined ? null : now + p.ttlSeconds * 1000,
      createdAt: live ? live.createdAt : now,
      updatedAt: now,
      bytes,
    };
    records.set(p.key, record);
    const id = JSON.stringify([install, ns, p.key]);
    this.history.set(id, [...(this.history.get(id) ?? []), record.revision]);
    return {
      created: !live,
      record: {
        key: record.key,
        revision: record.revision,
        ...(record.ttlExpiresAt !== null ? { ttlExpiresAt: record.ttlExpiresAt } : {}),
        createdAt: record.createdAt,
        updatedAt: record.updatedAt,
      },
    };
  }

  private usageOf(s: InstallState): Usage {
    let bytesUsed = 0;
    let keys = 0;
    let namespaces = 0;
    for (const m of s.records.values()) {
      if (m.size > 0) namespaces++;
      for (const r of m.values()) {
        bytesUsed += r.bytes;
        keys++;
      }
    }
    return { bytesUsed, keys, namespaces };
  }
}

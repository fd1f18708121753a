import { errorCodeOf, HttpFailure, type HttpAnswer, type HttpClient } from '../../lib/http.js';
import { OK, type Outcome } from '../../lib/recorder.js';
import type { KeySet } from './keys.js';
import {
  BULK_ITEMS,
  BULK_MAX_BYTES,
  SOFT_KEYS_PER_NAMESPACE,
  bulkItemBytes,
  makeValue,
  valueBytes,
} from './values.js';

/** One namespace of one install of one tenant, and the keys known in it. */
export interface Namespace {
  /** `/v1/<space>/kv/<install>/<namespace>` */
  base: string;
  keys: KeySet;
  /** Pre-filled with the list-scan records (`p-0000`…). */
  big: boolean;
}

/** The plan's shares (docs/KV.md load plan; see the kv scenario). */
export const MIX = {
  /** Of all ops: reads, writes; the rest are deletes. */
  read: 0.7,
  write: 0.25,
  /** Of reads: list scans (the rest are gets). */
  list: 0.01,
  /** Of writes: 20-item bulk puts (the rest are single puts). */
  bulk: 0.02,
  /** Of gets: a key never written (404 KeyNotFound expected). */
  miss: 0.05,
  /** Of gets of a known key: with ?ifRevision= (the known one). */
  getIfRevision: 0.05,
  /** Of single puts when the namespace has keys: an update of one (else a new key). */
  update: 0.5,
  /** Of updates: with ifRevision (RevisionMismatch expected when racing). */
  putIfRevision: 0.25,
  /** Of creates: with ifAbsent (fresh keys: must always succeed). */
  ifAbsent: 0.5,
  /** Of writes and bulk items: with a TTL (60 s – 1 h). */
  ttl: 0.1,
  /** Of writes: with metadata. */
  metadata: 0.3,
  /** Of deletes: with ?ifRevision=. */
  deleteIfRevision: 0.2,
} as const;

type Body = Record<string, unknown>;

const fail = (code: string, detail = ''): Outcome => ({ kind: 'error', code, detail });
const expected = (code: string): Outcome => ({ kind: 'expected', code });

/** Sends a request; a transport failure or timeout becomes its code. */
async function send(
  http: HttpClient,
  method: string,
  path: string,
  body?: unknown,
): Promise<HttpAnswer | Outcome> {
  try {
    return await http.request(method, path, body);
  } catch (err) {
    return err instanceof HttpFailure ? fail(err.code, err.message) : fail('Client', String(err));
  }
}

const isOutcome = (a: HttpAnswer | Outcome): a is Outcome => 'kind' in a;

function unexpected(a: HttpAnswer, what: string): Outcome {
  return fail(errorCodeOf(a), `${what}: ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
}

function currentRevision(a: HttpAnswer): number {
  const e = (
    a.body as { error?: { currentRevision?: unknown; details?: { currentRevision?: unknown } } }
  )?.error;
  const v = e?.details?.currentRevision ?? e?.currentRevision;
  return typeof v === 'number' ? v : 0;
}

const revisionOf = (a: HttpAnswer) => Number((a.body as { revision?: unknown })?.revision ?? 0);

/**
 * The KV operations of the plan, each checked against what the loadgen
 * knows: a read never sees a revision older than one acknowledged before it
 * was sent, an acknowledged key is never missing (unless deleted or expired
 * meanwhile), a fresh key is created (201), a delete of a live key deletes.
 * Only the errors the plan provokes are expected: KeyNotFound for a key
 * never written or deleted meanwhile, RevisionMismatch for a conditional
 * request that raced another write.
 */
export class KvOps {
  constructor(
    private readonly http: HttpClient,
    private readonly rand: () => number,
  ) {}

  private recordPath(ns: Namespace, key: string, query = ''): string {
    return `${ns.base}/records/${encodeURIComponent(key)}${query}`;
  }

  private putBody(tag: string, bytes: number): { body: Body; ttl: number | undefined } {
    const body: Body = { value: makeValue(bytes, tag) };
    let ttl: number | undefined;
    if (this.rand() < MIX.ttl) {
      ttl = 60 + Math.floor(this.rand() * 3540);
      body.ttlSeconds = ttl;
    }
    if (this.rand() < MIX.metadata) body.metadata = { source: 'loadgen', tag };
    return { body, ttl };
  }

  async get(ns: Namespace, slot: number): Promise<Outcome> {
    const key = ns.keys.size > 0 && this.rand() >= MIX.miss ? ns.keys.pick(this.rand) : undefined;
    if (key === undefined) {
      const a = await send(this.http, 'GET', this.recordPath(ns, `missing-${slot}`));
      if (isOutcome(a)) return a;
      if (a.status === 404 && errorCodeOf(a) === 'KeyNotFound') return expected('KeyNotFound');
      return unexpected(a, 'get of a key never written');
    }
    const known = ns.keys.revisionOf(key);
    const conditional = this.rand() < MIX.getIfRevision;
    const a = await send(
      this.http,
      'GET',
      this.recordPath(ns, key, conditional ? `?ifRevision=${known}` : ''),
    );
    if (isOutcome(a)) return a;
    const raced = () => ns.keys.wasDeleted(key) || ns.keys.mayHaveExpired(key);
    if (a.status === 200) {
      const rev = revisionOf(a);
      if (rev < known)
        return fail('StaleRead', `${key}: revision ${rev} after ${known} was acknowledged`);
      return OK;
    }
    const code = errorCodeOf(a);
    if (a.status === 404 && code === 'KeyNotFound') {
      return raced()
        ? expected(code)
        : fail('LostKey', `${key} (revision ${known} acknowledged) not found`);
    }
    if (a.status === 409 && code === 'RevisionMismatch' && conditional) {
      const current = currentRevision(a);
      if (current > known || raced()) return expected(code);
      return fail(
        'StaleRead',
        `${key}: currentRevision ${current} after ${known} was acknowledged`,
      );
    }
    return unexpected(a, `get ${key}`);
  }

  async list(ns: Namespace): Promise<Outcome> {
    const params = new URLSearchParams({ limit: '100' });
    if (this.rand() < 0.75) params.set('includeValues', 'true');
    if (ns.big) {
      const r = this.rand();
      const digits = String(Math.floor(this.rand() * 100)).padStart(2, '0');
      if (r < 1 / 3) params.set('prefix', `p-${digits.slice(0, 1)}`);
      else if (r < 2 / 3) params.set('prefix', `p-${digits}`);
    }
    const a = await send(this.http, 'GET', `${ns.base}/records?${params.toString()}`);
    if (isOutcome(a)) return a;
    if (a.status === 200 && Array.isArray((a.body as { items?: unknown })?.items)) return OK;
    return unexpected(a, 'list');
  }

  async put(ns: Namespace, slot: number): Promise<Outcome> {
    const keys = ns.keys;
    const update =
      keys.size > 0 && (this.rand() < MIX.update || keys.projected >= SOFT_KEYS_PER_NAMESPACE);
    const { body, ttl } = this.putBody(`s${slot}`, valueBytes(this.rand));
    if (!update) {
      const key = keys.freshKey();
      if (this.rand() < MIX.ifAbsent) body.ifAbsent = true;
      keys.creating++;
      const a = await send(this.http, 'PUT', this.recordPath(ns, key), body);
      keys.creating--;
      if (isOutcome(a)) return a;
      if (a.status === 201) {
        keys.ack(key, revisionOf(a), ttl);
        return OK;
      }
      return unexpected(a, `create ${key}`);
    }
    const key = keys.pick(this.rand) as string;
    const known = keys.revisionOf(key);
    const conditional = this.rand() < MIX.putIfRevision;
    if (conditional) body.ifRevision = known;
    const a = await send(this.http, 'PUT', this.recordPath(ns, key), body);
    if (isOutcome(a)) return a;
    if (a.status === 200 || a.status === 201) {
      if (a.status === 201 && !keys.wasDeleted(key) && !keys.mayHaveExpired(key)) {
        return fail('LostKey', `update of ${key} (revision ${known} acknowledged) created it anew`);
      }
      keys.ack(key, revisionOf(a), ttl);
      return OK;
    }
    const code = errorCodeOf(a);
    if (a.status === 409 && code === 'RevisionMismatch' && conditional) return expected(code);
    return unexpected(a, `update ${key}`);
  }

  async bulkPut(ns: Namespace, slot: number): Promise<Outcome> {
    const keys = ns.keys;
    const items: Body[] = [];
    const fresh = new Set<string>();
    const ttls = new Map<string, number | undefined>();
    const used = new Set<string>();
    let bytes = 0;
    for (let i = 0; i < BULK_ITEMS; i++) {
      let key: string | undefined;
      if (keys.projected + fresh.size < SOFT_KEYS_PER_NAMESPACE) {
        key = keys.freshKey();
        fresh.add(key);
      } else {
        for (let tries = 0; tries < 5 && (key === undefined || used.has(key)); tries++) {
          key = keys.pick(this.rand);
        }
        if (key === undefined || used.has(key)) continue;
      }
      used.add(key);
      const size = Math.min(bulkItemBytes(this.rand), BULK_MAX_BYTES - 8 * 1024 - bytes);
      if (size < 64) break;
      bytes += size + 200;
      const { body, ttl } = this.putBody(`b${slot}.${i}`, size);
      ttls.set(key, ttl);
      items.push({ key, ...body });
    }
    keys.creating += fresh.size;
    const a = await send(this.http, 'POST', `${ns.base}/records`, { items });
    keys.creating -= fresh.size;
    if (isOutcome(a)) return a;
    const done = (a.body as { items?: { key: string; revision: number }[] })?.items;
    if (a.status === 200 && Array.isArray(done) && done.length === items.length) {
      for (const d of done) keys.ack(d.key, d.revision, ttls.get(d.key));
      return OK;
    }
    return unexpected(a, `bulk put of ${items.length} items`);
  }

  async delete(ns: Namespace, slot: number): Promise<Outcome> {
    const keys = ns.keys;
    const key = keys.pick(this.rand);
    if (key === undefined) {
      const a = await send(this.http, 'DELETE', this.recordPath(ns, `missing-${slot}`));
      if (isOutcome(a)) return a;
      if (a.status === 200 && (a.body as { deleted?: unknown })?.deleted === false) return OK;
      return unexpected(a, 'delete of a key never written');
    }
    const expiring = keys.mayHaveExpired(key);
    const known = keys.remove(key);
    const conditional = this.rand() < MIX.deleteIfRevision;
    const a = await send(
      this.http,
      'DELETE',
      this.recordPath(ns, key, conditional ? `?ifRevision=${known}` : ''),
    );
    if (isOutcome(a)) return a;
    const deleted = (a.body as { deleted?: unknown })?.deleted;
    if (a.status === 200 && (deleted === true || (deleted === false && expiring))) return OK;
    if (a.status === 200 && deleted === false) {
      return fail('LostKey', `delete of ${key} (revision ${known} acknowledged) found nothing`);
    }
    const code = errorCodeOf(a);
    if (a.status === 409 && code === 'RevisionMismatch' && conditional) {
      keys.restore(key, currentRevision(a));
      return expected(code);
    }
    return unexpected(a, `delete ${key}`);
  }
}

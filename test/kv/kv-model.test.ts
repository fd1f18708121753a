import { describe, expect, it } from 'vitest';
import type { KvRecordRow } from '../../src/storage/kv-types.js';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';
import { SeededRandom, testSeed } from '../helpers/seeded-random.js';
import {
  byteOrder,
  isLive,
  KvOracle,
  utf8Bytes,
  type Json,
  type ModelError,
  type ModelLimits,
  type ModelPut,
  type ModelRecord,
  type Outcome,
  type Usage,
} from './kv-oracle.js';

/**
 * Model-based test of extension KV storage (SPEC §12): a seeded random
 * sequence of puts (TTL or not; ifRevision right and wrong; ifAbsent), bulk
 * puts, deletes (ifRevision or not), gets, paged prefix lists, usage reads,
 * sweeps, clock moves past TTLs and bad requests goes to the engine — over
 * HTTP or through `cairn.kv(space)`, chosen per step — and to the oracle of
 * ./kv-oracle.ts. Every answer (status, body, error code and details) must
 * agree; at the end the usage counters equal a recount of what is stored,
 * the stored rows and namespace floors equal the oracle's, and no key ever
 * had a revision twice. `CAIRN_SEED=<n>` replays one seed; `CAIRN_STEPS`
 * changes the number of steps per seed.
 */

const STEPS = Number(process.env.CAIRN_STEPS ?? 200);
/** Each seed stops early (with a warning) past this much time (the background sweep runs every 60 s). */
const SEED_BUDGET_MS = 25_000;
const base = testSeed();
const SEEDS = process.env.CAIRN_SEED ? [base] : [0, 1, 2, 3, 4, 5].map((i) => base + i);

const INSTALLS = ['app-1', 'app-2'];
/** The third namespace is rarer: with 2 namespaces per install, it mostly meets the quota. */
const NAMESPACES: readonly [string, number][] = [
  ['alpha', 5],
  ['beta', 4],
  ['gamma', 1],
];
/** Keys whose UTF-8 byte order differs from UTF-16 order ('ｚ' < '😀' in UTF-16, not in UTF-8). */
const KEYS = ['a', 'a%', 'a_b', 'a\\b', 'ab', 'abc', 'b', 'b c', 'Z', 'é', 'éa', 'ｚ', '😀', '😀x'];
const PREFIXES = ['', '', 'a', 'a%', 'a_', 'a\\', 'ab', 'b', 'é', 'ｚ', '😀', 'q'];
const STATUS: Record<string, number> = {
  ValidationError: 400,
  KeyNotFound: 404,
  RevisionMismatch: 409,
  LimitExceeded: 413,
  QuotaExceeded: 429,
};

let clockMs = Date.UTC(2026, 0, 1);

function weighted<T>(r: SeededRandom, items: readonly [T, number][]): T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  let x = r.next() * total;
  for (const [item, w] of items) {
    x -= w;
    if (x < 0) return item;
  }
  return (items[items.length - 1] as [T, number])[0];
}

function randomText(r: SeededRandom, max: number): string {
  const alphabet = ['a', 'b', 'z', ' ', 'é', '中', '😀', '"', '\\', '%'];
  return Array.from({ length: r.int(max + 1) }, () => r.pick(alphabet)).join('');
}

function randomValue(r: SeededRandom, depth = 0): Json {
  switch (r.int(depth > 1 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return r.int(100_000) - 50_000;
    case 2:
      return r.chance(0.5);
    case 3:
    case 4:
      return randomText(r, 12);
    case 5:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: r.int(3) }, (_, i) => [`k${i}`, randomValue(r, depth + 1)]),
      );
  }
}

/** An engine's answer, the same shape for HTTP and the library. */
type Answer<T> =
  { ok: true; value: T; status?: number } | { ok: false; error: ModelError; status?: number };

interface ListPage {
  items: {
    key: string;
    value?: unknown;
    metadata?: unknown;
    revision: number;
    ttlExpiresAt?: number;
    createdAt: number;
    updatedAt: number;
  }[];
  nextCursor?: string;
}

type Written = unknown;

/** The engine's KV operations, over HTTP (`cairn.fetch`) or through `cairn.kv(space)`. */
interface Transport {
  name: 'http' | 'lib';
  put(
    install: string,
    ns: string,
    p: ModelPut,
  ): Promise<Answer<{ created?: boolean; record: Written }>>;
  putMany(
    install: string,
    ns: string,
    items: ModelPut[],
  ): Promise<Answer<{ created?: boolean; record: Written }[]>>;
  delete(install: string, ns: string, key: string, ifRevision?: number): Promise<Answer<boolean>>;
  get(
    install: string,
    ns: string,
    key: string,
    ifRevision?: number,
  ): Promise<Answer<Record<string, unknown>>>;
  list(
    install: string,
    ns: string,
    q: { prefix: string; cursor?: string; limit: number; values: boolean; metadata: boolean },
  ): Promise<Answer<ListPage>>;
  usage(install: string): Promise<Answer<Usage>>;
}

function httpTransport(e: TestEngine): Transport {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await e.cairn.fetch(
      new Request(`http://cairn.test/v1/${SPACE}/kv/${path}`, {
        method,
        ...(body !== undefined
          ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
          : {}),
      }),
    );
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 400) {
      const {
        code,
        message: _m,
        requestId: _r,
        ...details
      } = json.error as Record<string, unknown>;
      return { ok: false as const, status: res.status, error: { code: code as string, details } };
    }
    return { ok: true as const, status: res.status, value: json };
  };
  const rec = (install: string, ns: string, key: string) =>
    `${install}/${ns}/records/${encodeURIComponent(key)}`;
  const q = (ifRevision?: number) => (ifRevision === undefined ? '' : `?ifRevision=${ifRevision}`);
  return {
    name: 'http',
    put: async (install, ns, { key, ...body }) => {
      const a = await call('PUT', rec(install, ns, key), body);
      return a.ok ? { ...a, value: { created: a.status === 201, record: a.value } } : a;
    },
    putMany: async (install, ns, items) => {
      const a = await call('POST', `${install}/${ns}/records`, { items });
      return a.ok ? { ...a, value: (a.value.items as Written[]).map((record) => ({ record })) } : a;
    },
    delete: async (install, ns, key, ifRevision) => {
      const a = await call('DELETE', `${rec(install, ns, key)}${q(ifRevision)}`);
      return a.ok ? { ...a, value: a.value.deleted as boolean } : a;
    },
    get: (install, ns, key, ifRevision) => call('GET', `${rec(install, ns, key)}${q(ifRevision)}`),
    list: async (install, ns, o) => {
      const params = new URLSearchParams({ prefix: o.prefix, limit: String(o.limit) });
      if (o.cursor !== undefined) params.set('cursor', o.cursor);
      if (o.values) params.set('includeValues', 'true');
      if (o.metadata) params.set('includeMetadata', 'true');
      const a = await call('GET', `${install}/${ns}/records?${params}`);
      return a.ok ? { ...a, value: a.value as unknown as ListPage } : a;
    },
    usage: async (install) => {
      const a = await call('GET', `${install}/usage`);
      return a.ok ? { ...a, value: a.value as unknown as Usage } : a;
    },
  };
}

function libTransport(e: TestEngine): Transport {
  const kv = () => e.cairn.kv(SPACE);
  const answer = async <T>(run: () => Promise<T>): Promise<Answer<T>> => {
    try {
      return { ok: true, value: await run() };
    } catch (err) {
      const { code, details } = err as { code?: string; details?: Record<string, unknown> };
      if (typeof code !== 'string') throw err;
      return { ok: false, error: { code, details: { ...details } } };
    }
  };
  return {
    name: 'lib',
    put: (install, ns, p) => answer(() => kv().put(install, ns, p)),
    putMany: (install, ns, items) => answer(() => kv().putMany(install, ns, items)),
    delete: (install, ns, key, ifRevision) =>
      answer(() => kv().delete(install, ns, key, ifRevision)),
    get: (install, ns, key, ifRevision) =>
      answer(async () => ({ ...(await kv().get(install, ns, key, ifRevision)) })),
    list: (install, ns, o) => answer(() => kv().list(install, ns, o)),
    usage: (install) =>
      answer(async () => {
        const { bytesUsed, keys, namespaces } = await kv().usage(install);
        return { bytesUsed, keys, namespaces };
      }),
  };
}

/** What the API shows of a record: every field, value and metadata only when asked for. */
function shown(r: ModelRecord, values = true, metadata = true): Record<string, unknown> {
  return {
    key: r.key,
    ...(values ? { value: r.value } : {}),
    ...(metadata ? { metadata: r.metadata } : {}),
    revision: r.revision,
    ...(r.ttlExpiresAt !== null ? { ttlExpiresAt: r.ttlExpiresAt } : {}),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

class KvModelRun {
  readonly r: SeededRandom;
  readonly limits: ModelLimits;
  readonly oracle: KvOracle;
  readonly transports: Transport[] = [];
  /** The engine under test (`attach`). */
  engine: TestEngine | undefined;
  /** How often a put has a TTL: some seeds pile up expired records, some hardly any. */
  readonly ttlOdds: number;
  /** What the current step did, for failure messages. */
  note = '';
  /** Outcomes by operation, printed so a reader sees what each seed exercised. */
  readonly outcomes = new Map<string, number>();

  constructor(
    readonly seed: number,
    limitsOf: (r: SeededRandom) => ModelLimits,
  ) {
    this.r = new SeededRandom(seed);
    this.limits = limitsOf(this.r);
    this.oracle = new KvOracle(this.limits);
    this.ttlOdds = this.r.pick([0.15, 0.3, 0.6]);
  }

  /** Every step goes over HTTP or through `cairn.kv(space)`, picked at random. */
  attach(e: TestEngine): void {
    this.transports.push(httpTransport(e), libTransport(e));
    this.engine = e;
  }

  private get e(): TestEngine {
    return this.engine as TestEngine;
  }

  private count(what: string): void {
    this.outcomes.set(what, (this.outcomes.get(what) ?? 0) + 1);
  }

  private tally<T>(op: string, a: Answer<T>): void {
    this.count(`${op}:${a.ok ? 'ok' : a.error.code}`);
  }

  /** The engine's answer agrees with the oracle's: the same success, or the same error code and details. */
  private agree<T, U>(
    a: Answer<T>,
    m: Outcome<U>,
    t: Transport,
    same: (actual: T, expected: U) => void,
  ): void {
    if (m.ok) {
      if (!a.ok) throw new Error(`expected success, got ${JSON.stringify(a.error)}`);
      same(a.value, m.value);
      return;
    }
    if (a.ok) throw new Error(`expected ${m.error.code}, got success ${JSON.stringify(a.value)}`);
    expect(a.error.code).toBe(m.error.code);
    if (t.name === 'http') expect(a.status).toBe(STATUS[m.error.code]);
    const fields =
      m.error.code === 'RevisionMismatch'
        ? ['currentRevision']
        : Object.keys(m.error.details).filter((k) => k !== 'key');
    for (const f of fields) expect([f, a.error.details[f]]).toEqual([f, m.error.details[f]]);
  }

  private ns(): string {
    return weighted(this.r, NAMESPACES);
  }

  private live(install: string, ns: string, key: string) {
    const g = this.oracle.get(install, ns, key, clockMs);
    return g.ok ? g.value : undefined;
  }

  /** A TTL whose expiry no stored record of the install (nor `taken`) has: removal order has no ties. */
  private ttl(install: string, taken: Set<number>): number {
    for (;;) {
      const ttl = 60 + this.r.int(540);
      const at = clockMs + ttl * 1000;
      if (!this.oracle.expiryTaken(install, at) && !taken.has(at)) {
        taken.add(at);
        return ttl;
      }
    }
  }

  /** A key, most often one that is live in the namespace (so reads and conditions have a target). */
  private key(install: string, ns: string): string {
    const live = this.oracle.listAll(install, ns, '', clockMs);
    return live.length > 0 && this.r.chance(0.6) ? this.r.pick(live).key : this.r.pick(KEYS);
  }

  /** A put of `key` with a random condition (odds `p` in all): ifAbsent, ifRevision right or wrong. */
  private randomPut(
    install: string,
    ns: string,
    key: string,
    taken: Set<number>,
    conditions = 0.5,
  ): ModelPut {
    const live = this.live(install, ns, key);
    const p: ModelPut = { key, value: randomValue(this.r) };
    if (this.r.chance(0.3)) p.metadata = { tag: randomText(this.r, 8) };
    if (this.r.chance(this.ttlOdds)) p.ttlSeconds = this.ttl(install, taken);
    const cond = this.r.next() * (0.5 / conditions);
    if (cond < 0.15) p.ifAbsent = true;
    else if (cond < 0.4) p.ifRevision = live ? live.revision : 1 + this.r.int(5);
    else if (cond < 0.5) p.ifRevision = (live?.revision ?? 0) + 1 + this.r.int(3);
    return p;
  }

  async step(): Promise<void> {
    const r = this.r;
    const t = r.pick(this.transports);
    const install = r.pick(INSTALLS);
    clockMs += r.int(3);
    const kind = weighted(r, [
      ['put', 34],
      ['bulk', 8],
      ['delete', 8],
      ['get', 12],
      ['list', 12],
      ['clock', 9],
      ['usage', 6],
      ['sweep', 2],
      ['bad', 3],
    ] as const);
    this.note = `${kind} via ${t.name} at ${clockMs}`;
    switch (kind) {
      case 'put': {
        const ns = this.ns();
        return this.put(t, install, ns, [
          this.randomPut(install, ns, this.key(install, ns), new Set()),
        ]);
      }
      case 'bulk': {
        const ns = this.ns();
        const keys = [...KEYS].sort(() => r.next() - 0.5).slice(0, 2 + r.int(3));
        const taken = new Set<number>();
        const puts = keys.map((k) => this.randomPut(install, ns, k, taken, 0.15));
        return this.put(t, install, ns, puts, true);
      }
      case 'delete':
        return this.delete(t, install);
      case 'get':
        return this.get(t, install);
      case 'list':
        return this.list(t, install);
      case 'clock': {
        const step = weighted(r, [
          [1 + r.int(2000), 3],
          [30_000 + r.int(60_000), 4],
          [120_000 + r.int(600_000), 2],
        ]);
        clockMs += step;
        this.note += ` (+${step} ms)`;
        return this.count('clock');
      }
      case 'usage':
        return this.usage(t, install);
      case 'sweep': {
        // What the background sweep does for an install with expired records.
        await this.e.cairn.kvService.sweep(SPACE, install);
        this.oracle.sweep(install, clockMs);
        return this.count('sweep');
      }
      case 'bad':
        return this.bad(t, install);
    }
  }

  private async put(
    t: Transport,
    install: string,
    ns: string,
    puts: ModelPut[],
    bulk = false,
  ): Promise<void> {
    this.note += ` ${install}/${ns} ${JSON.stringify(puts)}`;
    const before = puts.map((p) => this.historyOf(install, ns, p.key));
    const m = this.oracle.put(install, ns, puts, clockMs);
    const a = !bulk
      ? await t
          .put(install, ns, puts[0] as ModelPut)
          .then((x) => (x.ok ? { ...x, value: [x.value] } : x))
      : await t.putMany(install, ns, puts);
    this.tally(bulk ? 'bulk' : 'put', a);
    this.agree(a, m, t, (actual, expected) => {
      expect(actual.length).toBe(expected.length);
      actual.forEach((w, i) => {
        const want = expected[i] as (typeof expected)[number];
        expect(w.record).toEqual(want.record);
        // The bulk route answers records only; a single put's status and the library say "created".
        if (w.created !== undefined) expect(w.created).toBe(want.created);
        // SPEC: a key's revision never repeats over its whole life.
        const had = before[i] as number[];
        expect(want.record.revision).toBeGreaterThan(Math.max(0, ...had));
      });
    });
  }

  private historyOf(install: string, ns: string, key: string): number[] {
    return [...(this.oracle.history.get(JSON.stringify([install, ns, key])) ?? [])];
  }

  private async delete(t: Transport, install: string): Promise<void> {
    const r = this.r;
    const ns = this.ns();
    const key = this.key(install, ns);
    const live = this.live(install, ns, key);
    const cond = r.next();
    const ifRevision =
      cond < 0.3
        ? (live?.revision ?? 1 + r.int(4))
        : cond < 0.45
          ? (live?.revision ?? 0) + 1 + r.int(2)
          : undefined;
    this.note += ` ${install}/${ns}/${key} ifRevision=${ifRevision}`;
    const m = this.oracle.delete(install, ns, key, clockMs, ifRevision);
    const a = await t.delete(install, ns, key, ifRevision);
    this.tally('delete', a);
    this.agree(a, m, t, (actual, expected) => expect(actual).toBe(expected));
  }

  private async get(t: Transport, install: string): Promise<void> {
    const r = this.r;
    const ns = this.ns();
    const key = this.key(install, ns);
    const live = this.live(install, ns, key);
    const ifRevision = r.chance(0.25)
      ? r.chance(0.5) && live
        ? live.revision
        : 1 + r.int(6)
      : undefined;
    this.note += ` ${install}/${ns}/${key} ifRevision=${ifRevision}`;
    const m = this.oracle.get(install, ns, key, clockMs, ifRevision);
    const a = await t.get(install, ns, key, ifRevision);
    this.tally('get', a);
    this.agree(a, m as Outcome<ModelRecord>, t, (actual, expected) =>
      expect(actual).toEqual(shown(expected)),
    );
  }

  private async list(t: Transport, install: string): Promise<void> {
    const r = this.r;
    const ns = this.ns();
    const live = this.oracle.listAll(install, ns, '', clockMs);
    const prefix =
      live.length > 0 && r.chance(0.4)
        ? [...r.pick(live).key].slice(0, 1 + r.int(2)).join('')
        : r.pick(PREFIXES);
    const limit = r.pick([1, 2, 3, 5, 100]);
    const values = r.chance(0.5);
    const metadata = r.chance(0.3);
    this.note += ` ${install}/${ns} prefix=${JSON.stringify(prefix)} limit=${limit}`;
    const want = this.oracle.listAll(install, ns, prefix, clockMs);
    let cursor: string | undefined;
    for (let at = 0; ; at += limit) {
      const a = await t.list(install, ns, {
        prefix,
        limit,
        values,
        metadata,
        ...(cursor ? { cursor } : {}),
      });
      if (!a.ok) throw new Error(`list failed: ${JSON.stringify(a.error)}`);
      await this.afterList(install);
      expect(a.value.items).toEqual(
        want.slice(at, at + limit).map((rec) => shown(rec, values, metadata)),
      );
      const more = at + limit < want.length;
      expect(a.value.nextCursor !== undefined).toBe(more);
      if (!more) break;
      cursor = a.value.nextCursor;
    }
    this.count(`list:${Math.min(want.length, 9)}${want.length > 9 ? '+' : ''}`);
  }

  /** Every `cleanupEveryLists`-th list of an install sweeps it (queued on the space's writer): wait for it. */
  private async afterList(install: string): Promise<void> {
    if (!this.oracle.listed(install)) return;
    await this.e.cairn.pipeline.runWrite(SPACE, async () => undefined);
    this.oracle.sweep(install, clockMs);
    this.count('list-sweep');
  }

  private async usage(t: Transport, install: string): Promise<void> {
    const a = await t.usage(install);
    if (!a.ok) throw new Error(`usage failed: ${JSON.stringify(a.error)}`);
    const { bytesUsed, keys, namespaces } = a.value;
    expect({ bytesUsed, keys, namespaces }).toEqual(this.oracle.usage(install));
    this.count('usage');
  }

  /** Requests refused before any write: nothing changes, not even a cleanup. */
  private async bad(t: Transport, install: string): Promise<void> {
    const r = this.r;
    const ns = this.ns();
    const key = r.pick(KEYS);
    const which = r.int(5);
    if (which === 4) {
      const a = await t.list(install, ns, {
        prefix: '',
        cursor: 'garbage',
        limit: 5,
        values: false,
        metadata: false,
      });
      expect(a.ok ? 'ok' : a.error.code).toBe('ValidationError');
      return this.count('bad:cursor');
    }
    const puts: ModelPut[] = [
      [{ key, value: 1, ttlSeconds: 59 }],
      [{ key, value: 1, ifAbsent: true, ifRevision: 1 }],
      [{ key, value: 'x'.repeat(this.limits.valueBytes) }],
      [
        { key, value: 1 },
        { key, value: 2 },
      ],
    ][which] as ModelPut[];
    this.note += ` ${install}/${ns} ${JSON.stringify(puts).slice(0, 200)}`;
    const m = this.oracle.put(install, ns, puts, clockMs);
    expect(m.ok).toBe(false);
    const a: Answer<unknown> =
      puts.length === 1
        ? await t.put(install, ns, puts[0] as ModelPut)
        : await t.putMany(install, ns, puts);
    this.tally('bad', a);
    this.agree(a, m, t, () => undefined);
  }

  /** The usage counters against a recount of the stored rows, and the rows and floors against the oracle. */
  async checkAll(): Promise<void> {
    for (const install of INSTALLS) {
      const usage = await libTransport(this.e).usage(install);
      if (!usage.ok) throw new Error('usage failed');
      expect(usage.value).toEqual(this.oracle.usage(install));
      const stored = await this.storedRows(install);
      const recount = { bytesUsed: 0, keys: 0, namespaces: 0 };
      for (const [, rows] of stored) {
        if (rows.length > 0) recount.namespaces++;
        for (const row of rows) {
          expect(row.bytes).toBe(utf8Bytes(row.value) + utf8Bytes(row.metadata));
          recount.bytesUsed += row.bytes;
          recount.keys++;
        }
      }
      expect(usage.value).toEqual(recount);
      const want = this.oracle.stored(install);
      for (const [ns] of NAMESPACES) {
        const rows = stored.get(ns) ?? [];
        const model = want.filter(([n]) => n === ns).map(([, rec]) => rec);
        model.sort((a, b) => byteOrder(a.key, b.key));
        expect(rows.map((row) => [row.key, row.revision, row.ttlExpiresAt])).toEqual(
          model.map((rec) => [rec.key, rec.revision, rec.ttlExpiresAt]),
        );
        const floor = this.oracle.spaceExists
          ? await withSpaceReader(this.e.cairn.backend, SPACE, (ops) =>
              ops.kv.namespace(install, ns),
            )
          : undefined;
        expect([ns, floor?.revisionFloor ?? 0]).toEqual([ns, this.oracle.floor(install, ns)]);
      }
    }
    for (const [id, revisions] of this.oracle.history) {
      const increasing = revisions.every((v, i) => i === 0 || v > (revisions[i - 1] as number));
      expect([id, increasing]).toEqual([id, true]);
    }
  }

  /** Every stored row of an install (expired ones too), by namespace, straight from storage. */
  private async storedRows(install: string): Promise<Map<string, KvRecordRow[]>> {
    const out = new Map<string, KvRecordRow[]>();
    if (!this.oracle.spaceExists) return out;
    await withSpaceReader(this.e.cairn.backend, SPACE, async (ops) => {
      // `nowMs` 0: no record has expired yet, so the listing holds every stored row.
      for (const [ns] of NAMESPACES)
        out.set(ns, await ops.kv.list(install, ns, '', null, 0, 10_000, true));
    });
    return out;
  }

  /** Past every TTL: writes and sweeps remove what expired; the counters follow to what is live. */
  async expireEverything(): Promise<void> {
    clockMs += 31 * 24 * 3600_000;
    for (const install of INSTALLS) {
      const m = this.oracle.delete(install, 'alpha', 'no-such-key', clockMs);
      const a = await libTransport(this.e).delete(install, 'alpha', 'no-such-key');
      this.agree(a, m, this.transports[1] as Transport, (x, y) => expect(x).toBe(y));
      // (With `cleanupPerWrite` 0 only a write over a quota removes expired records.)
      while (
        this.limits.cleanupPerWrite > 0 &&
        this.oracle.stored(install).some(([, rec]) => !isLive(rec, clockMs))
      ) {
        await this.e.cairn.kvService.sweep(SPACE, install);
        this.oracle.sweep(install, clockMs);
      }
      const usage = await libTransport(this.e).usage(install);
      const counted = this.oracle
        .stored(install)
        .filter(([, rec]) => this.limits.cleanupPerWrite === 0 || isLive(rec, clockMs));
      expect(usage.ok && usage.value.keys).toBe(counted.length);
    }
  }
}

const limitsOf = (r: SeededRandom): ModelLimits => ({
  valueBytes: 200,
  metadataBytes: 64,
  keysPerNamespace: 4 + r.int(3),
  namespacesPerInstall: 2,
  bytesPerInstall: 300 + r.int(400),
  bulkItems: 5,
  minTtlSeconds: 60,
  maxTtlSeconds: 30 * 24 * 3600,
  cleanupPerWrite: r.pick([0, 1, 2, 100]),
  cleanupEveryLists: r.pick([3, 16]),
});

describe('KV vs SPEC §12 model', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${STEPS} random steps agree with the oracle`, async () => {
      const run = new KvModelRun(seed, limitsOf);
      clockMs = Date.UTC(2026, 0, 1);
      const { valueBytes, metadataBytes, keysPerNamespace, namespacesPerInstall, bytesPerInstall } =
        run.limits;
      const e = await startEngine({
        clock: () => clockMs,
        kv: {
          valueBytes,
          metadataBytes,
          keysPerNamespace,
          namespacesPerInstall,
          bytesPerInstall,
          bulkItems: run.limits.bulkItems,
          cleanupPerWrite: run.limits.cleanupPerWrite,
          cleanupEveryLists: run.limits.cleanupEveryLists,
        },
      });
      run.attach(e);
      const started = performance.now();
      let steps = 0;
      try {
        for (let i = 0; i < STEPS; i++) {
          if (performance.now() - started > SEED_BUDGET_MS) {
            console.warn(`seed=${seed}: time budget reached after ${i} steps`);
            break;
          }
          try {
            await run.step();
          } catch (err) {
            if (err instanceof Error) {
              err.message = `seed=${seed} step=${i} (replay: CAIRN_SEED=${seed}) [${run.note}]: ${err.message}`;
            }
            throw err;
          }
          steps = i + 1;
        }
        try {
          await run.checkAll();
          await run.expireEverything();
          await run.checkAll();
        } catch (err) {
          if (err instanceof Error) {
            err.message = `seed=${seed} final check (replay: CAIRN_SEED=${seed}): ${err.message}`;
          }
          throw err;
        }
      } finally {
        await e.close();
      }
      const counts = [...run.outcomes]
        .sort()
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      console.log(
        `seed=${seed}: ${steps} steps in ${((performance.now() - started) / 1000).toFixed(1)} s, ` +
          `${run.oracle.removedCount} expired records removed, ${run.oracle.quotaCleanups} quota cleanups; limits ${JSON.stringify(run.limits)}; ${counts}`,
      );
      expect(steps).toBeGreaterThan(0);
    });
  }
});

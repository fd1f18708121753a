import { afterEach, describe, expect, it } from 'vitest';
import type { CairnOptions } from '../../src/app/create-cairn.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * SPEC §12 over HTTP, in-process on the backend under test: every
 * operation and its error codes, revisions that never repeat, TTL
 * visibility with a controlled clock, exact quotas, literal prefixes,
 * cursors, schemas.
 */

let e: TestEngine | undefined;
let clockMs = Date.UTC(2026, 0, 1);
afterEach(async () => {
  await e?.close();
  e = undefined;
});

async function start(options: CairnOptions = {}) {
  clockMs = Date.UTC(2026, 0, 1);
  e = await startEngine({ clock: () => clockMs, ...options });
  return e;
}

const base = `/v1/${SPACE}/kv/app-1/notes`;
async function call(method: string, path: string, body?: unknown) {
  const res = await (e as TestEngine).cairn.fetch(
    new Request(`http://cairn.test${path}`, {
      method,
      ...(body !== undefined
        ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
        : {}),
    }),
  );
  const json = (await res.json()) as Record<string, unknown> & {
    error?: { code: string; details?: Record<string, unknown> } & Record<string, unknown>;
  };
  return { status: res.status, json };
}
const put = (key: string, body: unknown) =>
  call('PUT', `${base}/records/${encodeURIComponent(key)}`, body);
const get = (key: string, q = '') => call('GET', `${base}/records/${encodeURIComponent(key)}${q}`);
const del = (key: string, q = '') =>
  call('DELETE', `${base}/records/${encodeURIComponent(key)}${q}`);
const codeOf = (r: { json: { error?: { code: string } } }) => r.json.error?.code;

describe('KV records', () => {
  it('creates (201), reads, updates (200) with ifRevision, deletes; errors carry their codes', async () => {
    await start();
    const created = await put('greeting', { value: { text: 'hi' }, metadata: { lang: 'en' } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      key: 'greeting',
      revision: 1,
      createdAt: clockMs,
      updatedAt: clockMs,
    });
    expect((await get('greeting')).json).toMatchObject({
      value: { text: 'hi' },
      metadata: { lang: 'en' },
      revision: 1,
    });
    clockMs += 1000;
    const updated = await put('greeting', { value: null, ifRevision: 1 });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ revision: 2, updatedAt: clockMs });
    expect((await get('greeting')).json).toMatchObject({ value: null, metadata: {} });

    const stale = await put('greeting', { value: 1, ifRevision: 1 });
    expect([stale.status, codeOf(stale)]).toEqual([409, 'RevisionMismatch']);
    expect(stale.json.error?.details?.currentRevision ?? stale.json.error?.currentRevision).toBe(2);
    const absent = await put('greeting', { value: 1, ifAbsent: true });
    expect([absent.status, codeOf(absent)]).toEqual([409, 'RevisionMismatch']);
    expect(codeOf(await get('greeting', '?ifRevision=1'))).toBe('RevisionMismatch');
    expect((await get('greeting', '?ifRevision=2')).status).toBe(200);

    expect(codeOf(await del('greeting', '?ifRevision=1'))).toBe('RevisionMismatch');
    expect((await del('greeting')).json).toEqual({ deleted: true });
    expect((await del('greeting')).json).toEqual({ deleted: false });
    const gone = await get('greeting');
    expect([gone.status, codeOf(gone)]).toEqual([404, 'KeyNotFound']);

    // A re-created key starts above every revision it had (no ABA).
    expect((await put('greeting', { value: 'again' })).json).toMatchObject({ revision: 3 });
  });

  it('refuses bad identifiers, sizes and bodies with typed errors, storing nothing', async () => {
    await start();
    const bad = [
      await call('PUT', `/v1/${SPACE}/kv/bad install!/notes/records/k`, { value: 1 }),
      await call('PUT', `/v1/${SPACE}/kv/app/Notes/records/k`, { value: 1 }),
      await put('a/b', { value: 1 }),
      await put('x'.repeat(129), { value: 1 }),
      await put('k', { value: 1, ttlSeconds: 59 }),
      await put('k', { value: 1, ifAbsent: true, ifRevision: 1 }),
      await put('k', { nope: 1 }),
    ];
    expect(bad.map((r) => [r.status, codeOf(r)])).toEqual(bad.map(() => [400, 'ValidationError']));
    const big = await put('k', { value: 'x'.repeat(64 * 1024) });
    expect([big.status, codeOf(big)]).toEqual([413, 'LimitExceeded']);
    const bigMeta = await put('k', { value: 1, metadata: { m: 'x'.repeat(4096) } });
    expect([bigMeta.status, codeOf(bigMeta)]).toEqual([413, 'LimitExceeded']);
    expect((await call('GET', `/v1/${SPACE}/kv/app-1/usage`)).json).toMatchObject({
      bytesUsed: 0,
      keys: 0,
      namespaces: 0,
    });
  });

  it('hides an expired record at once, keeps counting it until removed, and re-creates it with a higher revision', async () => {
    await start();
    await put('session', { value: 'a', ttlSeconds: 60 });
    await put('session', { value: 'b', ttlSeconds: 60 });
    expect((await get('session')).json).toMatchObject({
      revision: 2,
      ttlExpiresAt: clockMs + 60_000,
    });
    clockMs += 60_000;
    expect(codeOf(await get('session'))).toBe('KeyNotFound');
    expect((await call('GET', `${base}/records`)).json.items).toEqual([]);
    // A plain get never writes: the expired row still counts.
    expect((await call('GET', `/v1/${SPACE}/kv/app-1/usage`)).json).toMatchObject({ keys: 1 });
    // The next write to the install removes it first; new keys of the namespace now start
    // above its highest removed revision (the floor that keeps revisions from repeating).
    expect((await put('other', { value: 1 })).json).toMatchObject({ revision: 3 });
    expect((await call('GET', `/v1/${SPACE}/kv/app-1/usage`)).json).toMatchObject({
      keys: 1,
      namespaces: 1,
    });
    expect((await put('session', { value: 'c' })).json).toMatchObject({ revision: 3 });
  });

  it('lists in UTF-8 byte order with a literal prefix, pages with cursors, refuses tampered ones', async () => {
    await start();
    const keys = ['a%b', 'a_b', 'a\\b', 'aXb', 'ab', 'Z', 'é', '中', '😀'];
    for (const k of keys) expect((await put(k, { value: k })).status).toBe(201);
    const all = (await call('GET', `${base}/records?limit=100`)).json.items as { key: string }[];
    expect(all.map((i) => i.key)).toEqual(
      [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
    );
    for (const [prefix, want] of [
      ['a%', ['a%b']],
      ['a_', ['a_b']],
      ['a\\', ['a\\b']],
    ] as const) {
      const r = await call(
        'GET',
        `${base}/records?prefix=${encodeURIComponent(prefix)}&includeValues=true`,
      );
      expect(
        (r.json.items as { key: string; value: string }[]).map((i) => [i.key, i.value]),
      ).toEqual(want.map((k) => [k, k]));
    }
    const first = await call('GET', `${base}/records?limit=4`);
    expect((first.json.items as { value?: unknown }[])[0]?.value).toBeUndefined();
    const second = await call(
      'GET',
      `${base}/records?limit=100&cursor=${first.json.nextCursor as string}`,
    );
    expect(
      [...(first.json.items as { key: string }[]), ...(second.json.items as { key: string }[])].map(
        (i) => i.key,
      ),
    ).toEqual(all.map((i) => i.key));
    expect(codeOf(await call('GET', `${base}/records?cursor=garbage`))).toBe('ValidationError');
    const other = await call(
      'GET',
      `/v1/${SPACE}/kv/app-1/other/records?cursor=${first.json.nextCursor as string}`,
    );
    expect(codeOf(other)).toBe('ValidationError');
    expect((await call('GET', `${base}/records?limit=101`)).status).toBe(400);
  });

  it('enforces quotas exactly: keys per namespace, namespaces per install, bytes per install', async () => {
    await start({ kv: { keysPerNamespace: 3, namespacesPerInstall: 2, bytesPerInstall: 100 } });
    for (const k of ['a', 'b', 'c']) expect((await put(k, { value: 1 })).status).toBe(201);
    const fourth = await put('d', { value: 1 });
    expect([fourth.status, codeOf(fourth)]).toEqual([429, 'QuotaExceeded']);
    expect((await put('a', { value: 2 })).status).toBe(200); // an update adds no key
    expect((await call('PUT', `/v1/${SPACE}/kv/app-1/two/records/k`, { value: 1 })).status).toBe(
      201,
    );
    const third = await call('PUT', `/v1/${SPACE}/kv/app-1/three/records/k`, { value: 1 });
    expect(codeOf(third)).toBe('QuotaExceeded');
    const heavy = await call('PUT', `/v1/${SPACE}/kv/app-1/two/records/big`, {
      value: 'x'.repeat(100),
    });
    expect(codeOf(heavy)).toBe('QuotaExceeded');
    expect((await call('GET', `/v1/${SPACE}/kv/app-1/usage`)).json).toMatchObject({
      keys: 4,
      namespaces: 2,
    });
  });

  it('validates puts against the active schema; activating one deprecates the previous', async () => {
    await start();
    const schema = (type: string) => ({
      type: 'object',
      properties: { n: { type } },
      required: ['n'],
    });
    expect(
      (await call('PUT', `${base}/schemas/1`, { schema: schema('number'), status: 'active' }))
        .status,
    ).toBe(200);
    const refused = await put('k', { value: { n: 'text' } });
    expect([refused.status, codeOf(refused)]).toEqual([400, 'ValidationError']);
    expect(refused.json.error?.details?.errors ?? refused.json.error?.errors).toBeDefined();
    expect((await put('k', { value: { n: 1 } })).status).toBe(201);
    await call('PUT', `${base}/schemas/2`, { schema: schema('string'), status: 'active' });
    const list = (await call('GET', `${base}/schemas`)).json.items as {
      version: number;
      status: string;
    }[];
    expect(list.map((s) => [s.version, s.status])).toEqual([
      [1, 'deprecated'],
      [2, 'active'],
    ]);
    expect((await put('k', { value: { n: 'now text' } })).status).toBe(200);
    expect((await put('k', { value: { n: 2 }, schemaVersion: 1 })).status).toBe(200);
    expect(codeOf(await put('k', { value: {}, schemaVersion: 9 }))).toBe('ValidationError');
    const badSchema = await call('PUT', `${base}/schemas/3`, {
      schema: { type: 'nope' },
      status: 'draft',
    });
    expect(codeOf(badSchema)).toBe('ValidationError');
  });

  it('bulk puts all or nothing', async () => {
    await start();
    const ok = await call('POST', `${base}/records`, {
      items: [
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
      ],
    });
    expect(ok.status).toBe(200);
    expect((ok.json.items as { revision: number }[]).map((i) => i.revision)).toEqual([1, 1]);
    const dup = await call('POST', `${base}/records`, {
      items: [
        { key: 'c', value: 1 },
        { key: 'c', value: 2 },
      ],
    });
    expect(codeOf(dup)).toBe('ValidationError');
    const half = await call('POST', `${base}/records`, {
      items: [
        { key: 'd', value: 1 },
        { key: 'a', value: 9, ifRevision: 7 },
      ],
    });
    expect(codeOf(half)).toBe('RevisionMismatch');
    expect(codeOf(await get('d'))).toBe('KeyNotFound');
    const many = await call('POST', `${base}/records`, {
      items: Array.from({ length: 21 }, (_, i) => ({ key: `k${i}`, value: i })),
    });
    expect(codeOf(many)).toBe('LimitExceeded');
  });

  it('two concurrent ifAbsent creates: one wins, one RevisionMismatch', async () => {
    await start();
    const [x, y] = await Promise.all([
      put('once', { value: 'x', ifAbsent: true }),
      put('once', { value: 'y', ifAbsent: true }),
    ]);
    expect([x.status, y.status].sort()).toEqual([201, 409]);
  });

  it('two concurrent first writes that together exceed the byte quota: exactly one QuotaExceeded, usage exact', async () => {
    await start({ kv: { bytesPerInstall: 150 } });
    const [x, y] = await Promise.all([
      put('x', { value: 'x'.repeat(90) }),
      put('y', { value: 'y'.repeat(90) }),
    ]);
    expect([codeOf(x), codeOf(y)].filter((c) => c === 'QuotaExceeded')).toHaveLength(1);
    const usage = (await call('GET', `/v1/${SPACE}/kv/app-1/usage`)).json;
    expect(usage).toMatchObject({ keys: 1, bytesUsed: 94 });
  });

  it('rate limits an install when configured: 429 RateLimited with Retry-After, other installs unaffected', async () => {
    await start({
      kvRateLimits: { read: { perMinute: 60, burst: 2 }, write: { perMinute: 60, burst: 1 } },
    });
    expect((await put('k', { value: 1 })).status).toBe(201);
    const res = await (e as TestEngine).cairn.fetch(
      new Request(`http://cairn.test${base}/records/k2`, {
        method: 'PUT',
        body: JSON.stringify({ value: 2 }),
      }),
    );
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RateLimited');
    expect((await call('PUT', `/v1/${SPACE}/kv/app-2/notes/records/k`, { value: 1 })).status).toBe(
      201,
    );
    clockMs += 1000; // one token a second comes back
    expect((await put('k2', { value: 2 })).status).toBe(201);
  });
});

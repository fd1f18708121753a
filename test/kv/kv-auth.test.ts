import { describe, expect, it } from 'vitest';
import type { Capability } from '../../src/auth/capabilities.js';
import { identityFromSeed } from '../../src/auth/server-identity.js';
import { mintUcan } from '../../src/auth/ucan-mint.js';
import { TEST_SERVER_KEY } from '../helpers/engine.js';
import { LiveHarness } from '../helpers/live-server.js';

/**
 * SPEC §12 auth over a real socket with `auth: 'required'`: `kv/read`
 * reads (get, list, schemas, usage) and never writes (403); `kv/write`
 * writes and reads; a capability narrowed by `nb: {install}` covers that
 * install only, also through delegation; `storage/admin` implies both;
 * `storage/write` and `storage/read` grant no KV, and `kv/write` grants no
 * documents.
 */

const live = new LiveHarness();
const seed = (n: number) => new Uint8Array(32).fill(n);
const space = identityFromSeed(seed(41));
const otherSpace = identityFromSeed(seed(42));
const app = identityFromSeed(seed(43));
const server = identityFromSeed(Buffer.from(TEST_SERVER_KEY, 'base64url'));

const cap = (can: Capability['can'], install?: string, over = space.did): Capability => ({
  with: over,
  can,
  ...(install !== undefined ? { nb: { install } } : {}),
});
/** A token signed by the space's own key for the server. */
const token = (...caps: Capability[]) =>
  mintUcan({ issuerSeed: seed(41), audience: server.did, capabilities: caps, ttlSec: 3600 });

async function start(): Promise<string> {
  return (await live.start({ auth: 'required' })).url;
}

/** One KV call with a token (or none): status and error code. */
async function kvCall(
  url: string,
  tok: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; code?: string; json: Record<string, unknown> }> {
  const headers = new Headers();
  if (tok) headers.set('authorization', `Bearer ${tok}`);
  if (body !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(`${url}/v1/${space.did}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as Record<string, unknown> & { error?: { code: string } };
  return { status: res.status, ...(json.error ? { code: json.error.code } : {}), json };
}

/** Every KV route on install `install`, as [name, status] pairs (writes first, so reads find a record). */
async function everyRoute(url: string, tok: string | undefined, install: string) {
  const base = `/kv/${install}/notes`;
  const calls: [string, string, string, unknown?][] = [
    ['put', 'PUT', `${base}/records/k`, { value: { n: 1 } }],
    ['bulk', 'POST', `${base}/records`, { items: [{ key: 'j', value: 2 }] }],
    ['putSchema', 'PUT', `${base}/schemas/1`, { schema: { type: 'object' }, status: 'draft' }],
    ['get', 'GET', `${base}/records/k`],
    ['list', 'GET', `${base}/records`],
    ['schemas', 'GET', `${base}/schemas`],
    ['usage', 'GET', `/kv/${install}/usage`],
    ['delete', 'DELETE', `${base}/records/j`],
  ];
  const out: Record<string, number | string> = {};
  for (const [name, method, path, body] of calls) {
    const r = await kvCall(url, tok, method, path, body);
    out[name] = r.code && r.status >= 400 ? `${r.status} ${r.code}` : r.status;
  }
  return out;
}

const WRITES = ['put', 'bulk', 'putSchema', 'delete'];
const READS = ['get', 'list', 'schemas', 'usage'];
const allowed = {
  put: 201,
  bulk: 200,
  putSchema: 200,
  get: 200,
  list: 200,
  schemas: 200,
  usage: 200,
  delete: 200,
};
const only = (names: string[], status: number | string) =>
  Object.fromEntries(names.map((n) => [n, status]));

describe('KV auth (UCAN, auth required)', () => {
  it('kv/write writes and reads every route; kv/read reads and gets 403 on every write', async () => {
    const url = await start();
    expect(await everyRoute(url, token(cap('kv/write')), 'app')).toEqual(allowed);
    const asReader = await everyRoute(url, token(cap('kv/read')), 'app');
    expect(asReader).toEqual({
      ...only(WRITES, '403 Forbidden'),
      ...only(READS, 200),
    });
    // The reader saw what the writer stored, and its refused writes changed nothing.
    const got = await kvCall(url, token(cap('kv/read')), 'GET', '/kv/app/notes/records/k');
    expect(got.json).toMatchObject({ value: { n: 1 }, revision: 1 });
    expect((await kvCall(url, token(cap('kv/read')), 'GET', '/kv/app/usage')).json).toMatchObject({
      keys: 1,
    });
  });

  it('a capability narrowed by nb.install works for that install and is 403 for another', async () => {
    const url = await start();
    const narrowed = token(cap('kv/write', 'a'));
    expect(await everyRoute(url, narrowed, 'a')).toEqual(allowed);
    expect(await everyRoute(url, narrowed, 'b')).toEqual(
      only([...WRITES, ...READS], '403 Forbidden'),
    );
    const reader = token(cap('kv/read', 'a'));
    expect((await kvCall(url, reader, 'GET', '/kv/a/notes/records/k')).status).toBe(200);
    expect((await kvCall(url, reader, 'GET', '/kv/b/notes/records/k')).status).toBe(403);
    expect((await kvCall(url, reader, 'PUT', '/kv/a/notes/records/k', { value: 1 })).status).toBe(
      403,
    );
  });

  it('a delegated token stays within its parent install: narrower works, wider is refused', async () => {
    const url = await start();
    const toApp = mintUcan({
      issuerSeed: seed(41),
      audience: app.did,
      capabilities: [cap('kv/write', 'a')],
      ttlSec: 3600,
    });
    const viaApp = (c: Capability) =>
      mintUcan({
        issuerSeed: seed(43),
        audience: server.did,
        capabilities: [c],
        ttlSec: 600,
        proofs: [toApp],
      });
    const put = (tok: string, install: string) =>
      kvCall(url, tok, 'PUT', `/kv/${install}/notes/records/k`, { value: 1 });
    expect((await put(viaApp(cap('kv/write', 'a')), 'a')).status).toBe(201);
    expect((await kvCall(url, viaApp(cap('kv/read', 'a')), 'GET', '/kv/a/usage')).status).toBe(200);
    // The delegated token cannot reach another install, nor drop the caveat.
    expect((await put(viaApp(cap('kv/write', 'a')), 'b')).status).toBe(403);
    expect(await put(viaApp(cap('kv/write')), 'a')).toMatchObject({
      status: 401,
      code: 'Unauthorized',
    });
    expect(await put(viaApp(cap('kv/write', 'b')), 'b')).toMatchObject({
      status: 401,
      code: 'Unauthorized',
    });
  });

  it('storage/admin implies kv/write and kv/read, on every install', async () => {
    const url = await start();
    const admin = token(cap('storage/admin'));
    expect(await everyRoute(url, admin, 'one')).toEqual(allowed);
    expect(await everyRoute(url, admin, 'two')).toEqual(allowed);
  });

  it('storage/write and storage/read grant no KV; kv/write grants no documents', async () => {
    const url = await start();
    for (const can of ['storage/write', 'storage/read'] as const) {
      expect(await everyRoute(url, token(cap(can)), 'app'), can).toEqual(
        only([...WRITES, ...READS], '403 Forbidden'),
      );
    }
    const docs = await fetch(`${url}/v1/${space.did}/docs`, {
      headers: { authorization: `Bearer ${token(cap('kv/write'))}` },
    });
    expect(docs.status).toBe(403);
  });

  it('refuses a missing token with 401 and a token for another space with 403', async () => {
    const url = await start();
    expect(await everyRoute(url, undefined, 'app')).toEqual(
      only([...WRITES, ...READS], '401 Unauthorized'),
    );
    const elsewhere = mintUcan({
      issuerSeed: seed(42),
      audience: server.did,
      capabilities: [cap('kv/write', undefined, otherSpace.did)],
      ttlSec: 3600,
    });
    expect(await everyRoute(url, elsewhere, 'app')).toEqual(
      only([...WRITES, ...READS], '403 Forbidden'),
    );
  });
});

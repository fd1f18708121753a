import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { CairnClient, type WebSocketLike } from '../../src/client/index.js';
import type { Capability } from '../../src/auth/capabilities.js';
import { identityFromSeed } from '../../src/auth/server-identity.js';
import { txDigest } from '../../src/auth/tx-binding.js';
import { mintUcan } from '../../src/auth/ucan-mint.js';
import { Replica, write } from '../helpers/changes.js';
import { TEST_SERVER_KEY } from '../helpers/engine.js';
import { LiveTestClient } from '../helpers/live-client.js';
import { LiveHarness } from '../helpers/live-server.js';
import { SseTestClient } from '../helpers/sse-client.js';

/**
 * SPEC §7 over real sockets: every route, WebSocket session and SSE stream
 * needs a valid UCAN granting the ability over the path's space; refusals
 * are 401 (no valid token) or 403 (no capability) and never reveal whether a
 * space or doc exists; a live session whose token lapses gets an error
 * frame and close 4001, and nothing after.
 */

const live = new LiveHarness();
const seed = (n: number) => new Uint8Array(32).fill(n);
const spaceA = identityFromSeed(seed(21));
const spaceB = identityFromSeed(seed(22));
const app = identityFromSeed(seed(23));
const server = identityFromSeed(Buffer.from(TEST_SERVER_KEY, 'base64url'));

const cap = (can: Capability['can'], space = spaceA.did): Capability => ({ with: space, can });
const token = (can: Capability['can'], opts: { space?: number; ttlSec?: number } = {}) =>
  mintUcan({
    issuerSeed: seed(opts.space ?? 21),
    audience: server.did,
    capabilities: [cap(can, identityFromSeed(seed(opts.space ?? 21)).did)],
    ttlSec: opts.ttlSec ?? 3600,
  });

async function start(limits = {}) {
  return live.start({ auth: 'required', limits });
}

function call(url: string, path: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  return fetch(`${url}${path}`, { ...init, headers });
}

function post(url: string, path: string, body: unknown, tok?: string) {
  return call(url, path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    ...(tok ? { token: tok } : {}),
  });
}

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}

describe('UCAN auth over HTTP', () => {
  it('lets a write token write and read, and a read token only read (403 on write)', async () => {
    const { url } = await start();
    const r = new Replica(1);
    const ok = await post(
      url,
      `/v1/${spaceA.did}/tx`,
      { writes: [write('doc', [r.change((d) => (d.x = 1))])] },
      token('storage/write'),
    );
    expect(ok.status).toBe(200);
    const read = await call(url, `/v1/${spaceA.did}/docs/doc`, { token: token('storage/read') });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { value: unknown }).value).toEqual({ x: 1 });
    const refused = await post(
      url,
      `/v1/${spaceA.did}/tx`,
      { writes: [write('doc', [r.change((d) => (d.x = 2))], r.heads)] },
      token('storage/read'),
    );
    expect(await errorOf(refused)).toMatchObject({ status: 403, code: 'Forbidden' });
    // The tx record names the token's issuer (the space key here).
    const record = await call(url, `/v1/${spaceA.did}/tx/1`, { token: token('storage/read') });
    expect(((await record.json()) as { clientDid?: string }).clientDid).toBe(spaceA.did);
  });

  it('refuses missing, garbage, expired, not-yet-valid and wrongly addressed tokens with 401', async () => {
    const { url } = await start();
    const path = `/v1/${spaceA.did}/docs`;
    const past = Date.now() - 3 * 3600_000;
    const cases: Record<string, RequestInit & { token?: string }> = {
      missing: {},
      garbage: { token: 'not-a-token' },
      scheme: { headers: { authorization: 'Basic dXNlcjpwdw==' } },
      expired: {
        token: mintUcan({
          issuerSeed: seed(21),
          audience: server.did,
          capabilities: [cap('storage/read')],
          ttlSec: 60,
          nowMs: past,
        }),
      },
      notYet: {
        token: mintUcan({
          issuerSeed: seed(21),
          audience: server.did,
          capabilities: [cap('storage/read')],
          ttlSec: 7200,
          notBefore: Math.floor(Date.now() / 1000) + 3600,
        }),
      },
      audience: {
        token: mintUcan({
          issuerSeed: seed(21),
          audience: app.did,
          capabilities: [cap('storage/read')],
          ttlSec: 600,
        }),
      },
    };
    for (const [name, init] of Object.entries(cases)) {
      const e = await errorOf(await call(url, path, init));
      expect(e, name).toMatchObject({ status: 401, code: 'Unauthorized' });
    }
  });

  it('refuses escalating, widening, broken and tampered chains with 401', async () => {
    const { url } = await start();
    const toApp = mintUcan({
      issuerSeed: seed(21),
      audience: app.did,
      capabilities: [cap('storage/read')],
      ttlSec: 3600,
    });
    const viaApp = (caps: Capability[], proofs = [toApp]) =>
      mintUcan({
        issuerSeed: seed(23),
        audience: server.did,
        capabilities: caps,
        ttlSec: 600,
        proofs,
      });
    const good = viaApp([cap('storage/read')]);
    expect((await call(url, `/v1/${spaceA.did}/docs`, { token: good })).status).toBe(200);
    const toOther = mintUcan({
      issuerSeed: seed(21),
      audience: spaceB.did,
      capabilities: [cap('storage/read')],
      ttlSec: 3600,
    });
    const [h, p, s] = good.split('.') as [string, string, string];
    const flipped = Buffer.from(s, 'base64url');
    flipped[0] = (flipped[0] as number) ^ 0x80;
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { att: Capability[] };
    payload.att = [cap('storage/write')];
    const cases = {
      escalate: viaApp([cap('storage/write')]),
      widen: viaApp([cap('storage/read', spaceB.did)]),
      brokenLink: viaApp([cap('storage/read')], [toOther]),
      flippedSignature: `${h}.${p}.${flipped.toString('base64url')}`,
      editedPayload: `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`,
    };
    for (const [name, tok] of Object.entries(cases)) {
      const e = await errorOf(await call(url, `/v1/${spaceA.did}/docs`, { token: tok }));
      expect(e, name).toMatchObject({ status: 401, code: 'Unauthorized' });
    }
  });

  it('refuses a chain deeper than maxTokenChainDepth with 401', async () => {
    const { url } = await start({ maxTokenChainDepth: 2 });
    const toApp = mintUcan({
      issuerSeed: seed(21),
      audience: app.did,
      capabilities: [cap('storage/read')],
      ttlSec: 3600,
    });
    const toB = mintUcan({
      issuerSeed: seed(23),
      audience: spaceB.did,
      capabilities: [cap('storage/read')],
      ttlSec: 1800,
      proofs: [toApp],
    });
    const deep = mintUcan({
      issuerSeed: seed(22),
      audience: server.did,
      capabilities: [cap('storage/read')],
      ttlSec: 600,
      proofs: [toB],
    });
    const e = await errorOf(await call(url, `/v1/${spaceA.did}/docs`, { token: deep }));
    expect(e).toMatchObject({ status: 401, code: 'Unauthorized' });
    expect(e.message).toContain('too deep');
  });

  it('answers a token for another space with the same 403 whether the space or doc exists or not', async () => {
    const { url } = await start();
    const r = new Replica(2);
    await post(
      url,
      `/v1/${spaceB.did}/tx`,
      { writes: [write('secret', [r.change((d) => (d.s = 1))])] },
      token('storage/write', { space: 22 }),
    );
    const forA = token('storage/admin');
    const answers = [];
    for (const path of [
      `/v1/${spaceB.did}/docs/secret`,
      `/v1/${spaceB.did}/docs/nothing-here`,
      `/v1/did:key:z6MkNobodyEverWroteHere/docs/secret`,
      `/v1/not-even-a-did/docs/secret`,
    ]) {
      answers.push(await errorOf(await call(url, path, { token: forA })));
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]).toMatchObject({ status: 403, code: 'Forbidden' });
  });

  it('a token bound to a transaction (fct.txDigest) commits exactly those changes, and nothing else', async () => {
    const { url } = await start();
    const r = new Replica(6);
    const change = r.change((d) => (d.bound = 1));
    const bound = mintUcan({
      issuerSeed: seed(21),
      audience: server.did,
      capabilities: [cap('storage/write')],
      ttlSec: 600,
      facts: { txDigest: txDigest([{ docId: 'doc', branch: 'main', changes: [change] }]) },
    });
    const path = `/v1/${spaceA.did}/tx`;
    expect((await post(url, path, { writes: [write('doc', [change])] }, bound)).status).toBe(200);
    const other = r.change((d) => (d.bound = 2));
    const replay = await post(
      url,
      path,
      { writes: [write('doc', [other], r.heads.slice(0, 0))] },
      bound,
    );
    expect(await errorOf(replay)).toMatchObject({ status: 403, code: 'Forbidden' });
    const elsewhere = await post(url, path, { writes: [write('doc2', [change])] }, bound);
    expect(await errorOf(elsewhere)).toMatchObject({ status: 403, code: 'Forbidden' });
  });

  it('serves /healthz and /openapi.json without a token, with no tenant data', async () => {
    const { url } = await start();
    const health = await call(url, '/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    const openapi = await call(url, '/openapi.json');
    expect(openapi.status).toBe(200);
    expect(await openapi.text()).not.toContain(spaceA.did);
  });
});

describe('UCAN auth on live sessions', () => {
  it('refuses commands before a hello with a valid token, and hello without one', async () => {
    const { url } = await start();
    const c = live.track(await LiveTestClient.connect(url, spaceA.did));
    const early = await c.call('/storage/subscribe', { docId: 'doc' });
    expect(early.error?.code).toBe('ValidationError');
    expect((await c.call('/storage/hello', { clientId: 'x' })).error?.code).toBe('Unauthorized');
    const other = await c.call('/storage/hello', {
      clientId: 'x',
      token: token('storage/read', { space: 22 }),
    });
    expect(other.error?.code).toBe('Forbidden');
    expect((await c.call('/storage/subscribe', { docId: 'doc' })).error?.code).toBe(
      'ValidationError',
    );
    const ok = await c.call('/storage/hello', { clientId: 'x', token: token('storage/read') });
    expect(ok.ok).toMatchObject({ serverDid: server.did });
  });

  it('a read token subscribes but cannot commit (Forbidden), and the socket stays usable', async () => {
    const { url } = await start();
    const c = live.track(await LiveTestClient.connect(url, spaceA.did));
    await c.call('/storage/hello', { clientId: 'r', token: token('storage/read') });
    expect((await c.call('/storage/subscribe', { docId: 'doc' })).ok).toMatchObject({
      exists: false,
    });
    const r = new Replica(3);
    const tx = await c.call('/storage/tx', {
      writes: [write('doc', [r.change((d) => (d.y = 1))])],
    });
    expect(tx.error?.code).toBe('Forbidden');
    expect((await c.call('/storage/get', { docId: 'doc' })).error?.code).toBe('DocNotFound');
  });

  it('a session whose token expires mid-stream gets an error frame, close 4001, and no delivery after', async () => {
    const { e: engine, url } = await start({ tokenClockSkewSec: 0 });
    const writer = live.track(await LiveTestClient.connect(url, spaceA.did));
    await writer.call('/storage/hello', { clientId: 'w', token: token('storage/write') });
    const reader = live.track(await LiveTestClient.connect(url, spaceA.did));
    const short = token('storage/read', { ttlSec: 2 });
    await reader.call('/storage/hello', { clientId: 'r', token: short });
    await reader.call('/storage/subscribe', { docId: 'doc' });
    const r = new Replica(4);
    const first = await writer.call('/storage/tx', {
      writes: [write('doc', [r.change((d) => (d.n = 0))])],
    });
    await reader.waitFor(
      (f) => f.type === 'deliver' && f.epoch === (first.ok as { epoch: number }).epoch,
    );
    // Keep committing until the reader's token lapses (bounded: the token lives ≤ 2 s).
    for (let i = 1; i < 400 && !reader.closed; i++) {
      const base = r.heads;
      await writer.call('/storage/tx', {
        writes: [write('doc', [r.change((d) => (d.n = i))], base)],
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const closed = await reader.waitClosed();
    expect(closed.code).toBe(4001);
    const errorAt = reader.frames.findIndex((f) => f.type === 'error');
    expect(errorAt).toBeGreaterThan(0);
    expect((reader.frames[errorAt] as { error?: { code: string } }).error?.code).toBe(
      'Unauthorized',
    );
    expect(reader.frames.slice(errorAt + 1)).toEqual([]);
    const payload = JSON.parse(
      Buffer.from(short.split('.')[1] as string, 'base64url').toString(),
    ) as {
      exp: number;
    };
    // Every delivery it got was of a commit made before the token's expiry.
    const lastDelivered = reader.deliveries().at(-1)?.epoch as number;
    const record = await engine.cairn.read.txRecord(spaceA.did, lastDelivered);
    expect(record.committedAt).toBeLessThan(payload.exp * 1000);
  });
});

describe('UCAN auth on SSE', () => {
  it('takes the token as a header or ?token=, refuses none with 401, and ends with event: error at expiry', async () => {
    const { url } = await start({ tokenClockSkewSec: 0 });
    const path = `${url}/v1/${spaceA.did}/subscribe?docs=*`;
    const none = live.track(await SseTestClient.open(path));
    expect(none.status).toBe(401);
    const header = live.track(
      await SseTestClient.open(path, { authorization: `Bearer ${token('storage/read')}` }),
    );
    expect(header.status).toBe(200);
    const query = live.track(
      await SseTestClient.open(`${path}&token=${token('storage/read', { ttlSec: 1 })}`),
    );
    expect(query.status).toBe(200);
    const deadline = Date.now() + 5000;
    while (!query.events.some((e) => e.event === 'error') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const err = query.events.find((e) => e.event === 'error');
    expect(JSON.parse(err?.data ?? '{}')).toMatchObject({ error: { code: 'Unauthorized' } });
    expect(query.events.at(-1)?.event).toBe('error');
    const other = live.track(
      await SseTestClient.open(`${path}&token=${token('storage/read', { space: 22 })}`),
    );
    expect(other.status).toBe(403);
  });
});

describe('cairn/client with tokens', () => {
  it('sends its token in hello and, when the session token expires (4001), reconnects with a fresh one', async () => {
    const { e: engine, url } = await start({ tokenClockSkewSec: 0 });
    let minted = 0;
    const c = live.track(
      new CairnClient({
        url,
        space: spaceA.did,
        WebSocket: WebSocket as unknown as new (u: string) => WebSocketLike,
        token: () => {
          minted++;
          return token('storage/write', { ttlSec: 2 });
        },
      }),
    );
    c.subscribe('doc', () => undefined);
    await c.change('doc', (d) => (d.first = 1));
    const r = new Replica(5);
    const deadline = Date.now() + 10_000;
    while (c.sessions < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(c.sessions).toBeGreaterThanOrEqual(2);
    expect(minted).toBeGreaterThanOrEqual(2);
    // Still syncing on the new session: a commit made elsewhere arrives.
    await engine.ok(
      { writes: [write('doc', [r.change((d) => (d.second = 2))], [], { merge: true })] },
      spaceA.did,
    );
    while (c.doc('doc')?.second !== 2 && Date.now() < deadline + 5000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(c.doc('doc')).toMatchObject({ first: 1, second: 2 });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { identityFromSeed } from '../../src/auth/server-identity.js';
import { mintUcan } from '../../src/auth/ucan-mint.js';
import { Replica, write } from '../helpers/changes.js';
import { startEngine, TEST_SERVER_KEY, type TestEngine } from '../helpers/engine.js';

/**
 * SPEC §8 admin routes: off by default — 404 before the body is read, and
 * no work done; on, each needs storage/admin over the body's space.
 */

const seed = new Uint8Array(32).fill(51);
const space = identityFromSeed(seed).did;
const server = identityFromSeed(Buffer.from(TEST_SERVER_KEY, 'base64url')).did;
const token = (can: 'storage/admin' | 'storage/write') =>
  mintUcan({
    issuerSeed: seed,
    audience: server,
    capabilities: [{ with: space, can }],
    ttlSec: 600,
  });

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const post = (e: TestEngine, path: string, body: unknown, tok?: string) =>
  e.cairn.fetch(
    new Request(`http://cairn.test${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: tok ? { authorization: `Bearer ${tok}` } : {},
    }),
  );

async function seedDoc(e: TestEngine): Promise<void> {
  await e.ok({ writes: [write('doc', [new Replica(1).change((d) => (d.a = 1))])] }, space);
}

describe('admin routes', () => {
  it('are 404 and do no work when not enabled (even with an admin token)', async () => {
    engine = await startEngine({ auth: 'required' });
    await seedDoc(engine);
    for (const path of [
      '/admin/compact',
      '/admin/rebuild-caches',
      '/admin/connections/close',
      '/admin/x',
    ]) {
      const res = await post(engine, path, { space, docId: 'doc' }, token('storage/admin'));
      expect(res.status, path).toBe(404);
    }
    expect(engine.cairn.snapshots.stats.made).toBe(0);
  });

  it('when enabled, need storage/admin over the space, and do their work', async () => {
    engine = await startEngine({ auth: 'required', enableAdminRoutes: true });
    await seedDoc(engine);
    const body = { space, docId: 'doc' };
    expect((await post(engine, '/admin/compact', body)).status).toBe(401);
    expect((await post(engine, '/admin/compact', body, token('storage/write'))).status).toBe(403);
    const made = await post(engine, '/admin/compact', body, token('storage/admin'));
    expect(made.status).toBe(200);
    expect(await made.json()).toMatchObject({ seq: 1, snapshotId: expect.any(String) });
    expect(engine.cairn.snapshots.stats.made).toBe(1);
    const caches = await post(engine, '/admin/rebuild-caches', { space }, token('storage/admin'));
    expect(await caches.json()).toEqual({ ok: true });
    const closed = await post(
      engine,
      '/admin/connections/close',
      { space },
      token('storage/admin'),
    );
    expect(await closed.json()).toEqual({ closed: 0 });
    const bad = await post(
      engine,
      '/admin/rebuild-caches',
      { space, extra: 1 },
      token('storage/admin'),
    );
    expect(bad.status).toBe(400);
  });
});

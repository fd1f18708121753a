import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as A from '@automerge/automerge';
import { afterEach, describe, expect, it } from 'vitest';
import { toNodeListener } from '../../src/app/serve.js';
import { b64, Replica } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';
import { LiveTestClient } from '../helpers/live-client.js';

/**
 * SPEC §8 embedding: a host app's own `node:http` server mounts cairn under
 * `/api/storage/new` only when its flag `ENABLE_NEW_STORAGE=1` is set (as the
 * source plan does), and two clients sync through it: one writes over the
 * WebSocket, the other follows.
 */

const BASE = '/api/storage/new';
let engine: TestEngine | undefined;
let host: http.Server | undefined;
const clients: LiveTestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await new Promise((resolve) => (host ? host.close(resolve) : resolve(undefined)));
  host?.closeAllConnections();
  await engine?.close();
  host = undefined;
  engine = undefined;
});

/** The host app: its own routes, and cairn's under BASE when the flag says so. */
async function startHost(env: Record<string, string | undefined>): Promise<string> {
  engine = await startEngine({ basePath: BASE });
  const cairn = engine.cairn;
  const enabled = env.ENABLE_NEW_STORAGE === '1';
  const storage = toNodeListener(cairn);
  host = http.createServer((req, res) => {
    if (enabled && req.url?.startsWith(`${BASE}/`)) return void storage(req, res);
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end('the host app');
  });
  if (enabled) host.on('upgrade', cairn.handleUpgrade);
  else host.on('upgrade', (_req, socket) => socket.destroy());
  await new Promise<void>((resolve) => host?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
}

describe('embedded in a host node:http server', () => {
  it('with ENABLE_NEW_STORAGE=1, two clients sync through /api/storage/new', async () => {
    const url = await startHost({ ENABLE_NEW_STORAGE: '1' });
    const reader = await LiveTestClient.connect(`${url}${BASE}`, SPACE);
    const writer = await LiveTestClient.connect(`${url}${BASE}`, SPACE);
    clients.push(reader, writer);
    await reader.hello('reader');
    await writer.hello('writer');
    await reader.call('/storage/subscribe', { docId: 'shared' });
    const w = new Replica(1);
    let base: string[] = [];
    for (let i = 0; i < 5; i++) {
      const change = w.change((d) => (d.n = i));
      const r = await writer.call('/storage/tx', {
        writes: [{ docId: 'shared', baseHeads: base, changes: [b64(change)] }],
      });
      expect(r.ok?.ok).toBe(true);
      base = w.heads;
    }
    const got = await reader.waitForCount((f) => f.type === 'deliver', 5);
    let doc = A.init<Record<string, unknown>>();
    for (const f of got) {
      for (const d of f.docs ?? []) {
        [doc] = A.applyChanges(
          doc,
          (d.body as string[]).map((x) => Buffer.from(x, 'base64')),
        );
      }
    }
    expect(A.getHeads(doc)).toEqual(w.heads);
    // The HTTP routes are there too, and the host's own routes still work.
    const heads = await fetch(`${url}${BASE}/v1/${SPACE}/docs/shared/heads`);
    expect(((await heads.json()) as { heads: string[] }).heads).toEqual(w.heads);
    expect(await (await fetch(`${url}/`)).text()).toBe('the host app');
  });

  it('without the flag, nothing of cairn is reachable', async () => {
    const url = await startHost({});
    expect((await fetch(`${url}${BASE}/v1/${SPACE}/docs/shared/heads`)).status).toBe(404);
    await expect(LiveTestClient.connect(`${url}${BASE}`, SPACE)).rejects.toThrow();
  });
});

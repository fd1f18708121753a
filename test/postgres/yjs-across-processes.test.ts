import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createCairn, type Cairn } from '../../src/app/create-cairn.js';
import { listen, type RunningServer } from '../../src/app/serve.js';
import { createTestDatabase, type TestDatabase } from '../helpers/backend.js';
import { TEST_SERVER_KEY } from '../helpers/engine.js';
import { connectProvider, synced, until } from '../helpers/yjs-provider.js';

/**
 * SPEC §11 on several processes sharing one PostgreSQL database (two
 * engines, each with its own pool and LISTEN connection): stock y-websocket
 * providers connected to different processes edit one doc and converge,
 * and an update posted over HTTP to one process reaches a provider on the
 * other — every update committed once, by the process that received it.
 */

const SPACE = 'did:key:z6MkYjsAcrossProcesses';
let db: TestDatabase | undefined;
const engines: Cairn[] = [];
const servers: RunningServer[] = [];
const closers: (() => void)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0)) c();
  for (const s of servers.splice(0)) await s.close(0);
  for (const c of engines.splice(0)) await c.close();
  await db?.drop();
  db = undefined;
});

async function serve(url: string): Promise<{ cairn: Cairn; base: string }> {
  const cairn = await createCairn({ databaseUrl: url, serverKey: TEST_SERVER_KEY, auth: 'off' });
  engines.push(cairn);
  const server = await listen(cairn, '127.0.0.1', 0);
  servers.push(server);
  return { cairn, base: `http://127.0.0.1:${server.port}` };
}

describe('Yjs across processes (PostgreSQL)', () => {
  it('providers on two processes converge, and an HTTP update to one reaches a provider on the other', async () => {
    db = await createTestDatabase();
    const one = await serve(db.url);
    const two = await serve(db.url);
    const a = connectProvider(one.base, SPACE, 'shared');
    const b = connectProvider(two.base, SPACE, 'shared');
    closers.push(a.close, b.close);
    await Promise.all([synced(a.provider), synced(b.provider)]);
    for (let i = 0; i < 10; i++) {
      a.doc.getText('t').insert(0, `a${i} `);
      b.doc.getText('t').insert(b.doc.getText('t').length, `b${i} `);
    }
    await until(
      () =>
        a.doc.getText('t').toString() === b.doc.getText('t').toString() &&
        a.doc.getText('t').length === 60,
      'the providers on two processes converge',
    );

    const writer = new Y.Doc();
    Y.applyUpdate(writer, Y.encodeStateAsUpdate(b.doc));
    const before = Y.encodeStateVector(writer);
    writer.getMap('meta').set('via', 'http');
    const res = await fetch(`${two.base}/v1/${SPACE}/yjs/shared/updates`, {
      method: 'POST',
      body: Y.encodeStateAsUpdate(writer, before),
    });
    expect(res.status).toBe(200);
    await until(() => a.doc.getMap('meta').get('via') === 'http', 'the HTTP update reaches a');
    expect(one.cairn.yjs.committer.stats.committed + two.cairn.yjs.committer.stats.committed).toBe(
      21,
    );
  });
});

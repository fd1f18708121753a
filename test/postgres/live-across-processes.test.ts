import { afterEach, describe, expect, it } from 'vitest';
import { createCairn, type Cairn } from '../../src/app/create-cairn.js';
import { listen, type RunningServer } from '../../src/app/serve.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { LISTENER_APPLICATION_NAME } from '../../src/storage/postgres/pg-commit-listener.js';
import { createTestDatabase, type TestDatabase } from '../helpers/backend.js';
import { Replica, write } from '../helpers/changes.js';
import { TEST_SERVER_KEY } from '../helpers/engine.js';
import { LiveTestClient } from '../helpers/live-client.js';
import { withClient } from '../helpers/pg-databases.js';

/**
 * Several cairn processes on one PostgreSQL database (two engines here, each
 * with its own pool and listener, as two processes have): a subscriber on
 * one sees the commits made through the other, also after its LISTEN
 * connection was dropped (what was announced meanwhile is read back by epoch).
 */

const SPACE = 'did:key:z6MkLiveAcrossProcesses';
let db: TestDatabase | undefined;
const open: Cairn[] = [];
const servers: RunningServer[] = [];
const clients: LiveTestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close(0);
  for (const c of open.splice(0)) await c.close();
  await db?.drop();
  db = undefined;
});

async function engine(url: string): Promise<Cairn> {
  const cairn = await createCairn({ databaseUrl: url, serverKey: TEST_SERVER_KEY, auth: 'off' });
  open.push(cairn);
  return cairn;
}

async function commit(cairn: Cairn, r: Replica, n: number): Promise<number> {
  const base = r.heads;
  const out = await cairn.pipeline.commit(
    SPACE,
    parseTxRequest({ writes: [write('doc', [r.change((d) => (d.n = n))], base)] }, cairn.limits),
  );
  if (!out.ok) throw new Error(JSON.stringify(out.error));
  return out.epoch;
}

describe('live updates across processes (PostgreSQL)', () => {
  it('a subscriber on one process sees commits made through another, also after its LISTEN connection drops', async () => {
    db = await createTestDatabase();
    const [a, b] = [await engine(db.url), await engine(db.url)];
    const server = await listen(b, '127.0.0.1', 0);
    servers.push(server);
    const w = new Replica(1);
    await commit(a, w, 0);

    const sub = await LiveTestClient.connect(`http://127.0.0.1:${server.port}`, SPACE);
    clients.push(sub);
    await sub.hello();
    await sub.call('/storage/subscribe', { docId: 'doc' });
    const e2 = await commit(a, w, 1);
    const got = await sub.waitFor((f) => f.type === 'deliver' && f.epoch === e2);
    expect(got.docs![0]).toMatchObject({ docId: 'doc', seq: 2, kind: 'changes' });

    // Drop every listener connection; commit while they are away.
    await withClient(db.url, (client) =>
      client.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [LISTENER_APPLICATION_NAME],
      ),
    );
    const e3 = await commit(a, w, 2);
    const e4 = await commit(a, w, 3);
    // Nothing is lost: B's listener reconnects, resyncs, and reads e3 and e4 back.
    await sub.waitFor((f) => f.type === 'deliver' && f.epoch === e4);
    const epochs = sub.deliveries().map((f) => f.epoch);
    expect(epochs.slice(1)).toEqual([e2, e3, e4]);
    expect(sub.deliveries().at(-1)!.docs![0]!.heads).toEqual(w.heads);
  });
});

import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { listen, type RunningServer } from '../../src/app/serve.js';
import { b64, Replica } from '../helpers/changes.js';
import { LiveTestClient } from '../helpers/live-client.js';
import { startPgCluster, type PgCluster } from '../helpers/postgres-cluster.js';

/**
 * SPEC §8 degraded mode with PostgreSQL really stopped (`pg_ctl stop -m
 * fast`) and started again under a running server — a cluster of this
 * test's own, so the shared one is never stopped. While it is down: writes
 * answer 503 StorageUnavailable without hanging, /readyz fails, a live
 * subscriber stays connected. After it is back: the server takes writes by
 * itself, /readyz passes, the subscriber gets the next commit, and every
 * acknowledged commit is there.
 */

const SPACE = 'did:key:z6MkPgRestart';
const ACKED_BEFORE = 5;
/** A request that takes longer than this while the database is down counts as hanging. */
const ANSWER_WITHIN_MS = 15_000;
const RECOVERY_ATTEMPTS = 100;
const RECOVERY_PAUSE_MS = 100;

let cluster: PgCluster | undefined;
afterAll(() => cluster?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL stopped and restarted under a running server', () => {
  it('refuses writes fast, keeps subscribers, recovers by itself, loses nothing acknowledged', async () => {
    cluster = await startPgCluster();
    const admin = new pg.Client({ connectionString: cluster.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE restart_test');
    await admin.end();
    const cairn = await createCairn({
      databaseUrl: cluster.adminUrl.replace(/\/postgres$/, '/restart_test'),
      auth: 'off',
    });
    const server: RunningServer = await listen(cairn, '127.0.0.1', 0);
    const base = `http://127.0.0.1:${server.port}`;
    const call = (path: string, init?: RequestInit) =>
      fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
    const tx = (docId: string, baseHeads: string[], change: Uint8Array) =>
      call(`/v1/${SPACE}/tx`, {
        method: 'POST',
        body: JSON.stringify({ writes: [{ docId, baseHeads, changes: [b64(change)] }] }),
      });
    const live = await LiveTestClient.connect(base, SPACE);
    try {
      await live.hello('restart-subscriber');
      await live.call('/storage/subscribe', { docId: 'after' });

      const r = new Replica(1);
      for (let i = 0; i < ACKED_BEFORE; i++) {
        const heads = r.heads;
        const res = await tx(
          'doc',
          heads,
          r.change((d) => (d.n = i)),
        );
        expect(res.status).toBe(200);
      }
      const acked = r.heads;

      cluster.halt();
      const refused = await tx(
        'doc',
        acked,
        new Replica(3).change((d) => (d.x = 1)),
      );
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
        'StorageUnavailable',
      );
      const ready = await call('/readyz');
      expect(ready.status).toBe(503);
      // A read answers (from memory where it can, else 503): never a hang, never a wrong state.
      const read = await call(`/v1/${SPACE}/docs/doc/heads`);
      expect([200, 503]).toContain(read.status);
      if (read.status === 200)
        expect(((await read.json()) as { heads: string[] }).heads).toEqual(acked);
      expect(live.closed).toBeUndefined();

      cluster.restart();
      const later = new Replica(2);
      const change = later.change((d) => (d.ok = true));
      let status = 0;
      for (let i = 0; i < RECOVERY_ATTEMPTS && status !== 200; i++) {
        status = (await tx('after', [], change)).status;
        if (status !== 200) {
          expect(status).toBe(503);
          await sleep(RECOVERY_PAUSE_MS);
        }
      }
      expect(status, 'writes did not come back after the restart').toBe(200);
      expect((await call('/readyz')).status).toBe(200);
      const pushed = await live.waitFor(
        (f) => f.type === 'deliver' && !!f.docs?.some((d) => d.docId === 'after'),
      );
      expect(pushed.docs?.[0]?.heads).toEqual(later.heads);
      expect(live.closed).toBeUndefined();

      const final = await call(`/v1/${SPACE}/docs/doc/heads`);
      expect(final.status).toBe(200);
      expect(((await final.json()) as { heads: string[] }).heads).toEqual(acked);
      const history = await call(`/v1/${SPACE}/docs/doc/history?limit=100`);
      expect(((await history.json()) as { items: unknown[] }).items).toHaveLength(ACKED_BEFORE);
    } finally {
      live.close();
      await server.close(0);
    }
  });
});

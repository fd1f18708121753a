import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCairn, type Cairn } from '../../src/app/create-cairn.js';
import type { TxOutcome } from '../../src/protocol/receipt.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { createTestDatabase, type TestDatabase } from '../helpers/backend.js';
import { hashOf, Replica, write } from '../helpers/changes.js';
import { TEST_SERVER_KEY } from '../helpers/engine.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const SPACE = 'did:key:z6MkPgWriterCache';

/**
 * Each PostgreSQL store keeps a writer cache between its batches. Two engines
 * on one database stand for two processes: whatever one of them writes, the
 * other must see in its next batch, never its own cached rows.
 */
describe('PostgreSQL writer cache across processes', () => {
  let db: TestDatabase;
  let a: Cairn;
  let b: Cairn;
  const temp = makeTempDir('cairn-pg-cache-');
  const tx = (cairn: Cairn, body: unknown): Promise<TxOutcome> =>
    cairn.pipeline.commit(SPACE, parseTxRequest(body, cairn.limits));

  beforeAll(async () => {
    db = await createTestDatabase();
    const open = () =>
      createCairn({
        dataDir: temp.dir,
        databaseUrl: db.url,
        serverKey: TEST_SERVER_KEY,
        auth: 'off',
      });
    a = await open();
    b = await open();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
    temp.cleanup();
  });

  it('refuses stale base heads in one process after the other one moved the branch', async () => {
    const r = new Replica(1);
    const c1 = r.change((d) => void (d.n = 1));
    const c2 = r.change((d) => void (d.n = 2));
    expect((await tx(a, { writes: [write('doc', [c1])] })).ok).toBe(true);
    // b moves the branch; a's cached branch row still says seq 1, heads [c1].
    const moved = await tx(b, { writes: [write('doc', [c2], [hashOf(c1)])] });
    expect(moved.ok).toBe(true);
    const other = new Replica(2, r.doc);
    const stale = await tx(a, {
      writes: [write('doc', [other.change((d) => void (d.m = 1))], [hashOf(c1)])],
    });
    expect(stale.ok).toBe(false);
    expect(!stale.ok && stale.error).toMatchObject({
      code: 'StaleBaseHeads',
      currentHeads: [hashOf(c2)],
    });
    // And the next epoch a commits follows b's, with the actor seq b stored.
    const c3 = r.change((d) => void (d.n = 3));
    const next = await tx(a, { writes: [write('doc', [c3], [hashOf(c2)])] });
    expect(next.ok && next.epoch).toBe(3);
    const replay = await tx(a, { writes: [write('doc', [c2], [hashOf(c1)])] });
    expect(replay.ok && replay.results[0]).toMatchObject({ applied: 0, duplicates: 1 });
  });

  it('refuses a write in one process to a branch the other one closed', async () => {
    const r = new Replica(3);
    const c1 = r.change((d) => void (d.x = 1));
    expect((await tx(a, { writes: [write('closing', [c1])] })).ok).toBe(true);
    await b.branches.close(SPACE, 'closing', 'main');
    const after = await tx(a, {
      writes: [write('closing', [r.change((d) => void (d.x = 2))], [hashOf(c1)])],
    });
    expect(!after.ok && after.error.code).toBe('BranchClosed');
  });
});

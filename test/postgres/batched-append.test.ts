import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCairn, type Cairn } from '../../src/app/create-cairn.js';
import type { TxOutcome } from '../../src/protocol/receipt.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { createTestDatabase, type TestDatabase } from '../helpers/backend.js';
import { hashOf, Replica, write } from '../helpers/changes.js';
import { TEST_SERVER_KEY } from '../helpers/engine.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const SPACE = 'did:key:z6MkPgBatchedAppend';

/**
 * On PostgreSQL the log rows of a batch's commits are queued and written
 * together. Whatever reads the log later in the same batch must still see
 * them, and a change stored by two docs of one batch must keep one copy.
 */
describe('PostgreSQL batched log appends', () => {
  let db: TestDatabase;
  let cairn: Cairn;
  const temp = makeTempDir('cairn-pg-batch-');
  const tx = (body: unknown): Promise<TxOutcome> =>
    cairn.pipeline.commit(SPACE, parseTxRequest(body, cairn.limits));
  /** Submitted in one turn of the event loop: one write batch. */
  const oneBatch = async (bodies: unknown[]): Promise<TxOutcome[]> => {
    const sizes: number[] = [];
    const off = cairn.pipeline.onCommitted((c) => sizes.push(c.length));
    try {
      const outs = await Promise.all(bodies.map(tx));
      expect(sizes, 'what committed, committed in one batch').toHaveLength(1);
      return outs;
    } finally {
      off();
    }
  };
  const storedCopies = async (hash: string): Promise<boolean[]> => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const res = await client.query<{ stored: boolean }>(
        'SELECT bytes IS NOT NULL AS stored FROM log WHERE space_id = $1 AND hash = $2 ORDER BY branch_id',
        [SPACE, Buffer.from(hash, 'hex')],
      );
      return res.rows.map((r) => r.stored);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    cairn = await createCairn({
      dataDir: temp.dir,
      databaseUrl: db.url,
      serverKey: TEST_SERVER_KEY,
      auth: 'off',
    });
  });
  afterAll(async () => {
    await cairn?.close();
    await db?.drop();
    temp.cleanup();
  });

  it('stores a change sent to two docs by two transactions of one batch once', async () => {
    // The same change goes to both docs in three batches in a row. By the third,
    // the writer has both branches and the actor's seqs cached, so nothing reads
    // the database between the two queued appends of that change.
    const r = new Replica(1);
    const changes = [0, 1, 2].map((n) => r.change((d) => void (d.n = n)));
    let heads: string[] = [];
    for (const c of changes) {
      const outs = await oneBatch(
        ['twin-a', 'twin-b'].map((doc) => ({ writes: [write(doc, [c], heads)] })),
      );
      expect(outs.every((o) => o.ok)).toBe(true);
      expect(await storedCopies(hashOf(c))).toEqual([true, false]);
      heads = [hashOf(c)];
    }
    for (const doc of ['twin-a', 'twin-b']) {
      const bytes = await cairn.reader.readDocBytes(SPACE, doc, 'main', { kind: 'current' });
      expect(bytes.heads).toEqual(heads);
      expect(bytes.seq).toBe(3);
    }
  });

  it('lets a later transaction of the batch depend on a change an earlier one queued', async () => {
    const base = new Replica(2);
    const x1 = base.change((d) => void (d.x = 1));
    const x2 = base.change((d) => void (d.x = 2));
    // y was made on top of x1 only; x1 is no longer a head once x2 is in.
    const other = new Replica(3);
    other.receive([x1]);
    const y = other.change((d) => void (d.y = 1));
    const outs = await oneBatch([
      { writes: [write('chain', [x1, x2])] },
      { writes: [write('chain', [y], [hashOf(x2)])] },
    ]);
    expect(outs.map((o) => o.ok)).toEqual([true, true]);
    const doc = await cairn.reader.readDoc(SPACE, 'chain', 'main', { kind: 'current' });
    expect(doc.seq).toBe(3);
    expect([...doc.heads].sort()).toEqual([hashOf(x2), hashOf(y)].sort());
  });

  it('treats a resend of a change queued earlier in the batch as a duplicate', async () => {
    const r = new Replica(4);
    const c1 = r.change((d) => void (d.n = 1));
    const c2 = r.change((d) => void (d.n = 2));
    const outs = await oneBatch([
      { writes: [write('resend', [c1, c2])] },
      { writes: [write('resend', [c1], [])] },
    ]);
    expect(outs[0]?.ok).toBe(true);
    expect(outs[1]?.ok && outs[1].results[0]).toMatchObject({ applied: 0, duplicates: 1 });
  });
});

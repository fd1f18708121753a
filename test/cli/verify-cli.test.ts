import path from 'node:path';
import * as A from '@automerge/automerge';
import * as Y from 'yjs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { spaceFileName } from '../../src/storage/sqlite/sqlite-backend.js';
import { createTestDatabase, TEST_BACKEND, type TestDatabase } from '../helpers/backend.js';
import { Replica, write } from '../helpers/changes.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * `cairn verify --space S` (SPEC §8) on the backend under test: a sound
 * space passes (exit 0); a flipped byte in a stored change, a deleted
 * commit, a reordered tx record and a forged snapshot are each named (exit 1).
 */

const SPACE = 'did:key:z6MkVerifyCli';

const cli = (args: string[]) => runCli(args, {}, 60_000);

interface Store {
  where: string[];
  /** Runs test-only SQL on the space's tables (`$1` is the space id on PostgreSQL). */
  sql(sqlite: string, postgres: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  done(): Promise<void>;
}

/** A space with 6 commits on two docs and one snapshot (and with `yjs`, a Yjs doc: 3 updates, a checkpoint), its server stopped. */
async function seeded(yjs = false): Promise<Store> {
  const { dir, cleanup } = makeTempDir();
  const db: TestDatabase | undefined =
    TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
  const cairn = await createCairn({
    dataDir: dir,
    auth: 'off',
    sync: 'normal',
    ...(db ? { databaseUrl: db.url } : {}),
  });
  const r = new Replica(1);
  for (let i = 0; i < 5; i++) {
    const base = r.heads;
    const body = { writes: [write('doc', [r.change((d) => (d.n = i))], base)] };
    expect((await cairn.pipeline.commit(SPACE, parseTxRequest(body, cairn.limits))).ok).toBe(true);
  }
  const other = { writes: [write('other', [new Replica(2).change((d) => (d.o = 1))])] };
  expect((await cairn.pipeline.commit(SPACE, parseTxRequest(other, cairn.limits))).ok).toBe(true);
  await cairn.snapshots.makeNow(SPACE, 'doc', 'main', 3);
  if (yjs) {
    const doc = new Y.Doc();
    for (const word of ['one ', 'two ', 'three']) {
      const before = Y.encodeStateVector(doc);
      doc.getText('t').insert(doc.getText('t').length, word);
      const update = Y.encodeStateAsUpdate(doc, before);
      expect((await cairn.yjs.postUpdate(SPACE, 'ydoc', update)).applied).toBe(1);
    }
    await cairn.yjs.compactNow(SPACE, 'ydoc');
  }
  await cairn.close();
  return {
    where: db ? ['--database', db.url] : ['--data', dir],
    async sql(sqlite, postgres, params = []) {
      if (db) {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        try {
          return (await client.query(postgres, [SPACE, ...params])).rows as Record<
            string,
            unknown
          >[];
        } finally {
          await client.end();
        }
      }
      const file = new Database(path.join(dir, 'spaces', spaceFileName(SPACE)));
      try {
        const stmt = file.prepare(sqlite);
        return stmt.reader
          ? (stmt.all(...params) as Record<string, unknown>[])
          : (stmt.run(...params), []);
      } finally {
        file.close();
      }
    },
    async done() {
      await db?.drop();
      cleanup();
    },
  };
}

type Report = {
  ok: boolean;
  checked: Record<string, number>;
  problems: { where: string; problem: string }[];
};

function verify(store: Store): { code: number | null; report: Report } {
  const out = cli(['verify', '--space', SPACE, ...store.where, '--json']);
  expect(out.stderr).toBe('');
  return { code: out.code, report: JSON.parse(out.stdout) as Report };
}

async function withStore(fn: (s: Store) => Promise<void>, yjs = false): Promise<void> {
  const store = await seeded(yjs);
  try {
    await fn(store);
  } finally {
    await store.done();
  }
}

describe('cairn verify', () => {
  it('checks Yjs docs too: names a flipped byte in a journal row and a forged checkpoint (exit 1)', async () => {
    await withStore(async (s) => {
      const sound = verify(s);
      expect(sound.code).toBe(0);
      expect(sound.report.checked).toEqual({ epochs: 9, changes: 9, snapshots: 2 });
      const [row] = await s.sql(
        'SELECT bytes FROM yjs_journal WHERE epoch = 8',
        'SELECT bytes FROM yjs_journal WHERE space_id = $1 AND epoch = 8',
      );
      const bytes = Buffer.from(row?.bytes as Uint8Array);
      bytes[bytes.length - 2] = (bytes[bytes.length - 2] as number) ^ 0x01;
      await s.sql(
        'UPDATE yjs_journal SET bytes = ? WHERE epoch = 8',
        'UPDATE yjs_journal SET bytes = $2 WHERE space_id = $1 AND epoch = 8',
        [bytes],
      );
      await s.sql(
        'UPDATE yjs_chunks SET bytes = ?',
        'UPDATE yjs_chunks SET bytes = $2 WHERE space_id = $1',
        [Buffer.from('forged')],
      );
      const bad = verify(s);
      expect(bad.code).toBe(1);
      expect(bad.report.problems).toEqual([
        { where: 'epoch 8: yjs doc ydoc', problem: expect.stringMatching(/do not hash/) },
        {
          where: expect.stringMatching(/^yjs doc ydoc checkpoint 1 \(epoch 9\)$/),
          problem: expect.any(String),
        },
      ]);
    }, true);
  });

  it('passes a sound space (exit 0) and names a flipped byte in a stored change (exit 1)', async () => {
    await withStore(async (s) => {
      const sound = verify(s);
      expect(sound.code).toBe(0);
      expect(sound.report).toMatchObject({
        ok: true,
        checked: { epochs: 6, changes: 6, snapshots: 1 },
        problems: [],
      });
      const [row] = await s.sql(
        'SELECT bytes FROM log WHERE seq = 2 AND bytes IS NOT NULL',
        'SELECT bytes FROM log WHERE space_id = $1 AND seq = 2 AND bytes IS NOT NULL',
      );
      const bytes = Buffer.from(row?.bytes as Uint8Array);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
      await s.sql(
        'UPDATE log SET bytes = ? WHERE seq = 2 AND bytes IS NOT NULL',
        'UPDATE log SET bytes = $2 WHERE space_id = $1 AND seq = 2 AND bytes IS NOT NULL',
        [bytes],
      );
      const bad = verify(s);
      expect(bad.code).toBe(1);
      expect(bad.report.ok).toBe(false);
      expect(bad.report.problems[0]?.where).toMatch(/^epoch 2: doc doc branch main seq 2$/);
      const plain = cli(['verify', '--space', SPACE, ...s.where]);
      expect(plain.code).toBe(1);
      expect(plain.stdout).toMatch(/^NOT OK: .*first: epoch 2: doc doc branch main seq 2: /);
    });
  });

  it('names a deleted commit', async () => {
    await withStore(async (s) => {
      await s.sql(
        'DELETE FROM log WHERE seq = 4',
        'DELETE FROM log WHERE space_id = $1 AND seq = 4',
      );
      const { code, report } = verify(s);
      expect(code).toBe(1);
      expect(report.problems[0]).toMatchObject({
        where: 'epoch 4: doc doc branch main',
        problem: expect.stringMatching(/log rows are missing/),
      });
    });
  });

  it('names a reordered tx record', async () => {
    await withStore(async (s) => {
      await s.sql(
        'UPDATE tx SET epoch = -2 WHERE epoch = 2',
        'UPDATE tx SET epoch = -2 WHERE space_id = $1 AND epoch = 2',
      );
      await s.sql(
        'UPDATE tx SET epoch = 2 WHERE epoch = 3',
        'UPDATE tx SET epoch = 2 WHERE space_id = $1 AND epoch = 3',
      );
      await s.sql(
        'UPDATE tx SET epoch = 3 WHERE epoch = -2',
        'UPDATE tx SET epoch = 3 WHERE space_id = $1 AND epoch = -2',
      );
      const { code, report } = verify(s);
      expect(code).toBe(1);
      expect(report.problems[0]?.where).toBe('epoch 2');
    });
  });

  it('names a forged snapshot', async () => {
    await withStore(async (s) => {
      const forged = A.save(A.from({ forged: true }));
      await s.sql(
        'UPDATE snapshots SET bytes = ?',
        'UPDATE snapshots SET bytes = $2 WHERE space_id = $1',
        [Buffer.from(forged)],
      );
      const { code, report } = verify(s);
      expect(code).toBe(1);
      expect(report.problems).toHaveLength(1);
      expect(report.problems[0]?.where).toMatch(/^snapshot \d+ \(doc doc branch main seq 3\)$/);
    });
  });

  it('refuses an unknown space with one line (exit 2)', async () => {
    await withStore(async (s) => {
      const out = cli(['verify', '--space', 'did:key:z6MkNobodyHere', ...s.where]);
      expect(out.code).toBe(2);
      expect(out.stderr).toMatch(/^cairn: /);
    });
  });
});

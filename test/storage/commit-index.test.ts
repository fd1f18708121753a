import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { schemaDown, schemaUp } from '../../src/app/schema.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { PG_MIGRATIONS } from '../../src/storage/postgres/pg-migrations.js';
import { SPACE_MIGRATIONS } from '../../src/storage/sqlite/space-migrations.js';
import { SPACES_DIR, spaceFileName } from '../../src/storage/sqlite/sqlite-backend.js';
import { createTestDatabase, TEST_BACKEND } from '../helpers/backend.js';
import { Replica, write } from '../helpers/changes.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * The performance-index migration (`log_commits`, SPEC §8 migrations): the
 * history queries use it, its `up` is idempotent (IF NOT EXISTS), its
 * `down` removes exactly that index, and up → down → up on a populated
 * store loses nothing — on the backend under test.
 */

const SPACE = 'did:key:z6MkCommitIndex';
const COMMITS = 30;
const CHANGES_PER_COMMIT = 8;
const PAGE = 5;

const COMMITS_BEFORE = `SELECT seq, commit_from, epoch, committed_at, commit_heads FROM log
  WHERE {space} branch_id = 1 AND seq < 1000000 AND commit_from IS NOT NULL ORDER BY seq DESC LIMIT ${PAGE}`;

interface Probe {
  /** Index names on the log table. */
  indexes(): Promise<string[]>;
  /** The plan of the history page query, as text. */
  plan(): Promise<string>;
  /** Runs a migration's SQL directly. */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

async function probe(target: { dataDir: string } | { databaseUrl: string }): Promise<Probe> {
  if ('dataDir' in target) {
    const db = new Database(path.join(target.dataDir, SPACES_DIR, spaceFileName(SPACE)));
    return {
      indexes: async () =>
        db
          .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'log' ORDER BY name",
          )
          .pluck()
          .all() as string[],
      plan: async () =>
        (
          db.prepare(`EXPLAIN QUERY PLAN ${COMMITS_BEFORE.replace('{space}', '')}`).all() as {
            detail: string;
          }[]
        )
          .map((r) => r.detail)
          .join('\n'),
      exec: async (sql) => void db.exec(sql),
      close: async () => void db.close(),
    };
  }
  const client = new pg.Client({ connectionString: target.databaseUrl });
  await client.connect();
  // A handful of rows: without this, a sequential scan is cheapest and hides the index choice.
  await client.query('SET enable_seqscan = off');
  return {
    indexes: async () =>
      (
        await client.query<{ indexname: string }>(
          "SELECT indexname FROM pg_indexes WHERE tablename = 'log' ORDER BY indexname",
        )
      ).rows.map((r) => r.indexname),
    plan: async () =>
      (
        await client.query(
          `EXPLAIN ${COMMITS_BEFORE.replace('{space}', `space_id = '${SPACE}' AND`)}`,
        )
      ).rows
        .map((r: Record<string, string>) => r['QUERY PLAN'])
        .join('\n'),
    exec: async (sql) => void (await client.query(sql)),
    close: () => client.end(),
  };
}

describe('the commit-rows index migration', () => {
  it('serves the history page query, is idempotent up, exactly reverted down, and round-trips a populated store', async () => {
    const { dir, cleanup } = makeTempDir();
    const db = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
    const target = db ? { databaseUrl: db.url } : { dataDir: dir };
    const migrations = db ? PG_MIGRATIONS : SPACE_MIGRATIONS;
    const step = migrations.find((m) => m.name === 'index of commit rows');
    expect(step, 'the migration exists').toBeDefined();
    // Down reverts the newest step: the steps after this one go first.
    const newer = migrations.length - (step?.version ?? 0);
    const open = () => createCairn({ ...target, auth: 'off', sync: 'normal' });
    try {
      let cairn = await open();
      const r = new Replica(1);
      for (let c = 0; c < COMMITS; c++) {
        const base = r.heads;
        const changes = Array.from({ length: CHANGES_PER_COMMIT }, (_, i) =>
          r.change((d) => (d[`k${i}`] = c)),
        );
        const out = await cairn.pipeline.commit(
          SPACE,
          parseTxRequest({ writes: [write('doc', changes, base)] }, cairn.limits),
        );
        expect(out.ok).toBe(true);
      }
      const history = async () =>
        (await cairn.read.history(SPACE, 'doc', 'main', undefined, PAGE)).items;
      const before = await history();
      await cairn.close();

      const p = await probe(target);
      try {
        const withIndex = await p.indexes();
        expect(withIndex).toContain('log_commits');
        expect(await p.plan()).toMatch(/log_commits/);
        await p.exec((step as { up: string }).up); // IF NOT EXISTS: a second up is a no-op
        expect(await p.indexes()).toEqual(withIndex);

        for (let i = 0; i < newer; i++) await schemaDown(target);
        expect(await p.indexes(), 'later steps leave the index').toEqual(withIndex);
        await schemaDown(target);
        expect(await p.indexes()).toEqual(withIndex.filter((i) => i !== 'log_commits'));
        expect(await p.plan()).not.toMatch(/log_commits/);
        await schemaUp(target);
        expect(await p.indexes()).toEqual(withIndex);
      } finally {
        await p.close();
      }

      cairn = await open();
      expect(await history()).toEqual(before);
      expect(before.length).toBe(PAGE);
      await cairn.close();
    } finally {
      await db?.drop();
      cleanup();
    }
  });
});

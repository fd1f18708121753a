import fs from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { rootRef } from '../../src/crdt/heads.js';
import { DocCache } from '../../src/read/doc-cache.js';
import { DocReader } from '../../src/read/doc-reader.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import {
  DISTRIBUTED_TABLES,
  LOCAL_TABLES,
  REFERENCE_TABLES,
} from '../../src/storage/postgres/pg-migrations.js';
import type { KvWriteOps } from '../../src/storage/kv-types.js';
import type { YjsWriteOps } from '../../src/storage/yjs-types.js';
import { actorId, hashOf, Replica, write } from '../helpers/changes.js';
import {
  KV_OPS_FILE,
  SPACE_OPS_FILE,
  type Statement,
  YJS_OPS_FILE,
  extractSqlObject,
  lintCatalog,
  lintStatement,
  oneLine,
  tableNames,
} from '../helpers/citus-lint.js';
import {
  dropDatabasesAfterAll,
  freshDatabase,
  withClient,
  migratedDatabase,
} from '../helpers/pg-databases.js';

/**
 * "The Citus schema lint" (STACK.md, SPEC §1): the PostgreSQL schema must stay
 * shardable by space. Plain PostgreSQL cannot run Citus here, so these tests
 * read the catalog of a freshly migrated database and the SQL text of the
 * backend, and fail on anything Citus would refuse (or would turn into a
 * cross-shard operation):
 *
 * - every table except the reference/local ones has `space_id`, and every
 *   primary key and unique index starts with it;
 * - foreign keys only between distributed tables, through `space_id`;
 * - no triggers, no sequences / serial / identity columns;
 * - every statement pins one space (`space_id = $1`, or `$1` inserted as the
 *   `space_id`), joins are colocated (`x.space_id = y.space_id`), and no
 *   UPDATE/DELETE calls a volatile function.
 *
 * Each check collects readable violations (naming the table or statement) and
 * asserts the list is empty, so one run shows every problem at once.
 */

dropDatabasesAfterAll();

describe('the Citus schema lint', () => {
  it('a migrated database has no Citus violations in its catalog', async () => {
    const db = await migratedDatabase();
    await withClient(db.url, async (client) => {
      expect(await tableNames(client)).toEqual(
        [...DISTRIBUTED_TABLES, ...REFERENCE_TABLES, ...LOCAL_TABLES].sort(),
      );
      expect(await lintCatalog(client)).toEqual([]);
    });
  });

  it('the catalog lint catches each kind of violation (it is not vacuous)', async () => {
    const db = await migratedDatabase();
    await withClient(db.url, async (client) => {
      await client.query(`
        CREATE SCHEMA lint_selftest;
        SET search_path = lint_selftest;
        CREATE TABLE good (space_id TEXT NOT NULL, id BIGINT NOT NULL, PRIMARY KEY (space_id, id));
        CREATE TABLE no_space (id BIGINT PRIMARY KEY);
        CREATE TABLE bad_keys (
          space_id TEXT NOT NULL, id BIGSERIAL, other BIGINT GENERATED ALWAYS AS IDENTITY,
          code TEXT UNIQUE, PRIMARY KEY (id, space_id),
          FOREIGN KEY (space_id, id) REFERENCES good (space_id, id)
        );
        CREATE UNIQUE INDEX bad_keys_lower ON bad_keys (lower(code), space_id);
        CREATE SEQUENCE loose_seq;
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER bad_keys_touch BEFORE INSERT ON bad_keys FOR EACH ROW EXECUTE FUNCTION touch();
      `);
      const found = await lintCatalog(client, 'lint_selftest');
      const expected = [
        'table no_space has no space_id column',
        'table bad_keys: primary key bad_keys_pkey (id, space_id) does not start with space_id',
        'table bad_keys: unique constraint bad_keys_code_key (code) does not start with space_id',
        'table bad_keys: unique index bad_keys_lower (<expression>, space_id) does not start with space_id',
        'table no_space: primary key no_space_pkey (id) does not start with space_id',
        // `good`/`bad_keys` are not in DISTRIBUTED_TABLES.
        'foreign key bad_keys_space_id_id_fkey (bad_keys(space_id, id) → good(space_id, id)) is not between two distributed tables',
        'table bad_keys has trigger bad_keys_touch',
        'sequence bad_keys_id_seq exists (owned by bad_keys.id)',
        'sequence bad_keys_other_seq exists (owned by bad_keys.other)',
        'sequence loose_seq exists',
        'column bad_keys.id defaults to a sequence',
        'column bad_keys.other is an identity column',
      ];
      for (const e of expected) {
        expect(
          found.some((f) => f.startsWith(e)),
          `lint missed "${e}"; it found:\n${found.join('\n')}`,
        ).toBe(true);
      }
      await client.query('DROP SCHEMA lint_selftest CASCADE');
    });
  });

  describe('SQL text of pg-statements.ts, pg-yjs-statements.ts and pg-kv-statements.ts', () => {
    const source = fs.readFileSync(SPACE_OPS_FILE, 'utf8');
    const yjsSource = fs.readFileSync(YJS_OPS_FILE, 'utf8');
    const kvSource = fs.readFileSync(KV_OPS_FILE, 'utf8');
    let extracted: Statement[] | undefined;
    /** Read lazily, so an extractor failure is a failing test, not a broken file. */
    const sqlObject = () =>
      (extracted ??= [
        ...extractSqlObject(source),
        ...extractSqlObject(yjsSource, 'YJS_SQL'),
        ...extractSqlObject(kvSource, 'KV_SQL'),
      ]);

    it('extracts every statement of the SQL object', () => {
      const keys = sqlObject().map((s) => s.key);
      expect(
        keys.length,
        'a sanity floor; the leftover check guarantees none is skipped',
      ).toBeGreaterThanOrEqual(15);
      expect(new Set(keys).size).toBe(keys.length);
      for (const s of sqlObject()) expect(s.text, s.key).not.toContain('${');
    });

    it('every statement pins one space, joins are colocated, no volatile UPDATE/DELETE', () => {
      expect(sqlObject().flatMap(lintStatement)).toEqual([]);
    });

    it('the statement lint catches each kind of violation (it is not vacuous)', () => {
      const bad: Statement[] = [
        { key: 'noFilter', text: 'SELECT * FROM log WHERE branch_id = $2' },
        { key: 'volatileUpdate', text: 'UPDATE tx SET committed_at = now() WHERE space_id = $1' },
        {
          key: 'volatileDelete',
          text: 'DELETE FROM receipts WHERE space_id = $1 AND created_at < clock_timestamp()',
        },
        { key: 'seqInUpdate', text: "UPDATE log SET seq = nextval('s') WHERE space_id = $1" },
        {
          key: 'crossJoin',
          text: 'SELECT 1 FROM log l JOIN actors a ON a.id = l.actor_id WHERE l.space_id = $1',
        },
        { key: 'insertOther', text: 'INSERT INTO tx (epoch, space_id) VALUES ($1, $2)' },
        { key: 'insertNoSpace', text: 'INSERT INTO tx (epoch) VALUES ($1)' },
        {
          key: 'insertSelect',
          text: 'INSERT INTO actors (space_id, id) SELECT $1, max(id) FROM actors',
        },
        {
          key: 'cteInsert',
          text: 'WITH x AS (INSERT INTO tx (space_id, epoch) SELECT $2, 1 RETURNING 1) SELECT 1 FROM tx WHERE space_id = $1',
        },
        {
          key: 'lateral',
          text: 'SELECT 1 FROM branches b LEFT JOIN LATERAL (SELECT seq FROM log WHERE log.branch_id = b.id) t ON true WHERE b.space_id = $1',
        },
        {
          key: 'conflict',
          text: 'INSERT INTO receipts (space_id, k) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING',
        },
      ];
      const found = bad.map((s) => lintStatement(s));
      found.forEach((messages, i) => {
        expect(messages.length, `lint accepted SQL.${bad[i]?.key}`).toBeGreaterThan(0);
        expect(messages[0]).toContain(`SQL.${bad[i]?.key}`);
      });
    });

    it('the statements the backend runs are exactly these texts, and all of them pass', async () => {
      // Record every named statement cairn sends (node-postgres names them cairn_<key>).
      const seen = new Map<string, string>();
      const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
      const original = proto.query;
      proto.query = function (this: unknown, ...args: unknown[]) {
        const config = args[0] as { name?: unknown; text?: unknown } | undefined;
        if (config && typeof config === 'object' && typeof config.name === 'string') {
          if (config.name.startsWith('cairn_')) seen.set(config.name, String(config.text));
        }
        return original.apply(this, args);
      };
      const db = await freshDatabase();
      const space = 'did:key:z6MkCitusLintWorkload';
      const cairn = await createCairn({
        databaseUrl: db.url,
        serverKey: Buffer.alloc(32, 9).toString('base64url'),
        auth: 'off',
        // A snapshot after every change, one automatic kept: retention deletes.
        snapshotPolicy: { everyChanges: 1, everyBytes: 1 << 30, keep: 1, anchorEvery: 0 },
      });
      try {
        // A workload that reaches every method of PgSpaceOps.
        const a = new Replica(1);
        const b = new Replica(2);
        const c1 = a.change((d) => (d.x = 1));
        const c2 = a.change((d) => (d.y = 2));
        const tx = (body: unknown) =>
          cairn.pipeline.commit(space, parseTxRequest(body, cairn.limits));
        const r1 = await tx({ clientTxId: 'one', writes: [write('doc-a', [c1, c2])] });
        expect(r1.ok).toBe(true);
        expect((await tx({ clientTxId: 'one', writes: [write('doc-a', [c1, c2])] })).ok).toBe(true);
        // The same bytes on another doc: stored once, the second row points at the first.
        const r2 = await tx({
          writes: [write('doc-b', [c1]), write('doc-c', [b.change((d) => (d.z = 3))])],
        });
        expect(r2.ok).toBe(true);
        for (const p of [
          '/docs/doc-a',
          '/docs/doc-a/heads',
          '/docs/doc-a/changes',
          '/tx/1',
          '/docs/doc-a?epoch=1',
          `/docs/doc-a?at=${Date.now()}`,
        ]) {
          const res = await cairn.fetch(new Request(`http://cairn.test/v1/${space}${p}`));
          expect(res.status, p).toBe(200);
        }
        // History (SPEC §3-§5): a branch from a point, its own write, snapshots made by
        // policy (with retention) and on request, a read from a snapshot, the history feed.
        const api = (p: string, init?: RequestInit) =>
          cairn.fetch(new Request(`http://cairn.test/v1/${space}${p}`, init));
        const post = (p: string, body: unknown) =>
          api(p, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        const forked = await post('/docs/doc-a/branches', {
          name: 'feature',
          from: { branch: 'main', seq: 1 },
        });
        expect(forked.status, await forked.clone().text()).toBe(201);
        const onFork = new Replica(3);
        onFork.receive([c1]);
        const own = await tx({
          writes: [
            write('doc-a', [onFork.change((d) => (d.f = 1))], [hashOf(c1)], { branch: 'feature' }),
          ],
        });
        expect(own.ok, JSON.stringify(own)).toBe(true);
        await cairn.snapshots.idle();
        const mainHeads = a.heads;
        const more = await tx({
          writes: [write('doc-a', [a.change((d) => (d.x = 3))], mainHeads)],
        });
        expect(more.ok, JSON.stringify(more)).toBe(true);
        // Submitted in one turn, so one batch appends several tx records at once.
        const burst = await Promise.all(
          [11, 12, 13].map((n) =>
            tx({ writes: [write(`burst-${n}`, [new Replica(n).change((d) => (d.n = n))])] }),
          ),
        );
        expect(burst.every((o) => o.ok)).toBe(true);
        await cairn.snapshots.idle();
        const pinned = await cairn.snapshots.makeNow(space, 'doc-a', 'main', 2);
        expect(pinned).toMatchObject({ seq: 2, pinned: true });
        const snapshotRes = await api(`/snapshots/${pinned.id}`);
        expect(snapshotRes.status).toBe(200);
        const cold = new DocReader(cairn.backend, { cache: new DocCache(1 << 30) });
        const atTwo = await cold.readDoc(space, 'doc-a', 'main', { kind: 'seq', seq: 2 });
        expect(atTwo.seq).toBe(2);
        expect(cold.stats.fromSnapshot, 'the read was served from a snapshot').toBe(1);
        const history = await api('/docs/doc-a/history?branch=feature&limit=1');
        expect(history.status).toBe(200);
        const { nextCursor } = (await history.json()) as { nextCursor?: string };
        expect(nextCursor).toBeDefined();
        expect((await api(`/docs/doc-a/history?branch=feature&cursor=${nextCursor}`)).status).toBe(
          200,
        );
        const lease = await cairn.backend.acquireSpace(space, { create: false });
        expect(lease).toBeDefined();
        await lease?.store.writeBatch(async (ops) => {
          const branch = await ops.getBranch('doc-a', 'main');
          expect(branch).toBeDefined();
          const id = branch?.id as number;
          await ops.chainTip();
          await ops.chainTip();
          await ops.getBranchById(id);
          await ops.listBranches('doc-a');
          await ops.listDocIds('doc', null, 10);
          await ops.findInBranch(id, branch?.heads ?? [], 10);
          await ops.readBranchLog(id, 1, 2, 10, false);
          await ops.readBranchLog(id, 1, 2, 10, true);
          await ops.readBranchBytes(id, 1, 2);
          await ops.actorSeqs(id, [actorId(1)]);
          await ops.commitCovering(id, 1);
          await ops.commitsEndingIn(id, 1, 2);
          await ops.lastCommitUpTo(id, 1);
          await ops.txRecordsAfter(0, 2, 10);
          await ops.epochAtTime(Date.now());
          await ops.getTxRecord(1);
          await ops.getReceipt('one');
          await ops.docKind('doc-a');
          await ops.quarantine([{ hash: 'ab'.repeat(32), reason: 'lint', foundAt: 1 }]);
          await ops.quarantined();
          await ops.createBranch({
            docId: 'doc-a',
            name: 'fork',
            kind: 'automerge',
            parentId: id,
            forkSeq: 1,
            forkHeads: [],
            createdAt: 1,
          });
          await ops.closeBranch(id, 'fork');
          await ops.pruneReceipts(0);
          await ops.putClientAcks([{ clientId: 'c', docId: 'doc-a', branch: 'main', epoch: 1 }], 1);
          expect(await ops.clientAck('c', 'doc-a', 'main')).toBe(1);
          await ops.pruneClientAcks(0);
          await ops.actorMaxima(id, 1, 2);
          await ops.commitsBefore(id, 3, 10);
          await ops.logSizeAfter(id, 0);
          await ops.setActorSeqs(id, new Map([[actorId(1), 2]]));
          // A tx record queued while no log row is: it goes in alone (the batch rolls back).
          await ops.appendTxRecords([
            {
              epoch: 1_000_000,
              committedAt: 1,
              txHash: new Uint8Array(32),
              prevTxHash: new Uint8Array(32),
              bodyHash: new Uint8Array(32),
              serverSig: new Uint8Array(64),
              serverDid: 'did:key:z6MkLint',
              body: new Uint8Array([0xa0]),
            },
          ]);
          expect((await ops.getTxRecord(1_000_000))?.epoch).toBe(1_000_000);
          const snapshotId = await ops.putSnapshot({
            branchId: id,
            seq: 1,
            heads: [hashOf(c1)],
            rootRef: rootRef([hashOf(c1)]),
            pinned: false,
            createdAt: 1,
            bytes: new Uint8Array([1, 2, 3]),
          });
          await ops.nearestSnapshot(id, 1);
          await ops.getSnapshot(snapshotId);
          await ops.readSnapshotBytes(snapshotId);
          await ops.listSnapshots(id);
          await ops.deleteSnapshots([snapshotId]);
          await ops.dropEmptyBranch(id);
          await yjsWorkload(ops.yjs);
          await kvWorkload(ops.kv);
          return { result: undefined, commit: false };
        });
        // The same reads outside a batch (through the pool).
        const reader = lease?.store.reader;
        await reader?.chainTip();
        const main = await reader?.getBranch('doc-a', 'main');
        await reader?.readBranchLog(main?.id as number, 1, 2, 10, true);
        await reader?.getTxRecord(1);
        expect(await reader?.yjs.getDoc('yjs-doc'), 'the Yjs writes rolled back').toBeUndefined();
        expect(await reader?.kv.usage('kv-install'), 'the KV writes rolled back').toEqual({
          bytesUsed: 0,
          keys: 0,
          namespaces: 0,
        });
        // Retention kept the newest automatic snapshot of main, and the one made on request.
        const snaps = (await reader?.listSnapshots(main?.id as number)) ?? [];
        expect(snaps.filter((s) => !s.pinned)).toHaveLength(1);
        expect(snaps.filter((s) => s.pinned).map((s) => s.id)).toEqual([pinned.id]);
        lease?.release();
      } finally {
        proto.query = original;
        await cairn.close();
      }
      const byKey = new Map(sqlObject().map((s) => [`cairn_${s.key}`, s.text]));
      const mismatched: string[] = [];
      const extra: Statement[] = [];
      for (const [name, text] of seen) {
        const fromSource = byKey.get(name);
        if (fromSource === undefined) extra.push({ key: name.replace(/^cairn_/, ''), text });
        else if (oneLine(fromSource) !== oneLine(text)) {
          mismatched.push(`${name}: source "${oneLine(fromSource)}" ≠ run "${oneLine(text)}"`);
        }
      }
      expect(
        mismatched,
        'the extractor must read the statements as the backend sends them',
      ).toEqual([]);
      const unused = [...byKey.keys()].filter((k) => !seen.has(k));
      expect(unused, 'the workload should run every statement of the SQL object').toEqual([]);
      // Named statements outside the SQL object (the space row lock) obey the same rules.
      expect(extra.map((s) => s.key)).toContain('lockSpace');
      expect(extra.flatMap(lintStatement)).toEqual([]);
    });
  });
});

/** Calls every method of PgYjsOps (so every statement of YJS_SQL runs once at least). */
async function yjsWorkload(yjs: YjsWriteOps): Promise<void> {
  const doc = 'yjs-doc';
  const row = (epoch: number) => ({
    epoch,
    committedAt: epoch,
    hash: new Uint8Array(32).fill(epoch),
    bytes: new Uint8Array([epoch]),
  });
  const meta = (generation: number, chunks: number[][]) => ({
    generation,
    epoch: generation,
    chunkCount: chunks.length,
    totalBytes: chunks.reduce((n, c) => n + c.length, 0),
    sha256: new Uint8Array(32),
    stateVector: new Uint8Array([0]),
    createdAt: 1,
  });
  await yjs.createDoc(doc, 1);
  await yjs.appendJournal(doc, [row(1), row(2)]);
  for (const generation of [1, 2]) {
    const chunks = [[1, 2], [3]];
    await yjs.putCheckpointChunks(
      doc,
      generation,
      chunks.map((c) => new Uint8Array(c)),
    );
    await yjs.publishCheckpoint(doc, meta(generation, chunks));
  }
  expect(await yjs.dropCheckpoints(doc, [1])).toBe(1);
  expect(await yjs.getDoc(doc)).toMatchObject({ lastEpoch: 2, checkpointGeneration: 2 });
  expect(await yjs.listDocIds('yjs', null, 10)).toEqual([doc]);
  expect(await yjs.listDocIds('yjs', doc, 10)).toEqual([]);
  expect((await yjs.journal(doc, 0, 2, 10)).map((r) => r.epoch)).toEqual([1, 2]);
  expect(await yjs.journalBefore(doc, 3, 10)).toHaveLength(2);
  expect(await yjs.journalSizeAfter(doc, 0)).toEqual({ rows: 2, bytes: 2 });
  expect(await yjs.checkpoints(doc)).toHaveLength(1);
  expect(await yjs.readChunks(doc, 2)).toHaveLength(2);
  expect(await yjs.maxGeneration(doc)).toBe(2);
  expect(await yjs.pruneJournal(doc, 1, 2)).toBe(1);
  await yjs.setMigration(doc, '{}');
}

/** Calls every method of PgKvOps (so every statement of KV_SQL runs once at least). */
async function kvWorkload(kv: KvWriteOps): Promise<void> {
  const install = 'kv-install';
  const record = (key: string, ttlExpiresAt: number | null) => ({
    namespace: 'ns',
    key,
    value: '1',
    metadata: '{}',
    revision: 1,
    ttlExpiresAt,
    createdAt: 1,
    updatedAt: 1,
    bytes: 3,
  });
  // Twice each: created, then found.
  expect(await kv.lockInstall(install)).toEqual({ bytesUsed: 0, keys: 0, namespaces: 0 });
  expect(await kv.lockInstall(install)).toEqual({ bytesUsed: 0, keys: 0, namespaces: 0 });
  expect(await kv.lockNamespace(install, 'ns')).toEqual({ keys: 0, revisionFloor: 0 });
  expect(await kv.lockNamespace(install, 'ns')).toEqual({ keys: 0, revisionFloor: 0 });
  await kv.putRecord(install, record('a', null));
  await kv.putRecord(install, record('b', 10));
  await kv.setNamespace(install, 'ns', { keys: 2, revisionFloor: 0 });
  await kv.setUsage(install, { bytesUsed: 6, keys: 2, namespaces: 1 });
  expect(await kv.usage(install)).toEqual({ bytesUsed: 6, keys: 2, namespaces: 1 });
  expect(await kv.namespace(install, 'ns')).toEqual({ keys: 2, revisionFloor: 0 });
  expect((await kv.get(install, 'ns', 'a'))?.value).toBe('1');
  for (const withBodies of [true, false]) {
    expect(await kv.list(install, 'ns', '', null, 5, 10, withBodies)).toHaveLength(2);
    expect(await kv.list(install, 'ns', 'a', null, 5, 10, withBodies)).toHaveLength(1);
  }
  expect(await kv.countExpired(20, 10)).toBe(1);
  expect(await kv.installsWithExpired(20, 10)).toEqual([install]);
  expect(await kv.removeExpired(install, 20, 10)).toEqual([
    { namespace: 'ns', key: 'b', revision: 1, bytes: 3 },
  ]);
  expect(await kv.deleteRecord(install, 'ns', 'a')).toBe(true);
  await kv.putSchema(install, 'ns', { version: 1, status: 'active', schema: '{}', createdAt: 1 });
  expect(await kv.schemas(install, 'ns')).toHaveLength(1);
}

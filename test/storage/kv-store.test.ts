import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { KvReadOps, KvRecordRow, KvWriteOps } from '../../src/storage/kv-types.js';
import { KV_SQL } from '../../src/storage/postgres/pg-kv-statements.js';
import { PgSpaceOps } from '../../src/storage/postgres/pg-space-ops.js';
import { SQLITE_KV_SQL } from '../../src/storage/sqlite/sqlite-kv-ops.js';
import { SPACES_DIR, spaceFileName } from '../../src/storage/sqlite/sqlite-backend.js';
import type { SpaceWriteOps } from '../../src/storage/types.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { storeHarness } from '../helpers/store-harness.js';

/**
 * Storage of extension KV records (SPEC §12, `KvReadOps` / `KvWriteOps`) on
 * the backend under test: counters and namespace rows, records, listings in
 * UTF-8 byte order with literal prefixes, cursors and expiry, removal of
 * expired records, schemas, isolation between installs and spaces,
 * all-or-nothing batches, the plans of the hot queries, and (PostgreSQL) the
 * install lock that serializes concurrent writers of one install.
 *
 * On PostgreSQL the database's default collation is ICU 'en-US' (where
 * 'a' < 'Z'), so byte order has to come from the schema's COLLATE "C".
 */

const ZERO = { bytesUsed: 0, keys: 0, namespaces: 0 };

/** A record of namespace `ns` whose value is `"<key>"`. */
function rec(key: string, fields: Partial<KvRecordRow> = {}): KvRecordRow {
  const value = JSON.stringify(key);
  const metadata = '{"tag":"t"}';
  return {
    namespace: 'ns',
    key,
    value,
    metadata,
    revision: 1,
    ttlExpiresAt: null,
    createdAt: 1000,
    updatedAt: 1000,
    bytes: Buffer.byteLength(value) + Buffer.byteLength(metadata),
    ...fields,
  };
}

const keysOf = (rows: readonly KvRecordRow[]) => rows.map((r) => r.key);

describe(`extension KV storage (${TEST_BACKEND})`, () => {
  const store = storeHarness('KvStore', { icuLocale: 'en-US' });
  const newSpace = store.newSpace;
  /** One batch on the space's writer, committed unless `commit` is false (as the space writer runs it). */
  const write = <T>(
    space: string,
    fn: (kv: KvWriteOps, ops: SpaceWriteOps) => Promise<T>,
    commit = true,
  ): Promise<T> => store.write(space, (ops) => fn(ops.kv, ops), commit);
  /** Committed state, through the space's reader. */
  const read = <T>(space: string, fn: (kv: KvReadOps) => Promise<T>) =>
    store.read(space, (ops) => fn(ops.kv));

  /** Stores records of install `app` (its row locked first, as every KV write does). */
  const put = (space: string, rows: KvRecordRow[], install = 'app') =>
    write(space, async (kv) => {
      await kv.lockInstall(install);
      for (const r of rows) await kv.putRecord(install, r);
    });

  it('counters and namespace rows start at zero and round-trip', async () => {
    const space = newSpace();
    await write(space, async (kv) => {
      expect(await kv.usage('app')).toEqual(ZERO);
      expect(await kv.namespace('app', 'ns')).toBeUndefined();
      expect(await kv.lockInstall('app')).toEqual(ZERO);
      expect(await kv.lockNamespace('app', 'ns')).toEqual({ keys: 0, revisionFloor: 0 });
      await kv.setUsage('app', { bytesUsed: 120, keys: 3, namespaces: 2 });
      await kv.setNamespace('app', 'ns', { keys: 2, revisionFloor: 7 });
      // Seen by the batch that wrote them.
      expect(await kv.usage('app')).toEqual({ bytesUsed: 120, keys: 3, namespaces: 2 });
      expect(await kv.namespace('app', 'ns')).toEqual({ keys: 2, revisionFloor: 7 });
    });
    await read(space, async (kv) => {
      expect(await kv.usage('app')).toEqual({ bytesUsed: 120, keys: 3, namespaces: 2 });
      expect(await kv.namespace('app', 'ns')).toEqual({ keys: 2, revisionFloor: 7 });
      expect(await kv.namespace('app', 'other')).toBeUndefined();
      expect(await kv.usage('other-app')).toEqual(ZERO);
    });
    // Locking again returns what is stored and changes nothing.
    await write(space, async (kv) => {
      expect(await kv.lockInstall('app')).toEqual({ bytesUsed: 120, keys: 3, namespaces: 2 });
      expect(await kv.lockNamespace('app', 'ns')).toEqual({ keys: 2, revisionFloor: 7 });
      await kv.setUsage('app', { bytesUsed: 0, keys: 0, namespaces: 0 });
    });
    expect(await read(space, (kv) => kv.usage('app'))).toEqual(ZERO);
  });

  it('put, get and delete a record; a put replaces every field of its key', async () => {
    const space = newSpace();
    const first = rec('k', { ttlExpiresAt: 90_000 });
    await put(space, [first]);
    expect(await read(space, (kv) => kv.get('app', 'ns', 'k'))).toEqual(first);
    const second = rec('k', {
      value: 'null',
      metadata: '{}',
      revision: 2,
      ttlExpiresAt: null,
      createdAt: 1000,
      updatedAt: 2000,
      bytes: 6,
    });
    await put(space, [second]);
    await read(space, async (kv) => {
      expect(await kv.get('app', 'ns', 'k')).toEqual(second);
      expect(await kv.get('app', 'ns', 'K')).toBeUndefined();
      expect(await kv.get('app', 'other', 'k')).toBeUndefined();
    });
    // An expired record is still stored: the caller decides visibility.
    await put(space, [rec('old', { ttlExpiresAt: 1 })]);
    expect((await read(space, (kv) => kv.get('app', 'ns', 'old')))?.ttlExpiresAt).toBe(1);
    await write(space, async (kv) => {
      expect(await kv.deleteRecord('app', 'ns', 'k')).toBe(true);
      expect(await kv.deleteRecord('app', 'ns', 'k')).toBe(false);
      expect(await kv.deleteRecord('app', 'ns', 'never')).toBe(false);
      expect(await kv.get('app', 'ns', 'k')).toBeUndefined();
    });
    expect(await read(space, (kv) => kv.get('app', 'ns', 'k'))).toBeUndefined();
    expect(await read(space, (kv) => kv.get('app', 'ns', 'old'))).toBeDefined();
  });

  it('list orders keys by their UTF-8 bytes', async () => {
    const space = newSpace();
    // UTF-8 byte order; UTF-16 (JavaScript's <) would put U+1F600 before U+FFFD,
    // and a linguistic collation would put 'a' before 'Z' and 'é' next to 'e'.
    const ordered = ['Z', 'a', 'e', 'e\uFFFD', 'e\u{1F600}', 'é', '中', '\uFFFD', '\u{1F600}'];
    await put(
      space,
      [...ordered].reverse().map((k) => rec(k)),
    );
    await read(space, async (kv) => {
      expect(keysOf(await kv.list('app', 'ns', '', null, 0, 100, true))).toEqual(ordered);
      expect(keysOf(await kv.list('app', 'ns', 'e', null, 0, 100, true))).toEqual([
        'e',
        'e\uFFFD',
        'e\u{1F600}',
      ]);
      // A cursor compares by bytes too.
      expect(keysOf(await kv.list('app', 'ns', '', '\uFFFD', 0, 100, true))).toEqual(['\u{1F600}']);
      expect(keysOf(await kv.list('app', 'ns', 'e', 'e\uFFFD', 0, 100, true))).toEqual([
        'e\u{1F600}',
      ]);
    });
  });

  it('list pages after a key: inside the prefix, before it and past it', async () => {
    const space = newSpace();
    const keys = ['a', 'b', 'b1', 'b2', 'b3', 'ba', 'c'];
    await put(
      space,
      keys.map((k) => rec(k)),
    );
    await read(space, async (kv) => {
      const page = (prefix: string, after: string | null, limit: number) =>
        kv.list('app', 'ns', prefix, after, 0, limit, true).then(keysOf);
      expect(await page('', null, 3)).toEqual(['a', 'b', 'b1']);
      expect(await page('', 'b1', 3)).toEqual(['b2', 'b3', 'ba']);
      expect(await page('', 'ba', 3)).toEqual(['c']);
      expect(await page('', 'c', 3)).toEqual([]);
      expect(await page('b', null, 2)).toEqual(['b', 'b1']);
      expect(await page('b', 'b1', 2)).toEqual(['b2', 'b3']);
      expect(await page('b', 'b3', 2)).toEqual(['ba']);
      expect(await page('b', 'ba', 2)).toEqual([]);
      // A cursor that is not a stored key.
      expect(await page('b', 'b10', 10)).toEqual(['b2', 'b3', 'ba']);
      // A cursor before the prefix starts at the prefix; one past it finds nothing.
      expect(await page('b', 'a', 10)).toEqual(['b', 'b1', 'b2', 'b3', 'ba']);
      expect(await page('b', 'bz', 10)).toEqual([]);
      expect(await page('b', 'c', 10)).toEqual([]);
      expect(await page('b1', null, 10)).toEqual(['b1']);
      expect(await page('d', null, 10)).toEqual([]);
      expect(await page('', null, 0)).toEqual([]);
    });
  });

  it('list leaves out records expired at the given now, and keeps them stored', async () => {
    const space = newSpace();
    await put(space, [
      rec('a', { ttlExpiresAt: 5000 }),
      rec('b'),
      rec('c', { ttlExpiresAt: 6000 }),
      rec('d', { ttlExpiresAt: 4999 }),
      rec('e'),
    ]);
    await read(space, async (kv) => {
      const at = (now: number, limit = 10) =>
        kv.list('app', 'ns', '', null, now, limit, true).then(keysOf);
      expect(await at(0)).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(await at(4998)).toEqual(['a', 'b', 'c', 'd', 'e']);
      // Expired at its ttlExpiresAt itself (removeExpired takes it at that time too).
      expect(await at(4999)).toEqual(['a', 'b', 'c', 'e']);
      expect(await at(5000)).toEqual(['b', 'c', 'e']);
      expect(await at(6000)).toEqual(['b', 'e']);
      // The limit counts visible records only.
      expect(await at(6000, 1)).toEqual(['b']);
      expect(await kv.list('app', 'ns', '', 'b', 6000, 1, true).then(keysOf)).toEqual(['e']);
      expect(await kv.get('app', 'ns', 'a')).toBeDefined();
    });
  });

  it('list matches prefixes with %, _ and \\ literally', async () => {
    const space = newSpace();
    const keys = ['a%', 'a%b', 'a\\', 'a\\b', 'a_b', 'aXb', 'ab', 'abc', 'b%'];
    await put(
      space,
      keys.map((k) => rec(k)),
    );
    await read(space, async (kv) => {
      const prefixed = (prefix: string) =>
        kv.list('app', 'ns', prefix, null, 0, 100, false).then(keysOf);
      expect(await prefixed('a%')).toEqual(['a%', 'a%b']);
      expect(await prefixed('a_')).toEqual(['a_b']);
      expect(await prefixed('a\\')).toEqual(['a\\', 'a\\b']);
      expect(await prefixed('%')).toEqual([]);
      expect(await prefixed('_')).toEqual([]);
      expect(await prefixed('ab')).toEqual(['ab', 'abc']);
      expect(await prefixed('a')).toEqual(['a%', 'a%b', 'aXb', 'a\\', 'a\\b', 'a_b', 'ab', 'abc']);
    });
  });

  it('a prefix ending at the edges of Unicode still bounds its range', async () => {
    const space = newSpace();
    // After U+D7FF comes U+E000 (surrogates between); after U+10FFFF comes nothing.
    const keys = ['a\u{D7FF}', 'a\u{D7FF}x', 'a\u{E000}', 'a\u{10FFFF}', 'a\u{10FFFF}z', 'b'];
    await put(
      space,
      keys.map((k) => rec(k)),
    );
    await read(space, async (kv) => {
      const prefixed = (prefix: string) =>
        kv.list('app', 'ns', prefix, null, 0, 100, true).then(keysOf);
      expect(await prefixed('a\u{D7FF}')).toEqual(['a\u{D7FF}', 'a\u{D7FF}x']);
      expect(await prefixed('a\u{10FFFF}')).toEqual(['a\u{10FFFF}', 'a\u{10FFFF}z']);
      expect(await prefixed('a')).toEqual(keys.slice(0, 5));
      // No stored key holds a lone surrogate.
      expect(await prefixed('a\uD800')).toEqual([]);
    });
  });

  it("list without bodies returns '' for value and metadata, and every other field", async () => {
    const space = newSpace();
    const rows = [rec('a', { ttlExpiresAt: 90_000, revision: 3 }), rec('b', { bytes: 99 })];
    await put(space, rows);
    await read(space, async (kv) => {
      for (const prefix of ['', 'a']) {
        const withBodies = await kv.list('app', 'ns', prefix, null, 0, 10, true);
        const without = await kv.list('app', 'ns', prefix, null, 0, 10, false);
        expect(withBodies).toEqual(rows.filter((r) => r.key.startsWith(prefix)));
        expect(without).toEqual(withBodies.map((r) => ({ ...r, value: '', metadata: '' })));
      }
    });
  });

  it('removeExpired removes at most limit records, oldest expiry first, only expired ones of that install, and returns them', async () => {
    const space = newSpace();
    await put(space, [
      rec('late', { ttlExpiresAt: 3000, revision: 4, bytes: 40 }),
      rec('early', { ttlExpiresAt: 1000, revision: 2, bytes: 20 }),
      rec('middle', { ttlExpiresAt: 2000, namespace: 'other', revision: 3, bytes: 30 }),
      rec('future', { ttlExpiresAt: 9000 }),
      rec('forever'),
    ]);
    await put(space, [rec('early', { ttlExpiresAt: 1000 })], 'app2');
    // In no particular order.
    const removed = await write(space, (kv) => kv.removeExpired('app', 5000, 2));
    expect(removed.sort((x, y) => x.key.localeCompare(y.key))).toEqual([
      { namespace: 'ns', key: 'early', revision: 2, bytes: 20 },
      { namespace: 'other', key: 'middle', revision: 3, bytes: 30 },
    ]);
    // Counters are the caller's: removal leaves them.
    expect(await read(space, (kv) => kv.usage('app'))).toEqual(ZERO);
    expect(await write(space, (kv) => kv.removeExpired('app', 2999, 10))).toEqual([]);
    expect(await write(space, (kv) => kv.removeExpired('app', 5000, 0))).toEqual([]);
    expect(await write(space, (kv) => kv.removeExpired('app', 3000, 10))).toEqual([
      { namespace: 'ns', key: 'late', revision: 4, bytes: 40 },
    ]);
    expect(await write(space, (kv) => kv.removeExpired('app', 5000, 10))).toEqual([]);
    await read(space, async (kv) => {
      expect(keysOf(await kv.list('app', 'ns', '', null, 0, 10, true))).toEqual([
        'forever',
        'future',
      ]);
      expect(await kv.list('app', 'other', '', null, 0, 10, true)).toEqual([]);
      expect(await kv.get('app2', 'ns', 'early'), "another install's expired record").toBeDefined();
    });
  });

  it('countExpired counts expired records of every install of the space, up to the cap', async () => {
    const space = newSpace();
    await put(space, [
      rec('a', { ttlExpiresAt: 100 }),
      rec('b', { ttlExpiresAt: 200 }),
      rec('c', { ttlExpiresAt: 300 }),
      rec('d'),
    ]);
    await put(space, [rec('a', { ttlExpiresAt: 100 }), rec('z', { ttlExpiresAt: 900 })], 'app2');
    await read(space, async (kv) => {
      expect(await kv.countExpired(99, 100)).toBe(0);
      expect(await kv.countExpired(100, 100)).toBe(2);
      expect(await kv.countExpired(300, 100)).toBe(4);
      expect(await kv.countExpired(1000, 100)).toBe(5);
      expect(await kv.countExpired(1000, 3)).toBe(3);
      expect(await kv.countExpired(1000, 1)).toBe(1);
      expect(await kv.countExpired(1000, 0)).toBe(0);
    });
  });

  it('installsWithExpired lists the installs holding an expired record, at most limit', async () => {
    const space = newSpace();
    await put(space, [rec('a', { ttlExpiresAt: 100 }), rec('b')], 'app-b');
    await put(space, [rec('a', { ttlExpiresAt: 500 })], 'app-a');
    await put(space, [rec('a')], 'app-c');
    await put(space, [rec('a', { ttlExpiresAt: 200 })], 'app-d');
    await read(space, async (kv) => {
      expect(await kv.installsWithExpired(99, 10)).toEqual([]);
      expect(await kv.installsWithExpired(100, 10)).toEqual(['app-b']);
      expect(await kv.installsWithExpired(500, 10)).toEqual(['app-a', 'app-b', 'app-d']);
      expect(await kv.installsWithExpired(500, 2)).toEqual(['app-a', 'app-b']);
      expect(await kv.installsWithExpired(500, 0)).toEqual([]);
    });
    await write(space, (kv) => kv.removeExpired('app-b', 500, 10));
    expect(await read(space, (kv) => kv.installsWithExpired(500, 10))).toEqual(['app-a', 'app-d']);
  });

  it('schemas come by version ascending; putSchema replaces a version', async () => {
    const space = newSpace();
    const schema = (version: number, status: 'draft' | 'active' | 'deprecated') => ({
      version,
      status,
      schema: JSON.stringify({ type: 'object', title: `v${version}` }),
      createdAt: version * 1000,
    });
    await write(space, async (kv) => {
      await kv.lockInstall('app');
      expect(await kv.schemas('app', 'ns')).toEqual([]);
      for (const v of [10, 2, 1]) await kv.putSchema('app', 'ns', schema(v, 'draft'));
      await kv.putSchema('app', 'other', schema(5, 'active'));
    });
    await write(space, async (kv) => {
      await kv.lockInstall('app');
      await kv.putSchema('app', 'ns', schema(2, 'active'));
      await kv.putSchema('app', 'ns', { ...schema(1, 'deprecated'), schema: '{}' });
    });
    await read(space, async (kv) => {
      expect(await kv.schemas('app', 'ns')).toEqual([
        { ...schema(1, 'deprecated'), schema: '{}' },
        schema(2, 'active'),
        schema(10, 'draft'),
      ]);
      expect(await kv.schemas('app', 'other')).toEqual([schema(5, 'active')]);
      expect(await kv.schemas('app2', 'ns')).toEqual([]);
    });
  });

  it("two installs and two spaces never see each other's rows", async () => {
    const [one, two] = [newSpace(), newSpace()];
    const fill = async (space: string, install: string, n: number) =>
      write(space, async (kv) => {
        await kv.lockInstall(install);
        await kv.setUsage(install, { bytesUsed: n, keys: n, namespaces: n });
        await kv.lockNamespace(install, 'ns');
        await kv.setNamespace(install, 'ns', { keys: n, revisionFloor: n });
        await kv.putRecord(install, rec('shared', { revision: n, ttlExpiresAt: n * 100 }));
        await kv.putRecord(install, rec(`only-${n}`));
        await kv.putSchema(install, 'ns', {
          version: n,
          status: 'active',
          schema: '{}',
          createdAt: n,
        });
      });
    await fill(one, 'app', 1);
    await fill(one, 'app2', 2);
    await fill(two, 'app', 3);
    // Changes to one leave the others as they were.
    await write(one, async (kv) => {
      await kv.lockInstall('app');
      expect(await kv.deleteRecord('app', 'ns', 'only-1')).toBe(true);
      expect(await kv.removeExpired('app', 10_000, 10)).toHaveLength(1);
    });
    await read(one, async (kv) => {
      expect(await kv.list('app', 'ns', '', null, 0, 10, true)).toEqual([]);
      expect(await kv.get('app2', 'ns', 'shared')).toMatchObject({ revision: 2 });
      expect(keysOf(await kv.list('app2', 'ns', '', null, 0, 10, true))).toEqual([
        'only-2',
        'shared',
      ]);
      expect(await kv.usage('app2')).toEqual({ bytesUsed: 2, keys: 2, namespaces: 2 });
      expect(await kv.namespace('app2', 'ns')).toEqual({ keys: 2, revisionFloor: 2 });
      expect((await kv.schemas('app2', 'ns')).map((s) => s.version)).toEqual([2]);
      expect(await kv.installsWithExpired(10_000, 10)).toEqual(['app2']);
      expect(await kv.countExpired(10_000, 10)).toBe(1);
    });
    await read(two, async (kv) => {
      expect(await kv.get('app', 'ns', 'shared')).toMatchObject({ revision: 3 });
      expect(keysOf(await kv.list('app', 'ns', '', null, 0, 10, true))).toEqual([
        'only-3',
        'shared',
      ]);
      expect(await kv.usage('app')).toEqual({ bytesUsed: 3, keys: 3, namespaces: 3 });
      expect(await kv.usage('app2')).toEqual(ZERO);
      expect((await kv.schemas('app', 'ns')).map((s) => s.version)).toEqual([3]);
      expect(await kv.installsWithExpired(10_000, 10)).toEqual(['app']);
      expect(await kv.countExpired(10_000, 10)).toBe(1);
    });
  });

  it('a rolled-back batch leaves nothing', async () => {
    const space = newSpace();
    await put(space, [rec('kept')]);
    const everything = async (kv: KvWriteOps) => {
      await kv.lockInstall('app');
      await kv.setUsage('app', { bytesUsed: 5, keys: 5, namespaces: 5 });
      await kv.lockNamespace('app', 'ns');
      await kv.setNamespace('app', 'ns', { keys: 5, revisionFloor: 5 });
      await kv.putRecord('app', rec('new'));
      await kv.putRecord('app', rec('kept', { revision: 9 }));
      await kv.deleteRecord('app', 'ns', 'kept');
      await kv.putSchema('app', 'ns', { version: 1, status: 'active', schema: '{}', createdAt: 1 });
      await kv.lockInstall('fresh');
    };
    await write(space, everything, false);
    await expect(
      write(space, async (kv) => {
        await everything(kv);
        throw new Error('the batch fails');
      }),
    ).rejects.toThrow('the batch fails');
    await read(space, async (kv) => {
      expect(await kv.list('app', 'ns', '', null, 0, 10, true)).toEqual([rec('kept')]);
      expect(await kv.usage('app')).toEqual(ZERO);
      expect(await kv.namespace('app', 'ns')).toBeUndefined();
      expect(await kv.schemas('app', 'ns')).toEqual([]);
      expect(await kv.usage('fresh')).toEqual(ZERO);
    });
    // A space whose only batch rolled back does not exist.
    const never = newSpace();
    await write(never, everything, false);
    expect(await store.backend.acquireSpace(never, { create: false })).toBeUndefined();
  });

  it("the reader sees a batch's KV writes only once it commits", async () => {
    const space = newSpace();
    await put(space, [rec('a')]);
    await write(space, async (kv) => {
      await kv.lockInstall('app');
      await kv.setUsage('app', { bytesUsed: 1, keys: 1, namespaces: 1 });
      await kv.putRecord('app', rec('b'));
      await read(space, async (committed) => {
        expect(await committed.usage('app')).toEqual(ZERO);
        expect(keysOf(await committed.list('app', 'ns', '', null, 0, 10, true))).toEqual(['a']);
      });
    });
    expect(keysOf(await read(space, (kv) => kv.list('app', 'ns', '', null, 0, 10, true)))).toEqual([
      'a',
      'b',
    ]);
  });

  it('the list, get and expired-removal queries are served by the primary key and the expiry index', async () => {
    const space = newSpace();
    await put(space, [rec('a'), rec('b', { ttlExpiresAt: 1 })]);
    if (TEST_BACKEND === 'sqlite') {
      const db = new Database(path.join(store.dataDir, SPACES_DIR, spaceFileName(space)), {
        readonly: true,
      });
      try {
        const bind = (sql: string) => {
          const names = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1] as string))];
          if (names.length > 0) return [Object.fromEntries(names.map((n) => [n, 'x']))];
          return Array.from({ length: sql.split('?').length - 1 }, () => 'x');
        };
        const plan = (sql: string) =>
          (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...bind(sql)) as { detail: string }[])
            .map((r) => r.detail)
            .join('\n');
        const listRange =
          'SEARCH kv_records USING PRIMARY KEY (install=? AND namespace=? AND key>? AND key<?)';
        expect(plan(SQLITE_KV_SQL.listRange)).toBe(listRange);
        expect(plan(SQLITE_KV_SQL.listRangeKeys)).toBe(listRange);
        const listFrom =
          'SEARCH kv_records USING PRIMARY KEY (install=? AND namespace=? AND key>?)';
        expect(plan(SQLITE_KV_SQL.listFrom)).toBe(listFrom);
        expect(plan(SQLITE_KV_SQL.listFromKeys)).toBe(listFrom);
        expect(plan(SQLITE_KV_SQL.record)).toBe(
          'SEARCH kv_records USING PRIMARY KEY (install=? AND namespace=? AND key=?)',
        );
        expect(plan(SQLITE_KV_SQL.removeExpired)).toMatch(
          /USING COVERING INDEX kv_records_expiry \(install=\? AND ttl_expires_at<\?\)/,
        );
        // Per install, a range of the expiry index.
        const probe = 'USING COVERING INDEX kv_records_expiry (install=? AND ttl_expires_at<?)';
        expect(plan(SQLITE_KV_SQL.countExpired)).toBe(
          `CO-ROUTINE (subquery-1)\nSCAN i\nSEARCH r ${probe}\nSCAN (subquery-1)`,
        );
        expect(plan(SQLITE_KV_SQL.installsWithExpired)).toBe(`SCAN i\nSEARCH r EXISTS ${probe}`);
        // The bytecode reads metadata and value (columns 8 and 9) only for a list with bodies.
        const columnsRead = (sql: string) =>
          new Set(
            (db.prepare(`EXPLAIN ${sql}`).all(...bind(sql)) as { opcode: string; p2: number }[])
              .filter((op) => op.opcode === 'Column')
              .map((op) => op.p2),
          );
        for (const [bodies, keys] of [
          [SQLITE_KV_SQL.listRange, SQLITE_KV_SQL.listRangeKeys],
          [SQLITE_KV_SQL.listFrom, SQLITE_KV_SQL.listFromKeys],
        ] as const) {
          expect(columnsRead(bodies)).toContain(8);
          expect(columnsRead(bodies)).toContain(9);
          expect(columnsRead(keys)).not.toContain(8);
          expect(columnsRead(keys)).not.toContain(9);
        }
      } finally {
        db.close();
      }
      return;
    }
    const client = new pg.Client({ connectionString: store.database?.url });
    await client.connect();
    try {
      // Two rows: without these, a sequential scan is cheapest and hides the index choice.
      await client.query('SET enable_seqscan = off');
      await client.query('SET enable_bitmapscan = off');
      // The plan a named statement settles on after its first runs.
      await client.query('SET plan_cache_mode = force_generic_plan');
      const plan = async (name: keyof typeof KV_SQL, values: unknown[]) => {
        await client.query(`PREPARE ${name} AS ${KV_SQL[name]}`);
        const args = [space, ...values].map((v) =>
          typeof v === 'string' ? client.escapeLiteral(v) : String(v),
        );
        const res = await client.query(`EXPLAIN (VERBOSE) EXECUTE ${name}(${args.join(', ')})`);
        return res.rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      };
      const listRange = await plan('kvListRange', ['app', 'ns', 'a', true, 0, 'b', 10]);
      expect(listRange).toMatch(/Index Scan using kv_records_pkey/);
      expect(listRange).toMatch(/\(kv_records\.key >= \$4\) AND \(kv_records\.key < \$7\)\)/);
      expect(listRange).not.toMatch(/Sort/);
      const listFrom = await plan('kvListFromKeys', ['app', 'ns', '', true, 0, 10]);
      expect(listFrom).toMatch(/Index Scan using kv_records_pkey/);
      expect(listFrom).toMatch(/\(kv_records\.key >= \$4\)\)/);
      expect(listFrom).not.toMatch(/Sort/);
      // Without bodies, '' stands for metadata and value: neither is read.
      expect(listFrom).toMatch(/Output: .*bytes, ''::text, ''::text/);
      expect(listFrom).not.toMatch(/metadata|value/);
      expect(await plan('kvRecord', ['app', 'ns', 'a'])).toMatch(
        /Index Scan using kv_records_pkey/,
      );
      const removal = await plan('kvRemoveExpired', ['app', 10, 100]);
      expect(removal).toMatch(/Index Scan using kv_records_expiry/);
      expect(removal).toMatch(/Index Scan using kv_records_pkey/);
      // Per install, a range of the expiry index (the install from the outer row).
      const probe =
        /Index Only Scan using kv_records_expiry on public\.kv_records r[^\n]*\n(.*\n)*.*Index Cond: \(\(r\.space_id = (i\.space_id|\$1)\) AND \(r\.install = i\.install\) AND \(r\.ttl_expires_at <= \$2\)\)/;
      expect(await plan('kvCountExpired', [10, 100])).toMatch(probe);
      expect(await plan('kvInstallsWithExpired', [10, 100])).toMatch(probe);
    } finally {
      await client.end();
    }
  });

  it.runIf(TEST_BACKEND === 'postgres')(
    'concurrent lockInstall of one install serializes: the second waits until the first commits, then sees its counters',
    async () => {
      const space = newSpace();
      const url = store.database?.url as string;
      const clients = [1, 2, 3].map(() => new pg.Client({ connectionString: url }));
      await Promise.all(clients.map((c) => c.connect()));
      const [a, b, watcher] = clients as [pg.Client, pg.Client, pg.Client];
      try {
        const pidOf = async (c: pg.Client) =>
          (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
        const pidA = await pidOf(a);
        const pidB = await pidOf(b);
        /**
         * Resolves once B's backend waits for a lock that A holds (polled: no
         * timing guess); fails at once if B's call finished instead.
         */
        const blockedByA = async (bDone: () => boolean) => {
          for (;;) {
            const { rows } = await watcher.query<{ blockers: number[] }>(
              'SELECT pg_blocking_pids($1) AS blockers',
              [pidB],
            );
            if (rows[0]?.blockers.includes(pidA as number)) return;
            expect(bDone(), 'the second lock was granted while the first was held').toBe(false);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        };
        // Without the space row lock of writeBatch: only the install's row lock orders them.
        const kvA = new PgSpaceOps(a, space).kv;
        const kvB = new PgSpaceOps(b, space).kv;
        // Twice: the install's row absent (the second waits on the first's insert), then present.
        for (const round of [1, 2]) {
          await a.query('BEGIN');
          await b.query('BEGIN');
          const before = await kvA.lockInstall('app');
          expect(before.keys).toBe(round - 1);
          let bLocked = false;
          const second = kvB.lockInstall('app').then((usage) => {
            bLocked = true;
            return usage;
          });
          await blockedByA(() => bLocked);
          expect(bLocked, 'the second lockInstall waits for the first transaction').toBe(false);
          const after = { bytesUsed: round * 10, keys: round, namespaces: 1 };
          await kvA.setUsage('app', after);
          expect(bLocked).toBe(false);
          await a.query('COMMIT');
          // It proceeds once the first commits, and reads the counters it committed.
          expect(await second).toEqual(after);
          await b.query('COMMIT');
        }
        // lockNamespace queues the same way.
        await a.query('BEGIN');
        await b.query('BEGIN');
        expect(await kvA.lockNamespace('app', 'ns')).toEqual({ keys: 0, revisionFloor: 0 });
        let bLocked = false;
        const second = kvB.lockNamespace('app', 'ns').then((row) => {
          bLocked = true;
          return row;
        });
        await blockedByA(() => bLocked);
        expect(bLocked).toBe(false);
        await kvA.setNamespace('app', 'ns', { keys: 1, revisionFloor: 4 });
        await a.query('COMMIT');
        expect(await second).toEqual({ keys: 1, revisionFloor: 4 });
        await b.query('COMMIT');
        expect(await new PgSpaceOps(watcher, space).kv.usage('app')).toEqual({
          bytesUsed: 20,
          keys: 2,
          namespaces: 1,
        });
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    },
  );
});

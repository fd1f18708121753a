import { afterEach, describe, expect, it } from 'vitest';
import { createCairn, type Cairn } from '../../src/app/create-cairn.js';
import { createTestDatabase, TEST_BACKEND, type TestDatabase } from '../helpers/backend.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * `cairn kv get|put|list|delete` (SPEC §12) through the built CLI on the
 * backend under test: an operator's reads and writes follow the same rules
 * as the API (revisions, conditions, TTL, literal prefixes, every page of a
 * listing) and are what `cairn.kv(space)` sees afterwards; every mistake
 * and every refusal is one line naming it, exit 2.
 */

const SPACE = 'did:key:z6MkKvCli';
const cli = (args: string[]) => runCli(args, {}, 60_000);

let store: { where: string[]; open: () => Promise<Cairn>; done: () => Promise<void> } | undefined;
afterEach(async () => {
  await store?.done();
  store = undefined;
});

/** A stopped server's data (a SQLite data dir or a PostgreSQL database) whose space has KV records. */
async function seeded() {
  const { dir, cleanup } = makeTempDir();
  const db: TestDatabase | undefined =
    TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
  const open = () =>
    createCairn({
      ...(db ? { databaseUrl: db.url } : { dataDir: dir }),
      auth: 'off',
      sync: 'normal',
    });
  const cairn = await open();
  const kv = cairn.kv(SPACE);
  for (let i = 0; i < 120; i += 20) {
    const items = Array.from({ length: 20 }, (_, j) => ({
      key: `n${String(i + j).padStart(3, '0')}`,
      value: i + j,
    }));
    await kv.putMany('ext-1', 'bulk', items);
  }
  for (const key of ['a1', 'a2', 'a_3', 'b1', 'é']) {
    await kv.put('ext-1', 'settings', { key, value: { key }, metadata: { tag: key } });
  }
  await cairn.close();
  store = {
    where: db ? ['--database', db.url] : ['--data', dir],
    open,
    done: async () => {
      await db?.drop();
      cleanup();
    },
  };
  return store;
}

describe('cairn kv', () => {
  it('puts, gets, lists every page and deletes, as cairn.kv sees them', async () => {
    const { where, open } = await seeded();
    const at = [...where, '--space', SPACE, '--install', 'ext-1', '--namespace', 'settings'];
    const json = (args: string[]) => {
      const run = cli(args);
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as Record<string, unknown>;
    };

    const created = json([
      'kv',
      'put',
      ...at,
      '--key',
      'theme',
      '--value',
      '{"dark":true}',
      '--metadata',
      '{"by":"ops"}',
      '--json',
    ]);
    expect(created).toMatchObject({ created: true, key: 'theme', revision: 1 });
    const updated = json([
      'kv',
      'put',
      ...at,
      '--key',
      'theme',
      '--value',
      'null',
      '--if-revision',
      '1',
      '--ttl',
      '3600',
      '--json',
    ]);
    expect(updated).toMatchObject({ created: false, revision: 2 });
    expect(updated.ttlExpiresAt).toBe((updated.updatedAt as number) + 3_600_000);
    const human = cli(['kv', 'put', ...at, '--key', 'theme', '--value', '[1,"two"]']);
    expect([human.code, human.stdout]).toEqual([0, 'updated theme to revision 3']);

    expect(json(['kv', 'get', ...at, '--key', 'theme', '--json'])).toMatchObject({
      key: 'theme',
      value: [1, 'two'],
      metadata: {},
      revision: 3,
      createdAt: created.createdAt,
    });
    const shown = cli(['kv', 'get', ...at, '--key', 'a1']);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n').slice(0, 4)).toEqual([
      'key: a1',
      'revision: 1',
      'value: {"key":"a1"}',
      'metadata: {"tag":"a1"}',
    ]);

    // A literal prefix ("_" is a plain character); human lines are key, revision (values on demand).
    expect(json(['kv', 'list', ...at, '--prefix', 'a_', '--json'])).toEqual({
      items: [expect.objectContaining({ key: 'a_3', revision: 1 })],
      more: false,
    });
    const lines = cli(['kv', 'list', ...at, '--values']);
    expect(lines.stdout.split('\n')).toEqual([
      'a1\trevision 1\t{"key":"a1"}\t{"tag":"a1"}',
      'a2\trevision 1\t{"key":"a2"}\t{"tag":"a2"}',
      'a_3\trevision 1\t{"key":"a_3"}\t{"tag":"a_3"}',
      'b1\trevision 1\t{"key":"b1"}\t{"tag":"b1"}',
      'theme\trevision 3\t[1,"two"]\t{}',
      'é\trevision 1\t{"key":"é"}\t{"tag":"é"}',
    ]);
    // 120 records: two pages of the API, followed to the end, or cut at --limit.
    const bulk = [...where, '--space', SPACE, '--install', 'ext-1', '--namespace', 'bulk'];
    const every = json(['kv', 'list', ...bulk, '--json']) as {
      items: { key: string }[];
      more: boolean;
    };
    expect(every.items.map((i) => i.key)).toEqual(
      Array.from({ length: 120 }, (_, i) => `n${String(i).padStart(3, '0')}`),
    );
    expect(every.more).toBe(false);
    const cut = json(['kv', 'list', ...bulk, '--limit', '105', '--json']) as typeof every;
    expect([cut.items.length, cut.items.at(-1)?.key, cut.more]).toEqual([105, 'n104', true]);
    const short = cli(['kv', 'list', ...bulk, '--prefix', 'n11', '--limit', '3']);
    expect(short.stdout.split('\n')).toEqual([
      'n110\trevision 1',
      'n111\trevision 1',
      'n112\trevision 1',
    ]);
    expect(short.stderr).toBe('cairn: stopped at --limit 3; there are more records');

    expect(json(['kv', 'delete', ...at, '--key', 'theme', '--if-revision', '3', '--json'])).toEqual(
      {
        deleted: true,
      },
    );
    const again = cli(['kv', 'delete', ...at, '--key', 'theme']);
    expect([again.code, again.stdout]).toEqual([0, 'no record theme: nothing deleted']);

    const cairn = await open();
    try {
      const kv = cairn.kv(SPACE);
      await expect(kv.get('ext-1', 'settings', 'theme')).rejects.toMatchObject({
        code: 'KeyNotFound',
      });
      // Re-created after the delete: above every revision it had.
      expect((await kv.put('ext-1', 'settings', { key: 'theme', value: 1 })).record.revision).toBe(
        4,
      );
      expect(await kv.usage('ext-1')).toMatchObject({ keys: 126, namespaces: 2 });
    } finally {
      await cairn.close();
    }
  });

  it('refuses mistakes and refusals in one line with exit 2, and helps with examples', async () => {
    const { where } = await seeded();
    const at = [...where, '--space', SPACE, '--install', 'ext-1', '--namespace', 'settings'];
    const cases: [string[], string][] = [
      [['kv', 'put', ...at, '--key', 'k', '--value', '{bad'], 'cairn: --value is not JSON: '],
      [
        ['kv', 'put', ...at, '--key', 'k', '--value', '1', '--metadata', '[1]'],
        'cairn: --metadata must be a JSON object',
      ],
      [
        ['kv', 'put', ...at, '--key', 'k', '--value', '1', '--ttl', 'soon'],
        'cairn: --ttl must be a positive integer',
      ],
      [
        ['kv', 'put', ...at, '--key', 'k', '--value', '1', '--ttl', '59'],
        'cairn: ValidationError: ttlSeconds must be an integer in 60-2592000',
      ],
      [
        ['kv', 'put', ...at, '--key', 'a1', '--value', '1', '--if-revision', '7'],
        'cairn: RevisionMismatch: key a1 is not at revision 7 (current revision 1)',
      ],
      [
        ['kv', 'delete', ...at, '--key', 'a1', '--if-revision', '2'],
        'cairn: RevisionMismatch: key a1 is not at revision 2 (current revision 1)',
      ],
      [['kv', 'get', ...at, '--key', 'missing'], 'cairn: KeyNotFound: no key missing'],
      [
        ['kv', 'get', ...at, '--key', 'a/b'],
        'cairn: ValidationError: key must be 1-128 characters',
      ],
      [['kv', 'list', ...at, '--limit', '0'], 'cairn: --limit must be a positive integer'],
      [['kv', 'put', ...at, '--value', '1'], "error: required option '--key <key>' not specified"],
      [
        ['kv', 'get', ...where, '--install', 'i', '--namespace', 'n', '--key', 'k'],
        "error: required option '--space <did>' not specified",
      ],
      [
        [
          'kv',
          'get',
          ...where,
          '--space',
          'did:key:z6MkNoSuchSpace',
          '--install',
          'i',
          '--namespace',
          'n',
          '--key',
          'k',
        ],
        'cairn: no space did:key:z6MkNoSuchSpace',
      ],
      [
        ['kv', 'list', ...where, '--space', 'not-a-did', '--install', 'i', '--namespace', 'n'],
        'cairn: --space "not-a-did" is not a space DID',
      ],
    ];
    for (const [args, line] of cases) {
      const run = cli(args);
      expect([run.code, run.stdout], args.join(' ')).toEqual([2, '']);
      expect(run.stderr.split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.stderr.startsWith(line), `${run.stderr} (for ${args.join(' ')})`).toBe(true);
    }
    // Nothing was written by the refused calls.
    const listed = JSON.parse(cli(['kv', 'list', ...at, '--json']).stdout) as {
      items: { key: string }[];
    };
    expect(listed.items.map((i) => i.key)).toEqual(['a1', 'a2', 'a_3', 'b1', 'é']);
    for (const sub of ['get', 'put', 'list', 'delete']) {
      const help = cli(['kv', sub, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`Examples:\\n {2}\\$ cairn kv ${sub} --space`));
    }
  });
});

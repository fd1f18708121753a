import { describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { createTestDatabase, TEST_BACKEND } from '../helpers/backend.js';
import { Replica, write } from '../helpers/changes.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * `cairn migrate status|up|down` (SPEC §8) on the backend under test, on a
 * populated store: down reverts exactly one step, up is idempotent and
 * brings it back, and every doc reads the same afterwards.
 */

const SPACE = 'did:key:z6MkMigrateCli';

const cli = (args: string[]) => runCli(args, {}, 60_000);

type State = { schema: string; current: number; latest: number; pending: number[] };

describe('cairn migrate', () => {
  it('down one step, status, up again, analyze on a populated store: nothing lost', async () => {
    const { dir, cleanup } = makeTempDir();
    const db = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
    const where = db ? ['--database', db.url] : ['--data', dir];
    const open = () =>
      createCairn({
        dataDir: dir,
        auth: 'off',
        sync: 'normal',
        ...(db ? { databaseUrl: db.url } : {}),
      });
    try {
      let cairn = await open();
      const r = new Replica(1);
      for (let i = 0; i < 5; i++) {
        const base = r.heads;
        const body = { writes: [write('doc', [r.change((d) => (d.n = i))], base)] };
        expect((await cairn.pipeline.commit(SPACE, parseTxRequest(body, cairn.limits))).ok).toBe(
          true,
        );
      }
      const before = await cairn.read.doc(SPACE, 'doc', 'main', { kind: 'current' });
      await cairn.close();

      const status = JSON.parse(cli(['migrate', 'status', ...where, '--json']).stdout) as {
        schemas: State[];
      };
      const last = status.schemas.at(-1) as State;
      expect(last.current).toBe(last.latest);
      expect(last.pending).toEqual([]);

      const down = cli(['migrate', 'down', ...where, '--json']);
      expect(down.code, down.stderr).toBe(0);
      const reverted = (JSON.parse(down.stdout) as { reverted: { versions: number[] }[] }).reverted;
      expect(reverted.at(-1)?.versions).toEqual([last.latest]);
      const after = JSON.parse(cli(['migrate', 'status', ...where, '--json']).stdout) as {
        schemas: State[];
      };
      expect(after.schemas.at(-1)).toMatchObject({
        current: last.latest - 1,
        pending: [last.latest],
      });

      const up = cli(['migrate', 'up', ...where, '--json']);
      expect(up.code, up.stderr).toBe(0);
      expect(JSON.parse(up.stdout).applied.at(-1).versions).toEqual([last.latest]);
      const again = cli(['migrate', 'up', ...where]);
      expect(again.stdout).toMatch(/nothing to do/);

      const analyzed = cli(['analyze', ...where, '--json']);
      expect(analyzed.code, analyzed.stderr).toBe(0);
      expect(JSON.parse(analyzed.stdout).analyzed).toBeGreaterThanOrEqual(1);

      cairn = await open();
      const now = await cairn.read.doc(SPACE, 'doc', 'main', { kind: 'current' });
      expect(now.heads).toEqual(before.heads);
      expect(now.value).toEqual(before.value);
      await cairn.close();
    } finally {
      await db?.drop();
      cleanup();
    }
  });

  it('refuses a data dir that is not one and a wrong database URL — one line, exit 2', async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      const notDir = cli(['migrate', 'status', '--data', dir]);
      expect(notDir.code).toBe(2);
      expect(notDir.stderr).toMatch(/^cairn: .* is not a cairn data dir/);
      const badUrl = cli(['migrate', 'status', '--database', 'postgres://nobody@127.0.0.1:1/none']);
      expect(badUrl.code).toBe(2);
      expect(badUrl.stderr).toMatch(/^cairn: cannot connect to the database/);
      expect(badUrl.stderr.split('\n')).toHaveLength(1);
    } finally {
      cleanup();
    }
  });
});

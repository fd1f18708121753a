import { describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { createTestDatabase, TEST_BACKEND } from '../helpers/backend.js';
import { Replica, write } from '../helpers/changes.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * `cairn compact` (SPEC §5, §8) on the backend under test: every branch
 * head that owes changes gets a snapshot, retention drops what the default
 * policy no longer keeps, free pages go back (SQLite), docs read the same,
 * `verify` still passes, and a second run has nothing to do.
 */

const SPACE = 'did:key:z6MkCompactCli';
const cli = (args: string[]) => runCli(args, {}, 60_000);

interface SpaceReport {
  space: string;
  branches: number;
  snapshotsMade: number;
  snapshotsDropped: number;
  bytesBefore: number | null;
  bytesAfter: number | null;
}

describe('cairn compact', () => {
  it('snapshots owed heads, applies retention, reclaims, keeps every doc the same', async () => {
    const { dir, cleanup } = makeTempDir();
    const db = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
    const where = db ? ['--database', db.url] : ['--data', dir];
    const target = db ? { databaseUrl: db.url } : { dataDir: dir };
    // Generous retention while writing, so the default policy has snapshots to drop later.
    const open = (policy = {}) =>
      createCairn({ ...target, auth: 'off', sync: 'normal', snapshotPolicy: policy });
    try {
      let cairn = await open({ everyChanges: 5, keep: 50, anchorEvery: 0 });
      const commitN = async (docId: string, r: Replica, n: number) => {
        for (let i = 0; i < n; i++) {
          const base = r.heads;
          const body = { writes: [write(docId, [r.change((d) => (d.n = i))], base)] };
          expect((await cairn.pipeline.commit(SPACE, parseTxRequest(body, cairn.limits))).ok).toBe(
            true,
          );
          await cairn.snapshots.idle();
        }
      };
      await commitN('a', new Replica(1), 42);
      await commitN('b', new Replica(2), 3);
      const snapshotsOf = (docId: string) =>
        withSpaceReader(cairn.backend, SPACE, async (ops) => {
          const branch = await ops.getBranch(docId, 'main');
          return ops.listSnapshots((branch as { id: number }).id);
        });
      const automaticBefore = (await snapshotsOf('a')).length;
      expect(automaticBefore).toBeGreaterThan(4);
      expect(await snapshotsOf('b')).toEqual([]);
      const read = async () => ({
        a: await cairn.read.doc(SPACE, 'a', 'main', { kind: 'current' }),
        b: await cairn.read.doc(SPACE, 'b', 'main', { kind: 'current' }),
      });
      const before = await read();
      await cairn.close();

      const run = cli(['compact', ...where, '--json']);
      expect(run.code, run.stderr).toBe(0);
      const [report] = (JSON.parse(run.stdout) as { spaces: SpaceReport[] }).spaces;
      // Default policy: the newest 3 plus the oldest of each 10,000-seq stretch.
      const kept = 4;
      expect(report).toMatchObject({
        space: SPACE,
        branches: 2,
        snapshotsMade: 2,
        snapshotsDropped: automaticBefore + 1 - kept,
      });
      if (db) expect(report?.bytesAfter).toBeNull();
      else expect(report?.bytesAfter).toBeLessThanOrEqual(report?.bytesBefore as number);

      cairn = await open();
      const a = await snapshotsOf('a');
      expect(a).toHaveLength(kept);
      expect(a[0]?.seq).toBe(42);
      expect((await snapshotsOf('b')).map((s) => s.seq)).toEqual([3]);
      expect(await read()).toEqual(before);
      await cairn.close();

      const again = cli(['compact', ...where, '--space', SPACE, '--doc', 'a', '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout).spaces[0]).toMatchObject({
        branches: 1,
        snapshotsMade: 0,
        snapshotsDropped: 0,
      });
      const human = cli(['compact', ...where, '--space', SPACE, '--no-reclaim']);
      expect(human.stdout).toBe(`${SPACE}: 2 branches, 0 snapshots made, 0 dropped`);

      const verified = cli(['verify', '--space', SPACE, ...where, '--json']);
      expect(verified.code, verified.stdout).toBe(0);
    } finally {
      await db?.drop();
      cleanup();
    }
  });

  it('refuses bad usage in one line with exit 2', async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      const cairn = await createCairn({ dataDir: dir, auth: 'off' });
      await cairn.close();
      const noSpace = cli(['compact', '--data', dir, '--doc', 'a']);
      expect(noSpace.code).toBe(2);
      expect(noSpace.stderr).toBe('cairn: --doc needs --space');
      const unknown = cli(['compact', '--data', dir, '--space', 'did:key:z6MkNope']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toBe('cairn: no space did:key:z6MkNope');
      const help = cli(['compact', '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/Examples:\n {2}\$ cairn compact/);
    } finally {
      cleanup();
    }
  });
});

import fs from 'node:fs';
import path from 'node:path';
import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { createTestDatabase, TEST_BACKEND } from '../helpers/backend.js';
import { Replica, write } from '../helpers/changes.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * `cairn snapshot export` / `cairn snapshot import` (SPEC §8) on the backend
 * under test: a version out as Automerge bytes that load to its heads, back
 * in as another doc that reads the same; bad files are one line, exit 2.
 */

const SPACE = 'did:key:z6MkSnapshotCli';

const cli = (args: string[]) => runCli(args, {}, 60_000);

describe('cairn snapshot export / import', () => {
  it('exports a version that loads to its heads, imports it as another doc, refuses bad files', async () => {
    const { dir, cleanup } = makeTempDir();
    const db = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
    const where = db ? ['--database', db.url] : ['--data', dir];
    try {
      const cairn = await createCairn({
        dataDir: dir,
        auth: 'off',
        sync: 'normal',
        ...(db ? { databaseUrl: db.url } : {}),
      });
      const r = new Replica(1);
      for (let i = 0; i < 4; i++) {
        const base = r.heads;
        const body = { writes: [write('doc', [r.change((d) => (d.n = i))], base)] };
        expect((await cairn.pipeline.commit(SPACE, parseTxRequest(body, cairn.limits))).ok).toBe(
          true,
        );
      }
      await cairn.close();

      const file = path.join(dir, 'doc-at-2.automerge');
      const out = cli([
        'snapshot',
        'export',
        '--space',
        SPACE,
        '--doc',
        'doc',
        '--seq',
        '2',
        '--out',
        file,
        ...where,
        '--json',
      ]);
      expect(out.code, out.stderr).toBe(0);
      const info = JSON.parse(out.stdout) as { seq: number; heads: string[]; bytes: number };
      expect(info.seq).toBe(2);
      const loaded = A.load<{ n: number }>(fs.readFileSync(file));
      expect(A.getHeads(loaded).sort()).toEqual(info.heads);
      expect(loaded.n).toBe(1);

      const back = cli([
        'snapshot',
        'import',
        '--space',
        SPACE,
        '--doc',
        'copy',
        '--file',
        file,
        ...where,
        '--json',
      ]);
      expect(back.code, back.stderr).toBe(0);
      expect(JSON.parse(back.stdout)).toMatchObject({
        ok: true,
        results: [{ docId: 'copy', applied: 2 }],
      });

      const junk = path.join(dir, 'junk.bin');
      fs.writeFileSync(junk, 'not automerge');
      const cases: [string[], RegExp][] = [
        [
          ['snapshot', 'import', '--space', SPACE, '--doc', 'x', '--file', junk, ...where],
          /^cairn: InvalidChange: /,
        ],
        [
          [
            'snapshot',
            'import',
            '--space',
            SPACE,
            '--doc',
            'x',
            '--file',
            path.join(dir, 'missing'),
            ...where,
          ],
          /^cairn: cannot read .*ENOENT/,
        ],
        [
          [
            'snapshot',
            'export',
            '--space',
            SPACE,
            '--doc',
            'nodoc',
            '--out',
            path.join(dir, 'o'),
            ...where,
          ],
          /^cairn: /,
        ],
        [
          [
            'snapshot',
            'export',
            '--space',
            SPACE,
            '--doc',
            'doc',
            '--seq',
            '-1',
            '--out',
            path.join(dir, 'o'),
            ...where,
          ],
          /--seq must be a positive integer/,
        ],
      ];
      for (const [args, message] of cases) {
        const res = cli(args);
        expect(res.code, args.join(' ')).toBe(2);
        expect(res.stderr, args.join(' ')).toMatch(message);
        expect(res.stderr.split('\n')).toHaveLength(1);
      }
    } finally {
      await db?.drop();
      cleanup();
    }
  });
});

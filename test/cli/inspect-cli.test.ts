import { describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { Replica, write } from '../helpers/changes.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * `cairn spaces list` and `cairn branches list` (SPEC §8) on a data dir
 * whose server is stopped: plain and `--json` output, and a clear refusal
 * (exit 2, one line) when a running server holds the data dir.
 */

const SPACE_A = 'did:key:z6MkInspectA';
const SPACE_B = 'did:key:z6MkInspectB';

const cli = (args: string[]) => runCli(args, {}, 60_000);

async function seed(dir: string) {
  const cairn = await createCairn({ dataDir: dir, auth: 'off', sync: 'normal' });
  const tx = (space: string, body: unknown) =>
    cairn.pipeline.commit(space, parseTxRequest(body, cairn.limits));
  const r = new Replica(1);
  await tx(SPACE_A, { writes: [write('notes/1', [r.change((d) => (d.a = 1))])] });
  await tx(SPACE_A, { writes: [write('notes/2', [new Replica(2).change((d) => (d.b = 1))])] });
  await tx(SPACE_B, { writes: [write('other', [new Replica(3).change((d) => (d.c = 1))])] });
  await cairn.branches.create(SPACE_A, 'notes/1', 'draft', {
    branch: 'main',
    version: { kind: 'current' },
  });
  return cairn;
}

describe('inspection CLI', () => {
  it('lists spaces and branches of a stopped data dir, plain and as JSON; refuses a dir in use', async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      const running = await seed(dir);
      const held = cli(['spaces', 'list', '--data', dir]);
      expect(held.code).toBe(2);
      expect(held.stderr).toMatch(/^cairn: data dir .* is in use by process \d+/);
      expect(held.stderr.split('\n')).toHaveLength(1);
      await running.close();

      const spaces = cli(['spaces', 'list', '--data', dir, '--json']);
      expect(spaces.code, spaces.stderr).toBe(0);
      expect(JSON.parse(spaces.stdout)).toEqual({ spaces: [SPACE_A, SPACE_B] });
      expect(cli(['spaces', 'list', '--data', dir]).stdout).toBe(`${SPACE_A}\n${SPACE_B}`);

      const all = cli(['branches', 'list', '--data', dir, '--space', SPACE_A, '--json']);
      expect(all.code, all.stderr).toBe(0);
      const parsed = JSON.parse(all.stdout) as {
        docs: { docId: string; branches: { name: string }[] }[];
      };
      expect(parsed.docs.map((d) => [d.docId, d.branches.map((b) => b.name).sort()])).toEqual([
        ['notes/1', ['draft', 'main']],
        ['notes/2', ['main']],
      ]);
      const one = cli(['branches', 'list', '--data', dir, '--space', SPACE_A, '--doc', 'notes/1']);
      expect(one.stdout.split('\n').sort()).toEqual([
        'notes/1\tdraft\tseq 1 (from main at seq 1)',
        'notes/1\tmain\tseq 1',
      ]);
      const missing = cli(['branches', 'list', '--data', dir, '--space', SPACE_A, '--doc', 'nope']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/^cairn: /);
      expect(missing.stderr).not.toMatch(/\n\s+at /);
      expect(cli(['branches', 'list', '--data', dir]).code).toBe(2); // --space is required
      expect(cli(['branches', 'list', '--help']).stdout).toContain('Examples:');
    } finally {
      cleanup();
    }
  });
});

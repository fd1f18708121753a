import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createCairn } from '../../src/app/create-cairn.js';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { createTestDatabase, TEST_BACKEND, type TestDatabase } from '../helpers/backend.js';
import { runCli } from '../helpers/cli.js';
import { TEST_SERVER_KEY } from '../helpers/engine.js';
import {
  addJunkRow,
  docOf,
  sampleEdits,
  sampleJson,
  sha256File,
  writeHocuspocusDb,
} from '../helpers/hocuspocus.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * `cairn import yjs` and `cairn import hocuspocus` (SPEC §11 "Moving in")
 * through the built CLI, on the backend under test: what is stored has the
 * source's state vector (byte-equal) and content, with a migration marker;
 * a second import commits nothing; bad input is one line, exit 2, and
 * stores nothing; the Hocuspocus file is never changed.
 */

const SPACE = 'did:key:z6MkYjsImportCli';
const cli = (args: string[]) => runCli(args, {}, 60_000);

let dir: string;
let cleanup: (() => void) | undefined;
let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  cleanup?.();
  db = undefined;
  cleanup = undefined;
});

async function setup(): Promise<string[]> {
  ({ dir, cleanup } = makeTempDir());
  db = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
  return db ? ['--database', db.url] : ['--data', path.join(dir, 'data')];
}

interface Stored {
  stateVector: Uint8Array;
  doc: Y.Doc;
  marker: { from: string; sourceHash: string; at: number };
}

/** What the engine now holds: each doc's state (over HTTP), marker, and the space's epoch. */
async function inspect(docIds: string[]): Promise<{ epoch: number; docs: Map<string, Stored> }> {
  const cairn = await createCairn({
    dataDir: path.join(dir, 'data'),
    auth: 'off',
    serverKey: TEST_SERVER_KEY,
    ...(db ? { databaseUrl: db.url } : {}),
  });
  try {
    const docs = new Map<string, Stored>();
    for (const docId of docIds) {
      const url = `http://cairn.test/v1/${SPACE}/yjs/${encodeURIComponent(docId)}`;
      const res = await cairn.fetch(new Request(url));
      expect(res.status, docId).toBe(200);
      const record = await withSpaceReader(cairn.backend, SPACE, (ops) => ops.yjs.getDoc(docId));
      docs.set(docId, {
        stateVector: Buffer.from(res.headers.get('x-cairn-state-vector') ?? '', 'base64'),
        doc: docOf(new Uint8Array(await res.arrayBuffer())),
        marker: JSON.parse(record?.migration ?? 'null') as Stored['marker'],
      });
    }
    const epoch = await withSpaceReader(
      cairn.backend,
      SPACE,
      async (ops) => (await ops.chainTip()).epoch,
    );
    return { epoch, docs };
  } finally {
    await cairn.close();
  }
}

function expectOneLineUsageError(args: string[], message: RegExp): void {
  const res = cli(args);
  expect(res.code, args.join(' ')).toBe(2);
  expect(res.stderr, args.join(' ')).toMatch(message);
  expect(res.stderr.split('\n'), args.join(' ')).toHaveLength(1);
}

describe('cairn import yjs', () => {
  it('imports a state file with an equal state vector and content, once; refuses bad input', async () => {
    const where = await setup();
    const source = new Y.Doc();
    for (const edit of sampleEdits('file')) edit(source);
    const file = path.join(dir, 'notes.yjs');
    fs.writeFileSync(file, Y.encodeStateAsUpdate(source));
    const args = ['import', 'yjs', '--space', SPACE, '--doc', 'notes/1', '--file', file, ...where];

    const first = cli([...args, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      space: SPACE,
      docId: 'notes/1',
      applied: 1,
      verified: 'equal',
      marker: { from: 'yjs-file:notes.yjs', sourceHash: sha256File(file) },
    });
    const after = await inspect(['notes/1']);
    const stored = after.docs.get('notes/1') as Stored;
    expect(Buffer.compare(stored.stateVector, Y.encodeStateVector(source))).toBe(0);
    expect(sampleJson(stored.doc)).toEqual(sampleJson(source));
    expect(stored.marker).toMatchObject({
      from: 'yjs-file:notes.yjs',
      sourceHash: sha256File(file),
    });

    const again = cli([...args, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ applied: 0, verified: 'equal' });
    const later = await inspect(['notes/1']);
    expect(later.epoch).toBe(after.epoch);
    expect(later.docs.get('notes/1')?.marker).toEqual(stored.marker);

    const junk = path.join(dir, 'junk.yjs');
    fs.writeFileSync(junk, Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02]));
    const base = ['import', 'yjs', '--space', SPACE, ...where];
    expectOneLineUsageError(
      [...base, '--doc', 'bad', '--file', junk],
      /^cairn: junk\.yjs is not a Yjs update/,
    );
    expectOneLineUsageError(
      [...base, '--doc', 'bad', '--file', path.join(dir, 'missing.yjs')],
      /^cairn: cannot read .*ENOENT/,
    );
    expectOneLineUsageError([...base, '--file', file], /required option '--doc/);
    expectOneLineUsageError(
      ['import', 'yjs', '--space', 'not-a-did', '--doc', 'x', '--file', file, ...where],
      /is not a space DID/,
    );
    const none = await inspect([]);
    expect(none.epoch).toBe(after.epoch);
    const help = cli(['import', 'yjs', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Example:\n\s+\$ cairn import yjs --space/);
  });
});

describe('cairn import hocuspocus', () => {
  it('imports every document of a real Hocuspocus database, verified, once; the file is unchanged', async () => {
    const where = await setup();
    const file = path.join(dir, 'hocuspocus.sqlite');
    const legacy = await writeHocuspocusDb(file, {
      'notes/one': sampleEdits('one'),
      'two words': sampleEdits('two'),
      '..': sampleEdits('dots'),
    });
    addJunkRow(file, 'broken', new Uint8Array([0xff, 0xff, 0xff, 0x07]));
    const hashBefore = sha256File(file);
    const args = ['import', 'hocuspocus', '--space', SPACE, '--db', file, ...where, '--json'];

    const first = cli(args);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as {
      space: string;
      imported: { docId: string; applied: number; verified: string }[];
      skipped: { name: string; reason: string }[];
    };
    expect(report.space).toBe(SPACE);
    expect(report.imported.map((r) => [r.docId, r.applied, r.verified]).sort()).toEqual([
      ['notes/one', 1, 'equal'],
      ['two words', 1, 'equal'],
    ]);
    expect(report.skipped).toEqual([
      { name: '..', reason: 'not a valid doc id' },
      { name: 'broken', reason: expect.stringMatching(/^InvalidChange: /) as unknown as string },
    ]);
    expect(sha256File(file)).toBe(hashBefore);

    const after = await inspect(['notes/one', 'two words']);
    for (const [name, stored] of after.docs) {
      const source = docOf(legacy.get(name) as Uint8Array);
      expect(Buffer.compare(stored.stateVector, Y.encodeStateVector(source)), name).toBe(0);
      expect(sampleJson(stored.doc), name).toEqual(sampleJson(source));
      expect(stored.marker, name).toMatchObject({ from: 'hocuspocus:hocuspocus.sqlite' });
    }

    const again = cli(args);
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout) as typeof report;
    expect(second.imported).toEqual([]);
    expect(second.skipped.filter((s) => s.reason.startsWith('already migrated')).length).toBe(2);
    expect((await inspect([])).epoch).toBe(after.epoch);
    expect(sha256File(file)).toBe(hashBefore);

    const junk = path.join(dir, 'not-a-db.sqlite');
    fs.writeFileSync(junk, 'plain text, not SQLite');
    const base = ['import', 'hocuspocus', '--space', SPACE, ...where];
    expectOneLineUsageError([...base, '--db', junk], /is not a Hocuspocus SQLite database/);
    expectOneLineUsageError([...base, '--db', path.join(dir, 'missing.sqlite')], /cannot open/);
    expect(fs.existsSync(path.join(dir, 'missing.sqlite'))).toBe(false);
    expectOneLineUsageError(['import', 'hocuspocus', '--space', SPACE, ...where], /--db/);
  });
});

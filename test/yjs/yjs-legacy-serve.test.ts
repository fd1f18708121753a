import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SPACE } from '../helpers/engine.js';
import { runCli } from '../helpers/cli.js';
import { docOf, sampleJson, sha256File } from '../helpers/hocuspocus.js';
import { getYjs, LegacyHarness, storedOf } from '../helpers/legacy-server.js';
import { startServer, stopAllServers } from '../helpers/server-process.js';

/**
 * Lazy migration (SPEC §11) as `cairn serve` runs it: the flags and their
 * environment variables (bad values are one line, exit 2, before anything
 * starts), and a legacy doc bigger than the oversized-update limit, which
 * moves in as a checkpoint at its epoch like any oversized update.
 */

const h = new LegacyHarness();
afterEach(() => stopAllServers());

describe('cairn serve --yjs-legacy', () => {
  it('serves legacy docs through CAIRN_YJS_LEGACY and CAIRN_YJS_LEGACY_SPACE; refuses bad values', async () => {
    await h.setup();
    const hashBefore = sha256File(h.file);
    const server = await startServer({
      dataDir: path.join(h.dir, 'served'),
      ...(h.db ? { databaseUrl: h.db.url } : {}),
      env: { CAIRN_YJS_LEGACY: `hocuspocus:${h.file}`, CAIRN_YJS_LEGACY_SPACE: SPACE },
    });
    const res = await fetch(`${server.url}/v1/${SPACE}/yjs/notes%2Fone`);
    expect(res.status).toBe(200);
    const sv = Buffer.from(res.headers.get('x-cairn-state-vector') ?? '', 'base64');
    expect(Buffer.compare(sv, h.svOf('notes/one'))).toBe(0);
    const served = docOf(new Uint8Array(await res.arrayBuffer()));
    expect(sampleJson(served)).toEqual(sampleJson(h.sourceDoc('notes/one')));
    await server.stop();
    expect(sha256File(h.file)).toBe(hashBefore);

    const serve = ['serve', '--auth', 'off', '--port', '0', '--data', path.join(h.dir, 'refused')];
    const cases: [string[], RegExp][] = [
      [['--yjs-legacy', `hocuspocus:${h.file}`], /go together/],
      [['--yjs-legacy-space', SPACE], /go together/],
      [['--yjs-legacy', `redis:${h.file}`, '--yjs-legacy-space', SPACE], /hocuspocus:FILE/],
      [['--yjs-legacy', `hocuspocus:${h.file}`, '--yjs-legacy-space', 'nope'], /DID/],
      [
        ['--yjs-legacy', `hocuspocus:${path.join(h.dir, 'missing')}`, '--yjs-legacy-space', SPACE],
        /cannot open/,
      ],
    ];
    for (const [flags, message] of cases) {
      const out = runCli([...serve, ...flags], {}, 20_000);
      expect(out.code, flags.join(' ')).toBe(2);
      expect(out.stderr, flags.join(' ')).toMatch(message);
      expect(out.stderr.split('\n'), flags.join(' ')).toHaveLength(1);
    }
    expect(sha256File(h.file)).toBe(hashBefore);
  });

  it('moves a legacy doc above the oversized-update limit in as a checkpoint at its epoch', async () => {
    await h.setup();
    const r = await h.start({ yjs: { oversizedUpdateBytes: 64 } });
    const res = await getYjs(r, SPACE, 'two');
    expect(res.status).toBe(200);
    const sv = Buffer.from(res.headers.get('x-cairn-state-vector') ?? '', 'base64');
    expect(Buffer.compare(sv, h.svOf('two'))).toBe(0);
    const stored = await storedOf(r, 'two');
    expect(stored).toMatchObject({ rows: 0, checkpoints: 1 });
    expect(JSON.parse(stored.record?.migration ?? 'null')).toMatchObject({
      sourceHash: h.hashOf('two'),
    });
    expect(res.headers.get('x-cairn-epoch')).toBe(String(stored.epoch));
    expect(r.cairn.yjs.migrated).toBe(1);
  });
});

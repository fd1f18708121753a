import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { OTHER_SPACE, SPACE } from '../helpers/engine.js';
import { docOf, sampleJson, sha256File } from '../helpers/hocuspocus.js';
import { getYjs as get, LegacyHarness, storedOf as stored } from '../helpers/legacy-server.js';
import { connectProvider, synced, until } from '../helpers/yjs-provider.js';

/**
 * Lazy migration (SPEC §11) from a real Hocuspocus SQLite database, on the
 * backend under test: the first open of a doc of the legacy space (a
 * socket, an HTTP read or write) moves its legacy state in — same state
 * vector and content, a migration marker, one commit — and never again; docs
 * of other spaces never look at the legacy store; the file is never changed.
 */

const h = new LegacyHarness();

describe('lazy migration from a Hocuspocus database', () => {
  it('moves a doc in when a socket opens it: same state vector and content, a marker, once', async () => {
    await h.setup();
    const hashBefore = sha256File(h.file);
    const r = await h.start();
    const a = h.track(connectProvider(r.url, SPACE, 'notes/one'));
    await synced(a.provider);
    const source = h.sourceDoc('notes/one');
    await until(() => a.doc.getText('content').length > 0, 'the legacy state arrives');
    expect(Buffer.compare(Y.encodeStateVector(a.doc), h.svOf('notes/one'))).toBe(0);
    expect(sampleJson(a.doc)).toEqual(sampleJson(source));
    const after = await stored(r, 'notes/one');
    expect(after.rows).toBe(1);
    expect(JSON.parse(after.record?.migration ?? 'null')).toMatchObject({
      from: 'hocuspocus:hocuspocus.sqlite',
      sourceHash: h.hashOf('notes/one'),
    });
    expect(r.cairn.yjs.migrated).toBe(1);
    expect(r.cairn.yjs.legacySource).toBe('hocuspocus:hocuspocus.sqlite');

    // Edits go on in cairn; the legacy file never changes.
    a.doc.getText('content').insert(0, 'cairn: ');
    const b = h.track(connectProvider(r.url, SPACE, 'notes/one'));
    await synced(b.provider);
    await until(() => b.doc.getText('content').toString().startsWith('cairn: '), 'b sees it');
    expect((await stored(r, 'notes/one')).rows).toBe(2);
    expect(r.cairn.yjs.migrated).toBe(1);
    await h.stop();
    expect(sha256File(h.file)).toBe(hashBefore);
  });

  it('moves a doc in on an HTTP read; a second start migrates nothing', async () => {
    await h.setup();
    const hashBefore = sha256File(h.file);
    const r = await h.start();
    const res = await get(r, SPACE, 'two');
    expect(res.status).toBe(200);
    const sv = Buffer.from(res.headers.get('x-cairn-state-vector') ?? '', 'base64');
    expect(Buffer.compare(sv, h.svOf('two'))).toBe(0);
    const fetched = docOf(new Uint8Array(await res.arrayBuffer()));
    expect(sampleJson(fetched)).toEqual(sampleJson(h.sourceDoc('two')));
    const json = await get(r, SPACE, 'two', '/json?roots=content:text,meta:map');
    expect(((await json.json()) as { value: unknown }).value).toEqual({
      content: sampleJson(fetched).content,
      meta: sampleJson(fetched).meta,
    });
    const first = await stored(r, 'two');
    expect(first.rows).toBe(1);
    expect(r.cairn.yjs.migrated).toBe(1);
    await h.stop();

    const again = await h.start();
    const res2 = await get(again, SPACE, 'two');
    expect(res2.status).toBe(200);
    expect(res2.headers.get('x-cairn-epoch')).toBe(res.headers.get('x-cairn-epoch'));
    const c = h.track(connectProvider(again.url, SPACE, 'two'));
    await synced(c.provider);
    await until(() => c.doc.getText('content').length > 0, 'the state arrives');
    expect(again.cairn.yjs.migrated).toBe(0);
    expect(again.source.reads).not.toContain('two');
    const second = await stored(again, 'two');
    expect(second).toEqual(first);
    await h.stop();
    expect(sha256File(h.file)).toBe(hashBefore);
  });

  it('never looks at the legacy store for another space; docs it lacks start empty', async () => {
    await h.setup();
    const r = await h.start();
    expect((await get(r, OTHER_SPACE, 'notes/one')).status).toBe(404);
    const other = h.track(connectProvider(r.url, OTHER_SPACE, 'notes/one'));
    await synced(other.provider);
    other.doc.getText('content').insert(0, 'other space');
    const check = h.track(connectProvider(r.url, OTHER_SPACE, 'notes/one'));
    await synced(check.provider);
    await until(() => check.doc.getText('content').toString() === 'other space', 'stored');
    expect(r.source.reads).toEqual([]);

    expect((await get(r, SPACE, 'absent')).status).toBe(404);
    expect(r.source.reads).toEqual(['absent']);
    expect(r.cairn.yjs.migrated).toBe(0);
    const otherRecord = await withSpaceReader(r.cairn.backend, OTHER_SPACE, (ops) =>
      ops.yjs.getDoc('notes/one'),
    );
    expect(otherRecord?.migration).toBeUndefined();
  });

  it('an HTTP write lands on the migrated state; a socket, a read and a write at once migrate once', async () => {
    await h.setup();
    const r = await h.start();
    const writer = h.sourceDoc('notes/one');
    const updates: Uint8Array[] = [];
    writer.on('update', (u: Uint8Array) => updates.push(u));
    writer.getMap('meta').set('status', 'moved');
    const post = r.cairn.fetch(
      new Request(`http://cairn.test/v1/${SPACE}/yjs/notes%2Fone/updates`, {
        method: 'POST',
        body: updates[0] as Uint8Array,
      }),
    );
    const p = h.track(connectProvider(r.url, SPACE, 'notes/one'));
    const [posted, read] = await Promise.all([
      post,
      get(r, SPACE, 'notes/one'),
      synced(p.provider),
    ]);
    expect(posted.status).toBe(200);
    expect(((await posted.json()) as { applied: number }).applied).toBe(1);
    expect(read.status).toBe(200);
    await until(() => p.doc.getMap('meta').get('status') === 'moved', 'the write arrives');
    expect(sampleJson(p.doc).content).toBe(sampleJson(writer).content);
    expect(r.cairn.yjs.migrated).toBe(1);
    expect((await stored(r, 'notes/one')).rows).toBe(2);
  });

  it('a legacy row that is not a Yjs state fails loudly and stores nothing', async () => {
    await h.setup({ broken: new Uint8Array([0xff, 0xff, 0xff, 0x07]) });
    const r = await h.start();
    const before = await get(r, SPACE, 'two'); // makes the space exist
    expect(before.status).toBe(200);
    const epoch = (await stored(r, 'broken')).epoch;
    expect((await get(r, SPACE, 'broken')).status).toBe(500);
    const after = await stored(r, 'broken');
    expect(after.record).toBeUndefined();
    expect(after.epoch).toBe(epoch);
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createCairn, type Cairn } from '../../src/app/create-cairn.js';
import { listen, type RunningServer } from '../../src/app/serve.js';
import { CairnError } from '../../src/core/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/backend.js';
import { connectProvider, synced, until } from '../helpers/yjs-provider.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * Regression (found by the crash proof, issue 15 item 2): SPEC §11 relay
 * mode "acknowledges no durability it does not have". A doc whose socket
 * update storage refused holds that update in memory only (relayed to the
 * other providers) until relay recovery checkpoints it. An HTTP `POST
 * …/updates` carrying what the doc already holds in memory was answered
 * `200 applied: 0` — "stored" — although a crash then would lose it; an
 * update that adds to it could commit on top of content storage lacks. Now
 * such a POST answers 503 StorageUnavailable until the doc is recovered,
 * and a 200 means the content is on disk.
 *
 * The refusal is injected at the Yjs committer, so that storage itself is
 * writable again (the state after the database or disk came back and
 * another write cleared the degraded flag, before the recovery round ran)
 * for as long as the test needs: otherwise that window lasts under 1 s.
 */

const SPACE = 'did:key:z6MkCrashYjsRelayAck';
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** The text of `docId` as storage holds it (HTTP reads never come from a doc in memory). */
async function storedText(url: string, docId: string): Promise<string> {
  const res = await fetch(`${url}/v1/${SPACE}/yjs/${docId}`, {
    signal: AbortSignal.timeout(15_000),
  });
  const doc = new Y.Doc();
  if (res.status === 200) Y.applyUpdate(doc, new Uint8Array(await res.arrayBuffer()));
  return doc.getText('t').toString();
}

describe('Yjs relay mode and HTTP answers', () => {
  it('does not answer an HTTP update 200 while the doc holds relayed content storage lacks', async () => {
    const { dir, cleanup } = makeTempDir('cairn-relay-ack-');
    cleanups.push(cleanup);
    const db: TestDatabase | undefined =
      process.env.CAIRN_TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
    if (db) cleanups.push(() => db.drop());
    const cairn: Cairn = await createCairn({
      dataDir: dir,
      auth: 'off',
      ...(db ? { databaseUrl: db.url } : {}),
    });
    const server: RunningServer = await listen(cairn, '127.0.0.1', 0);
    cleanups.push(() => server.close(0));
    const url = `http://127.0.0.1:${server.port}`;
    const a = connectProvider(url, SPACE, 'doc');
    const b = connectProvider(url, SPACE, 'doc');
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    await Promise.all([synced(a.provider), synced(b.provider)]);
    a.doc.getText('t').insert(0, 'stored ');
    await until(() => b.doc.getText('t').toString() === 'stored ', 'the first edit');

    const committer = cairn.yjs.committer;
    const commit = committer.commit.bind(committer);
    let refusing = true;
    committer.commit = (spaceId, item) =>
      refusing
        ? Promise.reject(new CairnError('StorageUnavailable', 'injected: storage refuses'))
        : commit(spaceId, item);

    a.doc.getText('t').insert(7, 'relayed');
    await until(() => b.doc.getText('t').toString() === 'stored relayed', 'the relayed edit');
    expect(cairn.yjs.degradedDocs).toBe(1);

    const post = () =>
      fetch(`${url}/v1/${SPACE}/yjs/doc/updates`, {
        method: 'POST',
        body: Y.encodeStateAsUpdate(b.doc),
        signal: AbortSignal.timeout(15_000),
      });
    const early = await post();
    const body = (await early.json()) as { error?: { code: string } };
    expect(await storedText(url, 'doc')).toBe('stored ');
    expect(early.status, `answered ${JSON.stringify(body)} for content not on disk`).toBe(503);
    expect(body.error?.code).toBe('StorageUnavailable');

    // Storage takes writes again: relay recovery writes the doc, then the same POST is a 200.
    refusing = false;
    await until(() => cairn.yjs.degradedDocs === 0, 'relay recovery');
    const late = await post();
    expect(late.status).toBe(200);
    expect(await storedText(url, 'doc')).toBe('stored relayed');
  });
});

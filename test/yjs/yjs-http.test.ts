import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { verifyStoredSpace } from '../../src/app/verify.js';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { Replica, write } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * SPEC §11 HTTP routes of Yjs docs, in-process on the backend under test:
 * updates commit durably with the space's epochs and tx chain, reads at a
 * version, JSON of named roots, the journal feed and the history; bad bytes
 * change nothing; an oversized update becomes a checkpoint at its epoch.
 */

let e: TestEngine | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

const call = (path: string, init?: RequestInit) =>
  (e as TestEngine).cairn.fetch(new Request(`http://cairn.test/v1/${SPACE}/yjs/${path}`, init));
const postUpdate = (docId: string, bytes: Uint8Array) =>
  call(`${encodeURIComponent(docId)}/updates`, { method: 'POST', body: bytes });

interface UpdateAnswer {
  ok: boolean;
  applied: 0 | 1;
  epoch: number;
  txHash?: string;
  stateVector: string;
}

/** A client doc whose every change is captured as one update. */
function client() {
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  return { doc, updates, text: doc.getText('content') };
}

describe('Yjs over HTTP', () => {
  it('commits updates with the space epochs, reads them back at each version, and refuses bad bytes', async () => {
    e = await startEngine();
    const c = client();
    const epochs: number[] = [];
    const texts: string[] = [];
    for (const word of ['durable ', 'before ', 'visible']) {
      c.text.insert(c.text.length, word);
      const res = await postUpdate('notes/a', c.updates.at(-1) as Uint8Array);
      expect(res.status).toBe(200);
      const answer = (await res.json()) as UpdateAnswer;
      expect(answer).toMatchObject({ ok: true, applied: 1 });
      epochs.push(answer.epoch);
      texts.push(c.text.toString());
      // An Automerge commit in between: one line of epochs for the whole space.
      const r = new Replica(epochs.length);
      await e.ok({ writes: [write(`am${epochs.length}`, [r.change((d) => (d.n = 1))], [])] });
    }
    expect(epochs).toEqual([1, 3, 5]);

    // The same update again adds nothing and commits nothing.
    const again = (await (
      await postUpdate('notes/a', c.updates[0] as Uint8Array)
    ).json()) as UpdateAnswer;
    expect(again).toMatchObject({ applied: 0, epoch: 6 });

    // Not a Yjs update: 422, nothing stored.
    for (const bad of [
      new Uint8Array([1, 2, 3, 4, 5]),
      new TextEncoder().encode('hello, not yjs'),
    ]) {
      const res = await postUpdate('notes/a', bad);
      expect(res.status).toBe(422);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('InvalidChange');
    }

    for (const [i, epoch] of epochs.entries()) {
      const res = await call(`notes%2Fa?epoch=${epoch + 1}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cairn-epoch')).toBe(String(epoch));
      const doc = new Y.Doc();
      Y.applyUpdate(doc, new Uint8Array(await res.arrayBuffer()));
      expect(doc.getText('content').toString()).toBe(texts[i]);
    }
    const json = await call('notes%2Fa/json?roots=content:text,meta:map');
    expect(await json.json()).toEqual({
      docId: 'notes/a',
      epoch: 5,
      value: { content: texts[2], meta: {} },
    });

    // The tx record names the stored update by its hash.
    const rec = (await (
      await e.cairn.fetch(new Request(`http://cairn.test/v1/${SPACE}/tx/3`))
    ).json()) as { writes: { docId: string; kind: string; updateHash: string; bytes: number }[] };
    const [row] = await withSpaceReader(e.cairn.backend, SPACE, (ops) =>
      ops.yjs.journal('notes/a', 2, 3, 1),
    );
    expect(rec.writes).toEqual([
      {
        docId: 'notes/a',
        kind: 'yjs',
        updateHash: createHash('sha256').update(row!.bytes).digest('hex'),
        bytes: row!.bytes.byteLength,
      },
    ]);

    const feed = (await (await call('notes%2Fa/updates?fromEpoch=1')).json()) as {
      items: { epoch: number; bytes: string }[];
    };
    expect(feed.items.map((i) => i.epoch)).toEqual([3, 5]);
    const history = (await (await call('notes%2Fa/history?limit=2')).json()) as {
      items: { epoch: number; kind: string }[];
      nextCursor?: string;
    };
    expect(history.items.map((i) => [i.epoch, i.kind])).toEqual([
      [5, 'update'],
      [3, 'update'],
    ]);
    const rest = (await (await call(`notes%2Fa/history?cursor=${history.nextCursor}`)).json()) as {
      items: { epoch: number }[];
    };
    expect(rest.items.map((i) => i.epoch)).toEqual([1]);

    expect((await call('nope')).status).toBe(404);
    const before = await call('notes%2Fa?epoch=0');
    expect(before.status).toBe(404);
    expect(((await before.json()) as { error: { code: string } }).error.code).toBe(
      'VersionNotFound',
    );
    const report = await verifyStoredSpace(e.cairn, SPACE);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('stores an oversized update as a checkpoint at its epoch; the next small one appends normally', async () => {
    e = await startEngine({ yjs: { oversizedUpdateBytes: 4096 } });
    const c = client();
    c.text.insert(0, 'x'.repeat(20_000));
    const big = (await (
      await postUpdate('big', c.updates.at(-1) as Uint8Array)
    ).json()) as UpdateAnswer;
    expect(big.applied).toBe(1);
    c.text.insert(0, 'small ');
    const small = (await (
      await postUpdate('big', c.updates.at(-1) as Uint8Array)
    ).json()) as UpdateAnswer;
    expect(small.epoch).toBe(big.epoch + 1);
    const stored = await withSpaceReader(e.cairn.backend, SPACE, async (ops) => ({
      rows: await ops.yjs.journal('big', 0, Number.MAX_SAFE_INTEGER, 10),
      checkpoints: await ops.yjs.checkpoints('big'),
    }));
    expect(stored.rows.map((r) => r.epoch)).toEqual([small.epoch]);
    expect(stored.checkpoints.map((cp) => cp.epoch)).toEqual([big.epoch]);
    expect(e.cairn.yjs.committer.stats.oversized).toBe(1);
    const history = (await (await call('big/history')).json()) as {
      items: { epoch: number; kind: string }[];
    };
    expect(history.items.map((i) => [i.epoch, i.kind])).toEqual([
      [small.epoch, 'update'],
      [big.epoch, 'checkpoint'],
    ]);
    await e.reopen();
    const res = await call('big');
    const doc = new Y.Doc();
    Y.applyUpdate(doc, new Uint8Array(await res.arrayBuffer()));
    expect(doc.getText('content').toString()).toBe(c.text.toString());
    expect((await verifyStoredSpace(e.cairn, SPACE)).ok).toBe(true);
  });
});

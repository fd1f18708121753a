import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Replica, write } from '../helpers/changes.js';
import { SPACE } from '../helpers/engine.js';
import { LiveTestClient, type ServerFrame } from '../helpers/live-client.js';
import { LiveHarness } from '../helpers/live-server.js';
import { SseTestClient } from '../helpers/sse-client.js';
import { connectProvider, synced } from '../helpers/yjs-provider.js';

/**
 * SPEC §6 live updates carry Yjs docs (§11): a WebSocket subscription with
 * `type: "yjs"` gets the doc's state, then every committed update as a
 * `kind: "yjs"` entry — whether it came over HTTP or from a y-websocket
 * provider — never confused with an Automerge doc of the same id; and the
 * `docs=*` SSE feed includes Yjs commits.
 */

const harness = new LiveHarness();

/** The text a Yjs client following the `yjs` entries of `docId` holds. */
function textFrom(frames: ServerFrame[], docId: string): string {
  const doc = new Y.Doc();
  for (const f of frames) {
    for (const d of f.docs ?? []) {
      if (d.docId !== docId || d.kind !== 'yjs') continue;
      for (const b of d.body as string[]) Y.applyUpdate(doc, Buffer.from(b, 'base64'));
    }
  }
  return doc.getText('t').toString();
}

const post = (url: string, docId: string, update: Uint8Array) =>
  fetch(`${url}/v1/${SPACE}/yjs/${docId}/updates`, { method: 'POST', body: update });

describe('Yjs docs on the live feed', () => {
  it('a yjs subscription gets the state, then HTTP and provider updates, apart from the Automerge doc of the same id', async () => {
    const { e, url } = await harness.start();
    const writer = new Y.Doc();
    const updates: Uint8Array[] = [];
    writer.on('update', (u: Uint8Array) => updates.push(u));
    writer.getText('t').insert(0, 'hello');
    expect((await post(url, 'same', updates.at(-1) as Uint8Array)).status).toBe(200);
    await e.ok({ writes: [write('same', [new Replica(1).change((d) => (d.am = true))])] });

    const c = harness.track(await LiveTestClient.connect(url, SPACE));
    await c.hello();
    const sub = await c.call('/storage/subscribe', { docId: 'same', type: 'yjs' });
    expect(sub.ok).toMatchObject({ complete: true, exists: true });
    const am = await c.call('/storage/subscribe', { docId: 'same' });
    expect(am.ok).toMatchObject({ exists: true });
    const initial = c.deliveries().flatMap((f) => f.docs ?? []);
    expect(initial.map((d) => d.kind).sort()).toEqual(['snapshot', 'yjs']);
    expect(textFrom(c.deliveries(), 'same')).toBe('hello');

    writer.getText('t').insert(5, ' world');
    const res = await post(url, 'same', updates.at(-1) as Uint8Array);
    const { epoch } = (await res.json()) as { epoch: number };
    const pushed = await c.waitFor((f) => f.type === 'deliver' && f.epoch === epoch);
    expect(pushed.docs).toEqual([
      expect.objectContaining({ docId: 'same', branch: 'main', kind: 'yjs', seq: epoch }),
    ]);
    expect(textFrom(c.deliveries(), 'same')).toBe('hello world');

    const p = harness.track(connectProvider(url, SPACE, 'same'));
    await synced(p.provider);
    p.doc.getText('t').insert(0, '» ');
    await c.waitFor(() => textFrom(c.deliveries(), 'same') === '» hello world');
  });

  it('a yjs subscription to a doc that does not exist yet gets its first commit; SSE docs=* carries Yjs commits', async () => {
    const { url } = await harness.start();
    const c = harness.track(await LiveTestClient.connect(url, SPACE));
    await c.hello();
    const sub = await c.call('/storage/subscribe', { docId: 'later', type: 'yjs' });
    expect(sub.ok).toMatchObject({ exists: false });
    const sse = harness.track(await SseTestClient.open(`${url}/v1/${SPACE}/subscribe?docs=*`));
    const writer = new Y.Doc();
    writer.getText('t').insert(0, 'first');
    const res = await post(url, 'later', Y.encodeStateAsUpdate(writer));
    const { epoch } = (await res.json()) as { epoch: number };
    await c.waitFor((f) => f.type === 'deliver' && f.epoch === epoch);
    expect(textFrom(c.deliveries(), 'later')).toBe('first');
    await sse.waitForCount(1);
    const [delivered] = sse.deliveries();
    expect(delivered?.epoch).toBe(epoch);
    expect(delivered?.docs).toEqual([expect.objectContaining({ docId: 'later', kind: 'yjs' })]);
  });
});

import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { SPACE } from '../helpers/engine.js';
import { LiveHarness } from '../helpers/live-server.js';
import { connectProvider, synced, until } from '../helpers/yjs-provider.js';

/**
 * SPEC §11 with the stock y-websocket client provider over real sockets, on
 * the backend under test: providers converge through the server, a late
 * joiner gets the full state, awareness is relayed and never stored, and the
 * state survives a restart.
 */

const harness = new LiveHarness();

const journalRows = (h: LiveHarness, docId: string) =>
  withSpaceReader(
    h.engine!.cairn.backend,
    SPACE,
    async (ops) => (await ops.yjs.journal(docId, 0, Number.MAX_SAFE_INTEGER, 100_000)).length,
  );

describe('y-websocket providers', () => {
  it('two providers editing one doc converge; a third joining later receives the full state', async () => {
    const { url } = await harness.start();
    const a = harness.track(connectProvider(url, SPACE, 'notes/one'));
    const b = harness.track(connectProvider(url, SPACE, 'notes/one'));
    await Promise.all([synced(a.provider), synced(b.provider)]);
    const ta = a.doc.getText('content');
    const tb = b.doc.getText('content');
    for (let i = 0; i < 20; i++) {
      ta.insert(ta.length, `a${i} `);
      tb.insert(0, `b${i} `);
    }
    await until(() => ta.toString() === tb.toString() && ta.length === 140, 'a and b converge');
    const c = harness.track(connectProvider(url, SPACE, 'notes/one'));
    await synced(c.provider);
    await until(() => c.doc.getText('content').toString() === ta.toString(), 'c gets the state');
    expect(await journalRows(harness, 'notes/one')).toBeGreaterThan(0);
    // Bounded memory: the doc is unloaded when its last connection leaves.
    expect(harness.engine!.cairn.yjs.openDocs).toBe(1);
    for (const p of [a, b, c]) p.close();
    await until(() => harness.engine!.cairn.yjs.openDocs === 0, 'the doc is unloaded');
    const metrics = await (
      await harness.engine!.cairn.fetch(new Request('http://cairn.test/metrics'))
    ).text();
    expect(metrics).toMatch(/cairn_yjs_updates_total\{kind="journal",storage="\w+"\} [1-9]/);
    expect(metrics).toMatch(/cairn_yjs_open_docs\{storage="\w+"\} 0/);
  });

  it('relays awareness to the others and never stores it', async () => {
    const { url } = await harness.start();
    const a = harness.track(connectProvider(url, SPACE, 'doc'));
    const b = harness.track(connectProvider(url, SPACE, 'doc'));
    await Promise.all([synced(a.provider), synced(b.provider)]);
    a.doc.getText('t').insert(0, 'x');
    await until(() => b.doc.getText('t').toString() === 'x', 'the edit arrives');
    const rowsBefore = await journalRows(harness, 'doc');
    a.provider.awareness.setLocalStateField('user', { name: 'ada', cursor: 3 });
    await until(
      () => b.provider.awareness.getStates().get(a.doc.clientID)?.user?.name === 'ada',
      'awareness reaches b',
    );
    expect(await journalRows(harness, 'doc')).toBe(rowsBefore);
    a.close();
    await until(() => !b.provider.awareness.getStates().has(a.doc.clientID), 'a leaves b');
  });

  it('keeps the state across a server restart', async () => {
    const { url } = await harness.start();
    const a = connectProvider(url, SPACE, 'kept');
    await synced(a.provider);
    a.doc.getMap('meta').set('title', 'cairn');
    a.doc.getText('body').insert(0, 'durable before visible');
    const b = harness.track(connectProvider(url, SPACE, 'kept'));
    await synced(b.provider);
    await until(() => b.doc.getText('body').length === 22, 'b has the edits');
    b.close();
    a.close();
    await harness.stopServer();
    await harness.engine!.reopen();
    const again = await harness.serve();
    const c = harness.track(connectProvider(again, SPACE, 'kept'));
    await synced(c.provider);
    await until(() => c.doc.getText('body').toString() === 'durable before visible', 'state back');
    expect(c.doc.getMap('meta').get('title')).toBe('cairn');
    const state = Y.encodeStateAsUpdate(c.doc);
    expect(state.byteLength).toBeGreaterThan(0);
  });
});

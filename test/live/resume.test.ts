import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { Replica, write } from '../helpers/changes.js';
import { SPACE, type TestEngine } from '../helpers/engine.js';
import { applyDeliveries, LiveTestClient } from '../helpers/live-client.js';
import { LiveHarness } from '../helpers/live-server.js';

/**
 * Resume (SPEC §6): a client that says what it holds (`hello {sinceEpoch}`)
 * gets only what it missed when it subscribes again — after a disconnect,
 * and after a server restart — or the whole state when the gap is unknown.
 */

const live = new LiveHarness();

async function connect(url: string, sinceEpoch?: number): Promise<LiveTestClient> {
  const c = live.track(await LiveTestClient.connect(url, SPACE));
  const hello = await c.call('/storage/hello', {
    clientId: 'resumer',
    ...(sinceEpoch !== undefined ? { sinceEpoch } : {}),
  });
  expect(hello.ok).toBeDefined();
  return c;
}

async function commitN(e: TestEngine, r: Replica, n: number, from: number): Promise<number> {
  let epoch = 0;
  for (let i = 0; i < n; i++) {
    const base = r.heads;
    epoch = (await e.ok({ writes: [write('doc', [r.change((d) => (d.i = from + i))], base)] }))
      .epoch;
  }
  return epoch;
}

describe('resume from an acknowledged epoch', () => {
  it('after a disconnect, delivers exactly the missed changes as one changes entry', async () => {
    const { e: engine, url } = await live.start();
    const w = new Replica(1);
    await engine.ok({ writes: [write('doc', [w.change((d) => (d.i = 0))])] });
    const first = await connect(url);
    await first.call('/storage/subscribe', { docId: 'doc' });
    const acked = await commitN(engine, w, 3, 1);
    await first.waitFor((f) => f.type === 'deliver' && f.epoch === acked);
    first.sendJson({ type: 'ack', epoch: acked });
    const held = applyDeliveries(A.init(), first.deliveries());
    first.close();

    await commitN(engine, w, 5, 10); // missed while away
    const again = await connect(url, acked);
    const sub = await again.call('/storage/subscribe', { docId: 'doc' });
    expect(sub.ok).toMatchObject({ complete: true, exists: true });
    const missed = again.deliveries();
    expect(missed).toHaveLength(1);
    expect(missed[0]!.docs![0]!.kind).toBe('changes');
    expect(missed[0]!.docs![0]!.body).toHaveLength(5);
    const doc = applyDeliveries(held, missed);
    expect(A.getHeads(doc)).toEqual(w.heads);
    // And it keeps following.
    const next = await commitN(engine, w, 1, 20);
    await again.waitFor((f) => f.type === 'deliver' && f.epoch === next);
  });

  it('after a server restart, the same', async () => {
    const { e: engine, url: firstUrl } = await live.start();
    let url = firstUrl;
    const w = new Replica(2);
    await engine.ok({ writes: [write('doc', [w.change((d) => (d.i = 0))])] });
    const first = await connect(url);
    await first.call('/storage/subscribe', { docId: 'doc' });
    const acked = await commitN(engine, w, 2, 1);
    await first.waitFor((f) => f.type === 'deliver' && f.epoch === acked);
    const held = applyDeliveries(A.init(), first.deliveries());
    await live.stopServer();
    await engine.reopen();
    url = await live.serve();
    await commitN(engine, w, 4, 10);
    const again = await connect(url, acked);
    await again.call('/storage/subscribe', { docId: 'doc' });
    const missed = again.deliveries();
    expect(missed).toHaveLength(1);
    expect(missed[0]!.docs![0]!.body).toHaveLength(4);
    expect(A.getHeads(applyDeliveries(held, missed))).toEqual(w.heads);
  });

  it('resumes a doc the client stopped following from its own acknowledgement, kept across a restart', async () => {
    const { e: engine, url } = await live.start();
    const a = new Replica(4);
    const b = new Replica(5);
    const commit = async (r: Replica, docId: string, i: number) => {
      const base = r.heads;
      return (await engine.ok({ writes: [write(docId, [r.change((d) => (d.i = i))], base)] }))
        .epoch;
    };
    await commit(a, 'a', 0);
    await commit(b, 'b', 0);
    const first = await connect(url);
    const subA = await first.call('/storage/subscribe', { docId: 'a' });
    await first.call('/storage/subscribe', { docId: 'b' });
    // Acks count for a doc only past the epoch of its whole-state frame.
    const ackedA = await commit(a, 'a', 1);
    await first.waitFor((f) => f.type === 'deliver' && f.epoch === ackedA);
    first.sendJson({ type: 'ack', epoch: ackedA });
    const heldA = applyDeliveries(A.init(), first.deliveries(), 'a');
    const subId = (subA.ok as { subscriptionId: string }).subscriptionId;
    await first.call('/storage/unsubscribe', { subscriptionId: subId });
    for (let i = 2; i <= 4; i++) await commit(a, 'a', i); // missed: not followed
    const last = await commit(b, 'b', 1);
    await first.waitFor((f) => f.type === 'deliver' && f.epoch === last);
    // The client's newest ack is past a's changes, but it never received them.
    first.sendJson({ type: 'ack', epoch: last });
    await first.call('/storage/get', { docId: 'b' }); // frames are handled in order
    await live.stopServer(); // closes the connection; acks are written on close
    await engine.reopen();

    const again = await connect(await live.serve(), last);
    await again.call('/storage/subscribe', { docId: 'a' });
    const missed = again.deliveries();
    expect(missed).toHaveLength(1);
    expect(missed[0]!.docs![0]!.kind).toBe('changes');
    expect(missed[0]!.docs![0]!.body).toHaveLength(3);
    expect(A.getHeads(applyDeliveries(heldA, missed, 'a'))).toEqual(a.heads);
  });

  it('sends nothing for a doc that did not change, and the whole state for an unknown epoch', async () => {
    const { e: engine, url } = await live.start();
    const w = new Replica(3);
    const epoch = await commitN(engine, w, 2, 0);
    const same = await connect(url, epoch);
    const sub = await same.call('/storage/subscribe', { docId: 'doc' });
    expect(sub.ok).toMatchObject({ exists: true });
    expect(same.deliveries()).toHaveLength(0);

    const future = await connect(url, epoch + 100);
    await future.call('/storage/subscribe', { docId: 'doc' });
    expect(future.deliveries().map((f) => f.docs![0]!.kind)).toEqual(['snapshot']);
  });
});

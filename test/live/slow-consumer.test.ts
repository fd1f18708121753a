import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { Replica, write } from '../helpers/changes.js';
import { SPACE, type TestEngine } from '../helpers/engine.js';
import { applyDeliveries, LiveTestClient } from '../helpers/live-client.js';
import { LiveHarness } from '../helpers/live-server.js';

/**
 * A subscriber that stops reading cannot make the server hold its backlog
 * (SPEC §6): past the delivery caps its queued deliveries are dropped and,
 * once it reads again, each doc gets one coalesced catch-up; a client that
 * stays over budget too long is closed with 4008 and resumes. Asserts caps
 * and outcomes, not timings.
 */

const live = new LiveHarness();

const QUEUE = 50;
const QUEUE_BYTES = 256 * 1024;

type Socket = { _socket: { pause(): void; resume(): void } };
const pause = (c: LiveTestClient) => (c.ws as unknown as Socket)._socket.pause();
const resume = (c: LiveTestClient) => (c.ws as unknown as Socket)._socket.resume();

/** 2 KB of bytes per change (one op: a string would be 2,000 text ops). */
function filler(i: number): Uint8Array {
  const bytes = new Uint8Array(2000).map((_, k) => (k * 7919) % 251);
  bytes[0] = i % 251;
  return bytes;
}

async function commitBig(engine: TestEngine, w: Replica, docId: string, i: number) {
  const base = w.heads;
  await engine.ok({ writes: [write(docId, [w.change((d) => (d.i = filler(i)))], base)] });
}

async function waitUntil(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 15 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a consumer that stops reading', () => {
  it('stays within the delivery caps during 3,000 commits, then converges through one coalesced catch-up per doc without reconnecting', async () => {
    const { e: engine, url } = await live.start({
      limits: {
        maxDeliveryQueue: QUEUE,
        maxDeliveryQueueBytes: QUEUE_BYTES,
        // Never reached here: this test is about coalescing, not the 4008 close.
        deliveryOverBudgetMs: 600_000,
      },
    });
    const w = new Replica(1);
    const v = new Replica(2);
    await engine.ok({ writes: [write('doc', [w.change((d) => (d.i = 0))])] });
    await engine.ok({ writes: [write('other', [v.change((d) => (d.i = 0))])] });

    const slow = live.track(await LiveTestClient.connect(url, SPACE));
    await slow.hello('slow');
    await slow.call('/storage/subscribe', { docId: 'doc' });
    await slow.call('/storage/subscribe', { docId: 'other' });
    const before = slow.deliveries().length;
    pause(slow);

    let maxFrames = 0;
    let maxBytes = 0;
    let wentBehind = false;
    for (let i = 1; i <= 3000; i++) {
      await commitBig(engine, i % 3 === 0 ? v : w, i % 3 === 0 ? 'other' : 'doc', i);
      for (const q of engine.cairn.live.queues()) {
        maxFrames = Math.max(maxFrames, q.frames);
        maxBytes = Math.max(maxBytes, q.bytes);
        wentBehind ||= q.behind;
      }
    }
    // The caps engaged: the connection fell behind (a sample of the queue
    // between commits may find it already dropped, so its size is no proof).
    expect(wentBehind).toBe(true);
    expect(maxFrames).toBeLessThanOrEqual(QUEUE);
    expect(maxBytes).toBeLessThanOrEqual(QUEUE_BYTES);

    resume(slow);
    const docOf = (id: string) => applyDeliveries(A.init(), slow.deliveries(), id);
    await waitUntil(
      () =>
        JSON.stringify(A.getHeads(docOf('doc'))) === JSON.stringify(w.heads) &&
        JSON.stringify(A.getHeads(docOf('other'))) === JSON.stringify(v.heads),
      'the slow client converging',
    );
    expect(slow.closed).toBeUndefined();
    // Far fewer frames than commits: the dropped ones came back as catch-ups,
    // each bringing a doc many seqs forward (or its saved state) at once.
    const frames = slow.deliveries().slice(before);
    expect(frames.length).toBeLessThan(3000);
    const catchUp = frames.some((f) =>
      (f.docs ?? []).some((d) => d.kind === 'snapshot' || (d.body as string[]).length > 1),
    );
    expect(catchUp).toBe(true);
    expect(engine.cairn.live.queues()[0]?.behind).toBe(false);
  });

  it('is closed with 4008 when it stays over budget past deliveryOverBudgetMs, then resumes and converges', async () => {
    const { e: engine, url } = await live.start({
      limits: {
        maxDeliveryQueue: QUEUE,
        maxDeliveryQueueBytes: QUEUE_BYTES,
        deliveryOverBudgetMs: 200,
      },
    });
    const w = new Replica(1);
    await engine.ok({ writes: [write('doc', [w.change((d) => (d.i = 0))])] });

    const slow = live.track(await LiveTestClient.connect(url, SPACE));
    await slow.hello('slow');
    await slow.call('/storage/subscribe', { docId: 'doc' });
    const heldEpoch = slow.deliveries().at(-1)!.epoch as number;
    pause(slow);

    const state = () => engine.cairn.live.queues()[0];
    for (let i = 1; i <= 20_000 && !state()?.behind; i++) await commitBig(engine, w, 'doc', i);
    expect(state()?.behind).toBe(true);
    await waitUntil(() => state()?.closed !== false, 'the over-budget close');
    resume(slow);
    expect((await slow.waitClosed()).code).toBe(4008);
    const held = applyDeliveries(A.init(), slow.deliveries());

    const back = live.track(await LiveTestClient.connect(url, SPACE));
    await back.call('/storage/hello', { clientId: 'slow', sinceEpoch: heldEpoch });
    await back.call('/storage/subscribe', { docId: 'doc' });
    const doc = applyDeliveries(held, back.deliveries());
    expect(A.getHeads(doc)).toEqual(w.heads);
  });
});

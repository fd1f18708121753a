import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { Replica, write } from '../helpers/changes.js';
import { SPACE } from '../helpers/engine.js';
import { applyDeliveries, LiveTestClient } from '../helpers/live-client.js';
import { LiveHarness } from '../helpers/live-server.js';

/**
 * A subscriber that stops reading cannot make the server hold its backlog:
 * past the delivery caps it is closed with 4008, and when it comes back it
 * resumes and converges. Asserts the caps, not timings.
 */

const live = new LiveHarness();

const QUEUE = 50;
const QUEUE_BYTES = 256 * 1024;

describe('a consumer that stops reading', () => {
  it('is closed with 4008 at the delivery caps during 3,000 commits, then resumes and converges', async () => {
    const { e: engine, url } = await live.start({
      limits: { maxDeliveryQueue: QUEUE, maxDeliveryQueueBytes: QUEUE_BYTES },
    });
    const w = new Replica(1);
    await engine.ok({ writes: [write('doc', [w.change((d) => (d.i = 0))])] });

    const slow = live.track(await LiveTestClient.connect(url, SPACE));
    await slow.hello('slow');
    await slow.call('/storage/subscribe', { docId: 'doc' });
    const heldEpoch = slow.deliveries().at(-1)!.epoch as number;
    const held = applyDeliveries(A.init(), slow.deliveries());
    // Stop reading: the kernel and then the server's buffers fill.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();

    // 2 KB of bytes per change (one op: a string would be 2,000 text ops).
    const filler = new Uint8Array(2000).map((_, k) => (k * 7919) % 251);
    let maxFrames = 0;
    let maxBytes = 0;
    for (let i = 1; i <= 3000; i++) {
      const base = w.heads;
      filler[0] = i % 251;
      await engine.ok({ writes: [write('doc', [w.change((d) => (d.i = filler.slice()))], base)] });
      for (const q of engine.cairn.live.queues()) {
        maxFrames = Math.max(maxFrames, q.frames);
        maxBytes = Math.max(maxBytes, q.bytes);
      }
    }
    expect(maxFrames).toBeGreaterThan(0); // the queue was used, not bypassed
    expect(maxFrames).toBeLessThanOrEqual(QUEUE);
    expect(maxBytes).toBeLessThanOrEqual(QUEUE_BYTES);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await slow.waitClosed()).code).toBe(4008);

    const back = live.track(await LiveTestClient.connect(url, SPACE));
    await back.call('/storage/hello', { clientId: 'slow', sinceEpoch: heldEpoch });
    await back.call('/storage/subscribe', { docId: 'doc' });
    const doc = applyDeliveries(held, back.deliveries());
    expect(A.getHeads(doc)).toEqual(w.heads);
  });
});

import * as A from '@automerge/automerge';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../src/app/serve.js';
import { Replica, write } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';
import { LiveTestClient, type ServerFrame } from '../helpers/live-client.js';

/**
 * A subscriber that stops reading cannot make the server hold its backlog:
 * past the delivery caps it is closed with 4008, and when it comes back it
 * resumes and converges. Asserts the caps, not timings.
 */

let engine: TestEngine | undefined;
let server: RunningServer | undefined;
const clients: LiveTestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close(0);
  await engine?.close();
  engine = undefined;
  server = undefined;
});

const QUEUE = 50;
const QUEUE_BYTES = 256 * 1024;

function apply(doc0: A.Doc<Record<string, unknown>>, frames: ServerFrame[]) {
  let doc = doc0;
  for (const f of frames) {
    for (const d of f.docs ?? []) {
      if (d.kind === 'snapshot')
        doc = A.merge(doc, A.load(Buffer.from(d.body as string, 'base64')));
      else
        [doc] = A.applyChanges(
          doc,
          (d.body as string[]).map((x) => Buffer.from(x, 'base64')),
        );
    }
  }
  return doc;
}

describe('a consumer that stops reading', () => {
  it('is closed with 4008 at the delivery caps during 3,000 commits, then resumes and converges', async () => {
    engine = await startEngine({
      limits: { maxDeliveryQueue: QUEUE, maxDeliveryQueueBytes: QUEUE_BYTES },
    });
    server = await listen(engine.cairn, '127.0.0.1', 0);
    const url = `http://127.0.0.1:${server.port}`;
    const w = new Replica(1);
    await engine.ok({ writes: [write('doc', [w.change((d) => (d.i = 0))])] });

    const slow = await LiveTestClient.connect(url, SPACE);
    clients.push(slow);
    await slow.hello('slow');
    await slow.call('/storage/subscribe', { docId: 'doc' });
    const heldEpoch = slow.deliveries().at(-1)!.epoch as number;
    const held = apply(A.init(), slow.deliveries());
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

    const back = await LiveTestClient.connect(url, SPACE);
    clients.push(back);
    await back.call('/storage/hello', { clientId: 'slow', sinceEpoch: heldEpoch });
    await back.call('/storage/subscribe', { docId: 'doc' });
    const doc = apply(held, back.deliveries());
    expect(A.getHeads(doc)).toEqual(w.heads);
  });
});

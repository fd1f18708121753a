import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { SPACE } from '../helpers/engine.js';
import { LiveHarness } from '../helpers/live-server.js';
import { connectProvider, synced, until } from '../helpers/yjs-provider.js';

/**
 * Hostile frames on the y-websocket endpoint: each closes only its own
 * socket (1007 for bytes that are not the protocol, 1009 for a frame over
 * the size limit), stores nothing, and the doc's other clients go on.
 */

const harness = new LiveHarness();

function frame(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}

/** Sends one frame on a fresh socket; resolves with the close code. */
async function closeCodeAfter(url: string, data: Uint8Array | string): Promise<number> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/${SPACE}/yjs/doc`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(data);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not closed within 10 s')), 10_000);
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    ws.on('error', () => undefined);
  });
}

describe('y-websocket endpoint under bad frames', () => {
  it('closes a socket that sends garbage, a bad update or an unknown type, and nothing is stored', async () => {
    const { e, url } = await harness.start({ limits: { maxFrameBytes: 64 * 1024 } });
    const good = harness.track(connectProvider(url, SPACE, 'doc'));
    await synced(good.provider);
    const bad = {
      garbage: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      'truncated sync message': frame((w) => encoding.writeVarUint(w, 0)),
      'an update that is not Yjs': frame((w) => {
        encoding.writeVarUint(w, 0);
        encoding.writeVarUint(w, 2);
        encoding.writeVarUint8Array(w, new TextEncoder().encode('not a yjs update at all'));
      }),
      'an unknown message type': frame((w) => encoding.writeVarUint(w, 42)),
      'an unknown sync step': frame((w) => {
        encoding.writeVarUint(w, 0);
        encoding.writeVarUint(w, 9);
        encoding.writeVarUint8Array(w, new Uint8Array([0]));
      }),
      'a text frame': 'hello',
    };
    for (const [what, data] of Object.entries(bad)) {
      expect(await closeCodeAfter(url, data), what).toBe(1007);
    }
    expect(await closeCodeAfter(url, new Uint8Array(65 * 1024)), 'over the frame limit').toBe(1009);

    good.doc.getText('t').insert(0, 'still fine');
    const other = harness.track(connectProvider(url, SPACE, 'doc'));
    await synced(other.provider);
    await until(() => other.doc.getText('t').toString() === 'still fine', 'the doc goes on');
    const rows = await withSpaceReader(e.cairn.backend, SPACE, (ops) =>
      ops.yjs.journal('doc', 0, Number.MAX_SAFE_INTEGER, 100),
    );
    expect(rows).toHaveLength(1);
  });
});

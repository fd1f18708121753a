import * as A from '@automerge/automerge';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { CairnClient, CairnClientError, type WebSocketLike } from '../../src/client/index.js';
import { SPACE } from '../helpers/engine.js';
import { LiveHarness } from '../helpers/live-server.js';
import { SeededRandom, testSeed } from '../helpers/seeded-random.js';

/**
 * `cairn/client` against a real server on the backend under test: two
 * writers edit one doc through 20 forced disconnects at seeded random
 * points, and both end with the server's doc; transactions resent after a
 * drop are committed once (their clientTxId).
 */

const live = new LiveHarness();

const WS = WebSocket as unknown as new (url: string) => WebSocketLike;

async function start(): Promise<string> {
  return (await live.start()).url;
}

function client(url: string, seed: number): CairnClient {
  const rng = new SeededRandom(seed);
  const c = new CairnClient({
    url,
    space: SPACE,
    WebSocket: WS,
    backoff: { minMs: 5, maxMs: 50, random: () => rng.next() },
  });
  return live.track(c);
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('cairn/client', () => {
  const seed = testSeed();

  it(`two writers converge through 20 forced disconnects (seed ${seed})`, async () => {
    const url = await start();
    const rng = new SeededRandom(seed);
    const writers = [client(url, seed + 1), client(url, seed + 2)];
    for (const w of writers) w.subscribe('shared', () => undefined);
    const EDITS = 120;
    const drops = new Set<number>();
    while (drops.size < 20) drops.add(rng.int(EDITS * 2));
    const receipts: Promise<unknown>[] = [];
    for (let step = 0; step < EDITS * 2; step++) {
      const k = step % 2;
      const w = writers[k] as CairnClient;
      const p = w.change('shared', (d) => {
        d[`w${k}`] = step;
        d[`e${step}`] = k;
      });
      if (p) receipts.push(p);
      if (drops.has(step)) {
        // Each drop hits an open session; the edits after it are made offline.
        const target = writers[rng.int(2)] as CairnClient;
        await until(() => target.isConnected, 'a session to drop');
        target.dropConnection();
      }
      if (step % 10 === 0) await new Promise((resolve) => setTimeout(resolve, rng.int(15)));
    }
    await Promise.all(receipts);
    await Promise.all(writers.map((w) => w.synced()));
    const serverHeads = (await live.engine!.cairn.read.heads(SPACE, 'shared', 'main')).heads;
    for (const w of writers) {
      await until(
        () => A.getHeads(w.doc('shared')!).sort().join() === [...serverHeads].sort().join(),
        'a writer to hold the server heads',
      );
    }
    // Every drop ended a session and the client came back: 2 first sessions + 20.
    await until(() => writers.every((w) => w.isConnected), 'both to be connected');
    expect(writers[0]!.sessions + writers[1]!.sessions).toBe(22);
    const [a, b] = writers.map((w) => A.toJS(w.doc('shared')!));
    expect(a).toEqual(b);
    for (let step = 0; step < EDITS * 2; step++) expect(a![`e${step}`]).toBe(step % 2);
    // Every local change was committed exactly once, resends included.
    const changes = await live.engine!.cairn.read.changes(SPACE, 'shared', 'main', {
      fromSeq: 1,
      limit: 10_000,
    });
    expect(changes.items).toHaveLength(EDITS * 2);
  });

  it('commits a burst of 2,000 local changes in a few transactions, and a reader converges', async () => {
    const url = await start();
    const writer = client(url, seed + 3);
    const reader = client(url, seed + 4);
    writer.subscribe('burst', () => undefined);
    reader.subscribe('burst', () => undefined);
    await until(() => writer.isConnected && reader.isConnected, 'both connected');
    const receipts = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      void writer.change('burst', (d) => (d[`k${i % 50}`] = i))?.then((r) => receipts.add(r.epoch));
    }
    await writer.synced();
    // Changes made in one turn share transactions (at most 1,000 changes each).
    expect(receipts.size).toBeGreaterThanOrEqual(2);
    expect(receipts.size).toBeLessThanOrEqual(10);
    const heads = A.getHeads(writer.doc('burst')!);
    await until(
      () => A.getHeads(reader.doc('burst')!).join() === heads.join(),
      'the reader holding the burst',
    );
  });

  it('rejects a refused transaction with a typed error', async () => {
    const url = await start();
    const c = client(url, seed);
    const err = await c
      .tx([{ docId: 'd', baseHeads: [], changes: ['AAAA'] }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CairnClientError);
    expect((err as CairnClientError).code).toBe('InvalidChange');
    await c.synced();
  });
});

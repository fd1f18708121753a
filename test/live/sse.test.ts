import { describe, expect, it } from 'vitest';
import { Replica, write } from '../helpers/changes.js';
import { SPACE, type TestEngine } from '../helpers/engine.js';
import { LiveHarness } from '../helpers/live-server.js';
import { SseTestClient } from '../helpers/sse-client.js';

/** `GET /v1/:space/subscribe` (SPEC §6 SSE), over a real socket, on the backend under test. */

const live = new LiveHarness();

async function start(): Promise<{ e: TestEngine; base: string }> {
  const { e, url } = await live.start();
  return { e, base: `${url}/v1/${SPACE}` };
}

async function open(url: string, headers: Record<string, string> = {}) {
  return live.track(await SseTestClient.open(url, headers));
}

let counter = 0;

/** Commits `n` transactions round-robin over `docs`; returns each epoch with its doc. */
async function commitRound(e: TestEngine, replicas: Map<string, Replica>, n: number) {
  const out: { epoch: number; docId: string }[] = [];
  const docs = [...replicas.keys()];
  for (let i = 0; i < n; i++) {
    const docId = docs[i % docs.length] as string;
    const r = replicas.get(docId) as Replica;
    const base = r.heads;
    const value = ++counter; // a value never set before: every change is a new one
    const receipt = await e.ok({ writes: [write(docId, [r.change((d) => (d.i = value))], base)] });
    out.push({ epoch: receipt.epoch, docId });
  }
  return out;
}

describe('GET /v1/:space/subscribe (SSE)', () => {
  it('docs=* resumed from a Last-Event-ID misses nothing and repeats nothing, then follows live', async () => {
    const { e, base } = await start();
    const replicas = new Map(['a', 'b', 'c'].map((d, k) => [d, new Replica(k + 1)]));
    const before = await commitRound(e, replicas, 30);
    const feed = await open(`${base}/subscribe?docs=*`, { 'last-event-id': '10' });
    expect(feed.status).toBe(200);
    await feed.waitForCount(20);
    const after = await commitRound(e, replicas, 5);
    await feed.waitForCount(25);
    const got = feed.deliveries();
    const want = [...before.slice(10), ...after];
    expect(got.map((d) => d.epoch)).toEqual(want.map((w) => w.epoch));
    expect(got.map((d) => d.docs.map((x) => x.docId))).toEqual(want.map((w) => [w.docId]));
    expect(feed.events.map((ev) => ev.id)).toEqual(want.map((w) => String(w.epoch)));
  });

  it('named docs start with their current state and get only their own commits', async () => {
    const { e, base } = await start();
    const replicas = new Map(['a', 'b', 'c'].map((d, k) => [d, new Replica(k + 1)]));
    await commitRound(e, replicas, 3);
    const feed = await open(`${base}/subscribe?docs=a,b`);
    await feed.waitForCount(1);
    expect(feed.deliveries()[0]!.docs.map((d) => [d.docId, d.kind])).toEqual([
      ['a', 'snapshot'],
      ['b', 'snapshot'],
    ]);
    const more = await commitRound(e, replicas, 6);
    await feed.waitForCount(5);
    expect(
      feed
        .deliveries()
        .slice(1)
        .map((d) => d.epoch),
    ).toEqual(more.filter((m) => m.docId !== 'c').map((m) => m.epoch));
  });

  it('refuses bad requests with a typed error', async () => {
    const { base } = await start();
    for (const [url, headers] of [
      [`${base}/subscribe`, {}],
      [`${base}/subscribe?docs=`, {}],
      [`${base}/subscribe?docs=*`, { 'last-event-id': 'abc' }],
      [`${base}/subscribe?docs=a&branch=${encodeURIComponent('bad branch')}`, {}],
    ] as [string, Record<string, string>][]) {
      const s = await open(url, headers);
      expect(s.status, url).toBe(400);
      expect(JSON.parse(s.errorBody).error.code).toBe('ValidationError');
    }
  });
});

import * as A from '@automerge/automerge';
import { encode } from 'cborg';
import { describe, expect, it } from 'vitest';
import type { CairnOptions } from '../../src/app/create-cairn.js';
import { b64, hashOf, Replica, write } from '../helpers/changes.js';
import { OTHER_SPACE, SPACE } from '../helpers/engine.js';
import { applyDeliveries, LiveTestClient } from '../helpers/live-client.js';
import { LiveHarness } from '../helpers/live-server.js';

/**
 * The WebSocket protocol of SPEC §6 over real sockets, on the backend under
 * test: deliveries after the durable commit, one per epoch, in order; one
 * task/return per invocation whatever the frame; pipelined transactions.
 */

const live = new LiveHarness();
const start = (options: CairnOptions = {}) => live.start(options);

async function client(url: string, space = SPACE): Promise<LiveTestClient> {
  const c = live.track(await LiveTestClient.connect(url, space));
  expect((await c.hello()).ok).toMatchObject({ epoch: expect.any(Number) });
  return c;
}

describe('GET /v1/:space/ws', () => {
  it('two subscribers see every commit exactly once per epoch, in order, after it is durable', async () => {
    const { e, url } = await start();
    const writer = new Replica(1);
    await e.ok({ writes: [write('doc', [writer.change((d) => (d.n = 0))])] });
    const [a, b] = [await client(url), await client(url)];
    for (const c of [a, b]) {
      const sub = await c.call('/storage/subscribe', { docId: 'doc' });
      expect(sub.ok).toMatchObject({ complete: true, exists: true, epoch: 1 });
    }
    const epochs: number[] = [];
    for (let i = 1; i <= 20; i++) {
      const before = writer.heads;
      const r = await e.ok({ writes: [write('doc', [writer.change((d) => (d.n = i))], before)] });
      epochs.push(r.epoch);
    }
    for (const c of [a, b]) {
      const got = await c.waitForCount((f) => f.type === 'deliver', 21);
      expect(got[0]!.docs![0]!.kind).toBe('snapshot');
      expect(got.slice(1).map((f) => f.epoch)).toEqual(epochs);
      expect(
        got.slice(1).every((f) => f.docs!.length === 1 && f.docs![0]!.kind === 'changes'),
      ).toBe(true);
      expect(A.toJS(applyDeliveries(A.init(), got, 'doc'))).toEqual({ n: 20 });
      expect(A.getHeads(applyDeliveries(A.init(), got, 'doc'))).toEqual(writer.heads);
    }
  });

  it('delivers a commit of a doc that did not exist when it was subscribed', async () => {
    const { e, url } = await start();
    const c = await client(url);
    const sub = await c.call('/storage/subscribe', { docId: 'later' });
    expect(sub.ok).toMatchObject({ complete: true, exists: false });
    const r = new Replica(2);
    await e.ok({ writes: [write('later', [r.change((d) => (d.x = 1))])] });
    const f = await c.waitFor((x) => x.type === 'deliver');
    expect(f.docs![0]).toMatchObject({ docId: 'later', seq: 1, kind: 'changes' });
  });

  it('a get-only session gets the state once and no pushes; unsubscribe stops deliveries', async () => {
    const { e, url } = await start();
    const w = new Replica(3);
    await e.ok({ writes: [write('doc', [w.change((d) => (d.v = 1))])] });
    const getter = await client(url);
    const got = await getter.call('/storage/get', { docId: 'doc' });
    expect(got.ok).toEqual({ complete: true, epoch: 1 });
    expect(getter.deliveries()).toHaveLength(1);
    expect((await getter.call('/storage/get', { docId: 'nope' })).error?.code).toBe('DocNotFound');

    const leaver = await client(url);
    const control = await client(url);
    const sub = await leaver.call('/storage/subscribe', { docId: 'doc' });
    await control.call('/storage/subscribe', { docId: 'doc' });
    const left = await leaver.call('/storage/unsubscribe', {
      subscriptionId: sub.ok!.subscriptionId,
    });
    expect(left.ok).toEqual({ ok: true });
    const before = w.heads;
    await e.ok({ writes: [write('doc', [w.change((d) => (d.v = 2))], before)] });
    // The control subscriber got epoch 2: the same dispatch would have reached the others.
    await control.waitFor((f) => f.type === 'deliver' && f.epoch === 2);
    expect(getter.deliveries()).toHaveLength(1);
    expect(leaver.deliveries()).toHaveLength(1); // its initial state only
  });

  it('never delivers across spaces', async () => {
    const { e, url } = await start();
    const here = await client(url, SPACE);
    const there = await client(url, OTHER_SPACE);
    await here.call('/storage/subscribe', { docId: 'same' });
    await there.call('/storage/subscribe', { docId: 'same' });
    const r = new Replica(4);
    await e.ok({ writes: [write('same', [r.change((d) => (d.s = 1))])] }, OTHER_SPACE);
    await there.waitFor((f) => f.type === 'deliver');
    const r2 = new Replica(5);
    await e.ok({ writes: [write('same', [r2.change((d) => (d.t = 1))])] }, SPACE);
    const mine = await here.waitFor((f) => f.type === 'deliver');
    expect(mine.docs![0]!.heads).toEqual(r2.heads);
    expect(here.deliveries()).toHaveLength(1);
    expect(there.deliveries()).toHaveLength(1);
  });

  it('answers every malformed frame, unknown command or bad transaction with one error task/return, and stays usable', async () => {
    const { url } = await start();
    const c = live.track(await LiveTestClient.connect(url, SPACE));
    const early = await c.call('/storage/subscribe', { docId: 'x' });
    expect(early.error?.message).toMatch(/hello first/);
    await c.hello();
    c.sendRaw('{not json');
    c.sendRaw('[1,2]');
    c.sendRaw(Buffer.from([1, 2, 3]));
    const nulls = await c.waitForCount((f) => f.type === 'task/return' && f.id === null, 3);
    expect(nulls.map((f) => f.error?.code)).toEqual([
      'ValidationError',
      'ValidationError',
      'ValidationError',
    ]);
    const cases: [string, unknown, string][] = [
      ['/storage/nope', {}, 'ValidationError'],
      ['/storage/get', { docId: '' }, 'ValidationError'],
      ['/storage/unsubscribe', { subscriptionId: 's99' }, 'ValidationError'],
      [
        '/storage/tx',
        { writes: [{ docId: 'd', baseHeads: [], changes: ['%%%'] }] },
        'ValidationError',
      ],
      [
        '/storage/tx',
        { writes: [{ docId: 'd', baseHeads: [], changes: [b64(new Uint8Array([1, 2]))] }] },
        'InvalidChange',
      ],
      ['/storage/hello', { clientId: 'again' }, 'ValidationError'],
    ];
    for (const [cmd, args, code] of cases) {
      const answer = await c.call(cmd, args);
      expect(answer.error?.code, cmd).toBe(code);
    }
    // Still usable: a good transaction commits.
    const r = new Replica(6);
    const ok = await c.call('/storage/tx', { writes: [write('d', [r.change((d) => (d.k = 1))])] });
    expect(ok.ok).toMatchObject({ ok: true, epoch: 1 });
    const answers = c.frames.filter((f) => f.type === 'task/return');
    // One answer per frame sent: 1 early + hello + 3 bad frames + the cases + the good tx.
    expect(answers).toHaveLength(1 + 1 + 3 + cases.length + 1);
  });

  // Regression: upgraded sockets kept the HTTP server's close() waiting forever.
  it('shutting down closes open WebSockets with 1001 instead of waiting for them', async () => {
    const { url } = await start();
    const c = await client(url);
    await c.call('/storage/subscribe', { docId: 'doc' });
    await live.stopServer();
    expect((await c.waitClosed()).code).toBe(1001);
  });

  it('hello {encoding: "cbor"} switches to binary CBOR frames with raw change bytes', async () => {
    const { e, url } = await start();
    const w = new Replica(8);
    await e.ok({ writes: [write('doc', [w.change((d) => (d.t = 'x'.repeat(300)))])] });
    const json = await client(url); // a JSON session, to compare sizes
    const c = live.track(await LiveTestClient.connect(url, SPACE));
    const hello = await c.call('/storage/hello', { clientId: 'cbor', encoding: 'cbor' });
    expect(hello.binary).toBe(true);
    expect(hello.ok).toMatchObject({ epoch: 1 });
    // Commands may now come as CBOR too, with raw bytes for changes.
    c.sendRaw(
      Buffer.from(encode({ id: 'sub', cmd: '/storage/subscribe', args: { docId: 'doc' } })),
    );
    await c.waitFor((f) => f.type === 'task/return' && f.id === 'sub');
    await json.call('/storage/subscribe', { docId: 'doc' });
    const base = w.heads;
    const change = w.change((d) => (d.t = 'y'.repeat(300)));
    const raw = {
      id: 'tx',
      cmd: '/storage/tx',
      args: { writes: [{ docId: 'doc', baseHeads: base, changes: [change] }] },
    };
    c.sendRaw(Buffer.from(encode(raw)));
    const receipt = await c.waitFor((f) => f.type === 'task/return' && f.id === 'tx');
    expect(receipt.ok).toMatchObject({ ok: true, epoch: 2 });
    const got = await c.waitFor((f) => f.type === 'deliver' && f.epoch === 2);
    expect(got.binary).toBe(true);
    const body = got.docs![0]!.body as Uint8Array[];
    expect(body[0]).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(body[0]!)).toEqual(Buffer.from(change));
    // A third less than the same frame in JSON (base64).
    const inJson = await json.waitFor((f) => f.type === 'deliver' && f.epoch === 2);
    expect(encode(got).byteLength).toBeLessThan(JSON.stringify(inJson).length * 0.8);
    // Bytes that are not CBOR get one error answer; the session goes on.
    c.sendRaw(Buffer.from([0xff, 0xff]));
    const bad = await c.waitFor((f) => f.type === 'task/return' && f.id === null);
    expect(bad.error?.code).toBe('ValidationError');
  });

  it('refuses a transaction over maxInFlightTx with RateLimited, answering every one', async () => {
    const { url } = await start({ limits: { maxInFlightTx: 5 } });
    const c = await client(url);
    // 20 new docs sent in one burst: at most 5 can await receipts.
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const change = new Replica(100 + i).change((d) => (d.k = i));
        return c.call('/storage/tx', { writes: [write(`burst-${i}`, [change])] });
      }),
    );
    const limited = answers.filter((a) => a.error?.code === 'RateLimited');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.error).toMatchObject({ limit: 'maxInFlightTx' });
    expect(answers.filter((a) => a.ok).length + limited.length).toBe(20);
  });

  it('commits 200 pipelined transactions from one connection in the order sent', async () => {
    const { e, url } = await start();
    const c = await client(url);
    const r = new Replica(7);
    let base: string[] = [];
    const sent = [];
    for (let i = 0; i < 200; i++) {
      const change = r.change((d) => (d.i = i));
      sent.push(c.call('/storage/tx', { writes: [write('pipe', [change], base)] }));
      base = [hashOf(change)];
    }
    const answers = await Promise.all(sent);
    expect(answers.every((a) => a.ok?.ok === true)).toBe(true);
    const epochs = answers.map((a) => a.ok!.epoch as number);
    expect(epochs).toEqual([...epochs].sort((x, y) => x - y));
    expect(new Set(epochs).size).toBe(200);
    const heads = await e.cairn.read.heads(SPACE, 'pipe', 'main');
    expect(heads.seq).toBe(200);
    // Receipts came back in the order sent.
    const order = c.frames.filter((f) => f.type === 'task/return').map((f) => f.id as number);
    expect(order.slice(1)).toEqual([...order.slice(1)].sort((x, y) => x - y));
  });
});

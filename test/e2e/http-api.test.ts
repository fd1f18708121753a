import { automergeWrites } from '../helpers/record-writes.js';
import { checkTxRecord } from '../../src/pipeline/verify-tx-chain.js';
import { txRecordFromView, type TxRecordBytes } from '../../src/protocol/tx-record.js';
import type { TxRecordView } from '../../src/protocol/views.js';
import { createHash } from 'node:crypto';
import * as A from '@automerge/automerge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityFromSeed } from '../../src/auth/server-identity.js';
import { b64, hashOf, Replica, write } from '../helpers/changes.js';
import {
  E2E_SERVER_KEY,
  looksLikeStackTrace,
  rawRequest,
  startServer,
  stopAllServers,
  type ServerProcess,
} from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** Talks to a real `cairn serve` process over HTTP only (SPEC §2-§3). */

interface Receipt {
  ok: true;
  epoch: number;
  committedAt: number;
  txHash: string;
  results: {
    docId: string;
    branch: string;
    status: 'ok';
    seq: number;
    newHeads: string[];
    rootRef: string;
    applied: number;
    duplicates: number;
  }[];
}

interface DocJson {
  docId: string;
  branch: string;
  seq: number;
  epoch: number;
  heads: string[];
  rootRef: string;
  value: Record<string, unknown>;
}

interface ChangeItem {
  seq: number;
  epoch: number;
  hash: string;
  actor: string;
  actorSeq: number;
  deps: string[];
  committedAt: number;
  bytes: string;
}

type TxRecord = TxRecordView;

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const rootRefOf = (heads: string[]) =>
  createHash('sha256')
    .update(JSON.stringify([...heads].sort()), 'utf8')
    .digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: ServerProcess;
let cleanupDir: () => void;
/** Every body the server answered, checked for stack traces at the end. */
const bodies: string[] = [];

beforeAll(async () => {
  const { dir, cleanup } = makeTempDir('cairn-e2e-http-');
  cleanupDir = cleanup;
  server = await startServer({ dataDir: `${dir}/data` });
});

afterAll(async () => {
  await stopAllServers();
  cleanupDir?.();
});

function spaceUrl(space: string, path: string): string {
  return `${server.url}/v1/${space}${path}`;
}

async function request(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  bodies.push(text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${init?.method ?? 'GET'} ${url} → ${res.status}, not JSON: ${text}`);
  }
  return { status: res.status, json, headers: res.headers };
}

async function postTx(space: string, body: unknown) {
  return request(spaceUrl(space, '/tx'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function commit(space: string, body: unknown): Promise<Receipt> {
  const { status, json } = await postTx(space, body);
  if (status !== 200) throw new Error(`expected 200, got ${status}: ${JSON.stringify(json)}`);
  return json as Receipt;
}

async function getOk<T>(space: string, path: string): Promise<T> {
  const { status, json } = await request(spaceUrl(space, path));
  if (status !== 200) throw new Error(`GET ${path} → ${status}: ${JSON.stringify(json)}`);
  return json as T;
}

const docPath = (docId: string, rest = '') => `/docs/${encodeURIComponent(docId)}${rest}`;

/** Pages through the changes route; returns every item and the number of pages. */
async function allChanges(
  space: string,
  docId: string,
  limit: number,
  extra = '',
): Promise<{ items: ChangeItem[]; pages: number }> {
  const items: ChangeItem[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const q = `?limit=${limit}${extra}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await getOk<{ items: ChangeItem[]; nextCursor?: string }>(
      space,
      docPath(docId, `/changes${q}`),
    );
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    cursor = page.nextCursor;
    pages++;
    if (pages > 1000) throw new Error('changes paging does not end');
  } while (cursor !== undefined);
  return { items, pages };
}

/** Checks one served tx record offline with the one verifier: body hash, chain link, signature. */
function verifyTxRecord(space: string, rec: TxRecord, prev: TxRecord | undefined): void {
  const bytes = txRecordFromView(rec);
  expect(bytes, 'the record decodes').toBeDefined();
  const link = prev
    ? { epoch: prev.epoch, txHash: Buffer.from(prev.txHash, 'hex'), committedAt: prev.committedAt }
    : { epoch: 0, txHash: new Uint8Array(32), committedAt: 0 };
  expect(checkTxRecord(bytes as TxRecordBytes, link, { spaceId: space })).toBeUndefined();
  // A signature over anything else does not verify.
  const tampered = { ...(bytes as TxRecordBytes), committedAt: rec.committedAt + 1 };
  expect(checkTxRecord(tampered, link, { spaceId: space })).toBeDefined();
}

describe('e2e: HTTP API of a cairn serve process', () => {
  it('answers GET /healthz with 200', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('logs the serverDid of CAIRN_SERVER_KEY when it starts listening', () => {
    expect(server.serverDid).toBe(identityFromSeed(Buffer.from(E2E_SERVER_KEY, 'base64url')).did);
  });

  it('commits a write and answers a receipt with epoch, committedAt, txHash and per-write results', async () => {
    const space = 'did:key:z6MkE2eReceipt';
    const r = new Replica(1);
    const c = r.change((d) => {
      d.title = 'hello';
    });
    const before = Date.now();
    const receipt = await commit(space, { writes: [write('notes/1', [c])] });
    expect(receipt.ok).toBe(true);
    expect(receipt.epoch).toBe(1);
    expect(receipt.committedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(receipt.committedAt).toBeLessThanOrEqual(Date.now() + 1000);
    expect(receipt.txHash).toMatch(/^[0-9a-f]{64}$/);
    expect(receipt.results).toEqual([
      {
        docId: 'notes/1',
        branch: 'main',
        status: 'ok',
        seq: 1,
        newHeads: [hashOf(c)],
        rootRef: rootRefOf([hashOf(c)]),
        applied: 1,
        duplicates: 0,
      },
    ]);
  });

  it('commits a multi-doc transaction atomically as one epoch', async () => {
    const space = 'did:key:z6MkE2eMultiDoc';
    const a = new Replica(1);
    const b = new Replica(2);
    const ca = a.change((d) => {
      d.n = 1;
    });
    const cb = b.change((d) => {
      d.n = 2;
    });
    const receipt = await commit(space, {
      writes: [write('a', [ca]), write('b', [cb], [], { branch: 'main' })],
    });
    expect(receipt.epoch).toBe(1);
    expect(receipt.results.map((w) => [w.docId, w.seq])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    const rec = await getOk<TxRecord>(space, '/tx/1');
    expect(rec.writes.map((w) => w.docId)).toEqual(['a', 'b']);
  });

  it('reads the doc back as JSON with docId, branch, value, seq, epoch, heads and rootRef', async () => {
    const space = 'did:key:z6MkE2eReadBack';
    const r = new Replica(3);
    const c1 = r.change((d) => {
      d.title = 'first';
      d.items = [1, 2, 3];
      d.nested = { deep: { x: true } };
    });
    await commit(space, { writes: [write('doc', [c1])] });
    const c2 = r.change((d) => {
      d.title = 'second';
    });
    const receipt = await commit(space, { writes: [write('doc', [c2], [hashOf(c1)])] });
    const got = await getOk<DocJson>(space, docPath('doc'));
    expect(got).toEqual({
      docId: 'doc',
      branch: 'main',
      seq: 2,
      epoch: receipt.epoch,
      heads: r.heads,
      rootRef: rootRefOf(r.heads),
      value: r.json(),
    });
    expect(got.value).toEqual({ title: 'second', items: [1, 2, 3], nested: { deep: { x: true } } });
    // `?branch=main` is the default branch made explicit.
    expect(await getOk<DocJson>(space, docPath('doc', '?branch=main'))).toEqual(got);
  });

  it('keeps only the paths= subtrees, nested as in the doc, and omits missing paths', async () => {
    const space = 'did:key:z6MkE2ePaths';
    const r = new Replica(4);
    const c = r.change((d) => {
      d.title = 't';
      d.meta = { a: 1, b: { c: 2, d: 3 } };
      d.items = ['x', 'y', 'z'];
      d['x/y'] = 5;
      d.other = 'dropped';
    });
    await commit(space, { writes: [write('p', [c])] });
    const got = await getOk<DocJson>(
      space,
      docPath('p', `?paths=${encodeURIComponent('title,meta/b/c,x~1y,missing,meta/zz')}`),
    );
    expect(got.value).toEqual({ title: 't', meta: { b: { c: 2 } }, 'x/y': 5 });
    expect(got.seq).toBe(1);
    const arr = await getOk<DocJson>(space, docPath('p', '?paths=items/1'));
    expect(Object.keys(arr.value)).toEqual(['items']);
    expect((arr.value.items as unknown[])[1]).toBe('y');
    expect(arr.value.items as unknown[]).not.toContain('x');
    expect(arr.value.items as unknown[]).not.toContain('z');
    const none = await getOk<DocJson>(space, docPath('p', '?paths=nope,title/deeper'));
    expect(none.value).toEqual({});
  });

  it('serves Automerge bytes with X-Cairn-Seq/Epoch/Heads/Root-Ref headers matching the loaded doc', async () => {
    const space = 'did:key:z6MkE2eBinary';
    const r = new Replica(5);
    const c1 = r.change((d) => {
      d.list = [1];
    });
    await commit(space, { writes: [write('bin', [c1])] });
    const c2 = r.change((d) => {
      (d.list as number[]).push(2);
    });
    const receipt = await commit(space, { writes: [write('bin', [c2], [hashOf(c1)])] });
    const res = await fetch(spaceUrl(space, docPath('bin')), {
      headers: { accept: 'application/automerge' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/automerge');
    const bytes = new Uint8Array(await res.arrayBuffer());
    const doc = A.load<Record<string, unknown>>(bytes);
    const heads = [...A.getHeads(doc)].sort();
    expect(heads).toEqual(r.heads);
    expect(res.headers.get('x-cairn-seq')).toBe('2');
    expect(res.headers.get('x-cairn-epoch')).toBe(String(receipt.epoch));
    expect(res.headers.get('x-cairn-heads')?.split(',')).toEqual(heads);
    expect(res.headers.get('x-cairn-root-ref')).toBe(rootRefOf(heads));
    expect(JSON.parse(JSON.stringify(A.toJS(doc)))).toEqual({ list: [1, 2] });

    // An older version in bytes too, and the same bytes every time (deterministic reads).
    const old = await fetch(spaceUrl(space, docPath('bin', '?seq=1')), {
      headers: { accept: 'application/automerge' },
    });
    const oldBytes = new Uint8Array(await old.arrayBuffer());
    expect(old.headers.get('x-cairn-seq')).toBe('1');
    expect([...A.getHeads(A.load(oldBytes))]).toEqual([hashOf(c1)]);
    const again = await fetch(spaceUrl(space, docPath('bin', '?seq=1')), {
      headers: { accept: 'application/automerge' },
    });
    expect(Buffer.compare(Buffer.from(await again.arrayBuffer()), Buffer.from(oldBytes))).toBe(0);
  });

  it('reads versions by seq=, epoch=, at= (ms and ISO-8601) and heads=', async () => {
    const space = 'did:key:z6MkE2eVersions';
    const a = new Replica(6);
    const other = new Replica(7);
    const states: { value: unknown; heads: string[]; receipt: Receipt }[] = [];
    // epoch 1: a@1; epoch 2: other@1; epoch 3: a@2; epoch 4: other@2; epoch 5: a@3
    for (let i = 1; i <= 5; i++) {
      const target = i % 2 === 1 ? a : other;
      const docId = i % 2 === 1 ? 'a' : 'other';
      const base = target.heads;
      const c = target.change((d) => {
        d.step = i;
        d[`k${i}`] = `v${i}`;
      });
      const receipt = await commit(space, { writes: [write(docId, [c], base)] });
      expect(receipt.epoch).toBe(i);
      if (docId === 'a') states.push({ value: a.json(), heads: a.heads, receipt });
      await sleep(5); // distinct committedAt per epoch
    }
    const [s1, s2, s3] = states as [(typeof states)[0], (typeof states)[0], (typeof states)[0]];

    // seq
    for (const [seq, s] of [
      [1, s1],
      [2, s2],
      [3, s3],
    ] as const) {
      const v = await getOk<DocJson>(space, docPath('a', `?seq=${seq}`));
      expect(v).toMatchObject({ seq, epoch: s.receipt.epoch, heads: s.heads, value: s.value });
      expect(v.rootRef).toBe(rootRefOf(s.heads));
    }
    // epoch: the doc's last commit at or before that space epoch
    const byEpoch = async (e: number) => getOk<DocJson>(space, docPath('a', `?epoch=${e}`));
    expect(await byEpoch(1)).toMatchObject({ seq: 1, epoch: 1, value: s1.value });
    expect(await byEpoch(2)).toMatchObject({ seq: 1, epoch: 1, value: s1.value });
    expect(await byEpoch(3)).toMatchObject({ seq: 2, epoch: 3, value: s2.value });
    expect(await byEpoch(4)).toMatchObject({ seq: 2, epoch: 3, value: s2.value });
    expect(await byEpoch(5)).toMatchObject({ seq: 3, epoch: 5, value: s3.value });

    // at= epoch milliseconds
    const at = async (t: string) =>
      getOk<DocJson>(space, docPath('a', `?at=${encodeURIComponent(t)}`));
    expect(await at(String(s1.receipt.committedAt))).toMatchObject({ seq: 1, value: s1.value });
    expect(await at(String(s2.receipt.committedAt - 1))).toMatchObject({ seq: 1 });
    expect(await at(String(s2.receipt.committedAt))).toMatchObject({ seq: 2, value: s2.value });
    expect(await at(String(Date.now() + 60_000))).toMatchObject({ seq: 3, value: s3.value });
    // at= ISO-8601, in UTC and with an offset
    const iso = new Date(s2.receipt.committedAt).toISOString();
    expect(await at(iso)).toMatchObject({ seq: 2, epoch: 3 });
    const shifted = new Date(s2.receipt.committedAt + 2 * 3600_000)
      .toISOString()
      .replace('Z', '+02:00');
    expect(await at(shifted)).toMatchObject({ seq: 2, epoch: 3 });

    // heads= the exact heads of a past version
    const h = await getOk<DocJson>(space, docPath('a', `?heads=${s2.heads.join(',')}`));
    expect(h).toMatchObject({ heads: s2.heads, value: s2.value, rootRef: rootRefOf(s2.heads) });
  });

  it('reads heads= of one side of concurrent edits (a non-prefix version)', async () => {
    const space = 'did:key:z6MkE2eConcurrent';
    const base = new Replica(8);
    const c0 = base.change((d) => {
      d.shared = 0;
    });
    await commit(space, { writes: [write('c', [c0])] });
    const left = new Replica(9, base.doc);
    const right = new Replica(10, base.doc);
    const cl = left.change((d) => {
      d.left = 'L';
    });
    const cr = right.change((d) => {
      d.right = 'R';
    });
    await commit(space, { writes: [write('c', [cl], [hashOf(c0)])] });
    const receipt = await commit(space, { writes: [write('c', [cr], [hashOf(cl)])] });
    const both = [hashOf(cl), hashOf(cr)].sort();
    expect(receipt.results[0]?.newHeads).toEqual(both);

    const current = await getOk<DocJson>(space, docPath('c'));
    expect(current.heads).toEqual(both);
    expect(current.value).toEqual({ shared: 0, left: 'L', right: 'R' });

    const onlyRight = await getOk<DocJson>(space, docPath('c', `?heads=${hashOf(cr)}`));
    expect(onlyRight.heads).toEqual([hashOf(cr)]);
    expect(onlyRight.value).toEqual({ shared: 0, right: 'R' });
    expect(onlyRight.rootRef).toBe(rootRefOf([hashOf(cr)]));

    const bothSel = await getOk<DocJson>(space, docPath('c', `?heads=${both.join(',')}`));
    expect(bothSel.value).toEqual(current.value);
  });

  it('answers the heads route with heads, seq, epoch, rootRef and closed', async () => {
    const space = 'did:key:z6MkE2eHeadsRoute';
    const r = new Replica(11);
    const c1 = r.change((d) => {
      d.x = 1;
    });
    const c2 = r.change((d) => {
      d.x = 2;
    });
    const receipt = await commit(space, { writes: [write('h', [c1, c2])] });
    // another doc commits afterwards: the branch's epoch stays that of its last commit
    const o = new Replica(12);
    await commit(space, {
      writes: [
        write('other', [
          o.change((d) => {
            d.y = 1;
          }),
        ]),
      ],
    });
    const heads = await getOk<Record<string, unknown>>(space, docPath('h', '/heads'));
    expect(heads).toEqual({
      heads: [hashOf(c2)],
      seq: 2,
      epoch: receipt.epoch,
      rootRef: rootRefOf([hashOf(c2)]),
      closed: false,
    });
  });

  it('pages the changes route with limit and nextCursor until exhausted, and the items rebuild the doc', async () => {
    const space = 'did:key:z6MkE2eChanges';
    const r = new Replica(13);
    const hashes: string[] = [];
    const receipts: Receipt[] = [];
    // 23 changes in 6 transactions of varying size
    for (const size of [1, 5, 3, 7, 2, 5]) {
      const base = r.heads;
      const changes: Uint8Array[] = [];
      for (let i = 0; i < size; i++) {
        changes.push(
          r.change((d) => {
            d[`k${hashes.length}`] = hashes.length;
          }),
        );
        hashes.push(hashOf(changes[changes.length - 1] as Uint8Array));
      }
      receipts.push(await commit(space, { writes: [write('log', changes, base)] }));
    }
    expect(hashes).toHaveLength(23);

    const { items, pages } = await allChanges(space, 'log', 4);
    expect(pages).toBe(6);
    expect(items.map((i) => i.seq)).toEqual(hashes.map((_, i) => i + 1));
    expect(items.map((i) => i.hash)).toEqual(hashes);
    // epoch / committedAt of each item are those of the receipt that appended it
    let seq = 0;
    for (const rc of receipts) {
      const w = rc.results[0] as Receipt['results'][0];
      for (; seq < w.seq; seq++) {
        expect(items[seq]).toMatchObject({ epoch: rc.epoch, committedAt: rc.committedAt });
      }
    }
    for (const item of items) {
      const decoded = A.decodeChange(Buffer.from(item.bytes, 'base64'));
      expect(decoded.hash).toBe(item.hash);
      expect(item.actor).toBe(decoded.actor);
      expect(item.actorSeq).toBe(decoded.seq);
      expect([...item.deps].sort()).toEqual([...decoded.deps].sort());
    }
    const rebuilt = A.applyChanges(
      A.init<Record<string, unknown>>(),
      items.map((i) => new Uint8Array(Buffer.from(i.bytes, 'base64'))),
    )[0];
    expect([...A.getHeads(rebuilt)].sort()).toEqual(r.heads);
    expect(JSON.parse(JSON.stringify(A.toJS(rebuilt)))).toEqual(r.json());

    // one page holds everything when the limit allows
    const single = await getOk<{ items: ChangeItem[]; nextCursor?: string }>(
      space,
      docPath('log', '/changes'),
    );
    expect(single.items).toHaveLength(23);
    expect(single.nextCursor).toBeUndefined();

    // fromSeq/toSeq are inclusive, and paging stays inside them
    const ranged = await allChanges(space, 'log', 3, '&fromSeq=5&toSeq=12');
    expect(ranged.items.map((i) => i.seq)).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    expect(ranged.pages).toBe(3);
  });

  it('serves tx records that verify offline: bodyHash, txHash chain from 32 zero bytes, Ed25519 serverSig', async () => {
    const space = 'did:key:z6MkE2eTxChain';
    const r = new Replica(14);
    const s = new Replica(15);
    const receipts: Receipt[] = [];
    for (let i = 0; i < 4; i++) {
      const writes = [
        write(
          'one',
          [
            r.change((d) => {
              d.i = i;
            }),
          ],
          i === 0 ? [] : receipts[i - 1]?.results[0]?.newHeads,
        ),
      ];
      if (i % 2 === 1) {
        const base = s.heads;
        writes.push(
          write(
            'two/with slash',
            [
              s.change((d) => {
                d.i = i;
              }),
            ],
            base,
          ),
        );
      }
      receipts.push(await commit(space, { writes }));
    }
    let prev: TxRecord | undefined;
    for (let epoch = 1; epoch <= 4; epoch++) {
      const rec = await getOk<TxRecord>(space, `/tx/${epoch}`);
      const receipt = receipts[epoch - 1] as Receipt;
      expect(rec.epoch).toBe(epoch);
      expect(rec.committedAt).toBe(receipt.committedAt);
      expect(rec.txHash).toBe(receipt.txHash);
      expect(rec.serverDid).toBe(server.serverDid);
      expect(
        automergeWrites(rec.writes).map((w) => [w.docId, w.branch, w.seqTo, w.newHeads]),
      ).toEqual(receipt.results.map((w) => [w.docId, w.branch, w.seq, w.newHeads]));
      verifyTxRecord(space, rec, prev);
      // changesHash (when present) commits to the appended change hashes in seq order
      for (const w of automergeWrites(rec.writes)) {
        if (w.changesHash === undefined) continue;
        const { items } = await allChanges(
          space,
          w.docId,
          100,
          `&fromSeq=${w.seqFrom}&toSeq=${w.seqTo}`,
        );
        expect(hex(sha256(...items.map((i) => Buffer.from(i.hash, 'hex'))))).toBe(w.changesHash);
      }
      prev = rec;
    }
  });

  it('handles doc ids with "/", spaces, unicode, "?", "#" and "%" through URL encoding', async () => {
    const space = 'did:key:z6MkE2eDocIds';
    const ids = [
      'a/b/c',
      'with space',
      'ünï/cødé 文書',
      'q?x=1&y',
      'hash#frag',
      '100%',
      '...',
      'é'.repeat(128),
    ];
    for (const [i, id] of ids.entries()) {
      const r = new Replica(20 + i);
      const c = r.change((d) => {
        d.id = id;
      });
      const receipt = await commit(space, { writes: [write(id, [c])] });
      expect(receipt.results[0]?.docId).toBe(id);
      const got = await getOk<DocJson>(space, docPath(id));
      expect(got.docId).toBe(id);
      expect(got.value).toEqual({ id });
      const heads = await getOk<{ heads: string[] }>(space, docPath(id, '/heads'));
      expect(heads.heads).toEqual([hashOf(c)]);
      const changes = await getOk<{ items: ChangeItem[] }>(space, docPath(id, '/changes'));
      expect(changes.items.map((x) => x.hash)).toEqual([hashOf(c)]);
    }
    // "a/b/c" and "a" are different docs: the slash is part of the id, not a sub-route
    const a = await request(spaceUrl(space, docPath('a')));
    expect(a.status).toBe(404);
    // the space DID may be percent-encoded too
    const encoded = await getOk<DocJson>(encodeURIComponent(space), docPath('a/b/c'));
    expect(encoded.value).toEqual({ id: 'a/b/c' });
  });

  // Dot segments are removed from URLs by every WHATWG URL parser, %2E%2E included (fetch on the
  // client, `new URL(req.url)` in @hono/node-server on the server), so a doc named "." or ".."
  // can never be addressed by a read route. The server must not accept a doc it cannot serve.
  it('refuses doc ids "." and ".." at write time (400 ValidationError) or else serves them back', async () => {
    const space = 'did:key:z6MkE2eDotIds';
    for (const [i, id] of ['.', '..'].entries()) {
      const r = new Replica(50 + i);
      const c = r.change((d) => {
        d.id = id;
      });
      const { status, json } = await postTx(space, { writes: [write(id, [c])] });
      if (status === 400) {
        expect((json as { error: { code: string } }).error.code).toBe('ValidationError');
        continue;
      }
      expect(status).toBe(200);
      // written: then it must be readable, through the raw (unnormalized) path at least
      const raw = await rawRequest(server.port, 'GET', `/v1/${space}/docs/${id}`);
      bodies.push(raw.body);
      expect(raw.status, `doc "${id}" was written but GET answers ${raw.body}`).toBe(200);
      expect((JSON.parse(raw.body) as DocJson).value).toEqual({ id });
    }
  });

  it('returns the stored receipt again for a repeated clientTxId and commits nothing new', async () => {
    const space = 'did:key:z6MkE2eIdempotent';
    const r = new Replica(40);
    const c = r.change((d) => {
      d.v = 1;
    });
    const body = { clientTxId: 'tx-1', writes: [write('i', [c])] };
    const first = await commit(space, body);
    const second = await commit(space, body);
    expect(second).toEqual(first);
    // even with a different body, the key decides
    const c2 = r.change((d) => {
      d.v = 2;
    });
    const third = await commit(space, { clientTxId: 'tx-1', writes: [write('i', [c2], r.heads)] });
    expect(third).toEqual(first);
    expect((await request(spaceUrl(space, '/tx/2'))).status).toBe(404);
    expect((await getOk<DocJson>(space, docPath('i'))).seq).toBe(1);
  });

  it('treats a replay of stored changes as a no-op success (applied 0) at the current epoch, whatever its baseHeads', async () => {
    const space = 'did:key:z6MkE2eReplay';
    const r = new Replica(41);
    const c1 = r.change((d) => {
      d.v = 1;
    });
    const c2 = r.change((d) => {
      d.v = 2;
    });
    const receipt = await commit(space, { writes: [write('dup', [c1, c2])] });
    const replay = await commit(space, { writes: [write('dup', [c1, c2], [])] });
    expect(replay.epoch).toBe(receipt.epoch);
    expect(replay.txHash).toBe(receipt.txHash);
    expect(replay.results[0]).toMatchObject({
      seq: 2,
      applied: 0,
      duplicates: 2,
      newHeads: r.heads,
    });
    expect((await request(spaceUrl(space, `/tx/${receipt.epoch + 1}`))).status).toBe(404);

    // a write mixing a stored change and a new one appends only the new one
    const c3 = r.change((d) => {
      d.v = 3;
    });
    const mixed = await commit(space, { writes: [write('dup', [c2, c3], [hashOf(c2)])] });
    expect(mixed.epoch).toBe(receipt.epoch + 1);
    expect(mixed.results[0]).toMatchObject({ seq: 3, applied: 1, duplicates: 1 });
  });

  it('gives a conflicting writer 409 StaleBaseHeads with currentHeads, and the retry on those heads commits', async () => {
    const space = 'did:key:z6MkE2eRetry';
    const a = new Replica(42);
    const c0 = a.change((d) => {
      d.list = [];
    });
    await commit(space, { writes: [write('s', [c0])] });
    const b = new Replica(43, a.doc);
    const ca = a.change((d) => {
      d.a = 1;
    });
    const cb = b.change((d) => {
      d.b = 1;
    });
    await commit(space, { writes: [write('s', [ca], [hashOf(c0)])] });
    const stale = await postTx(space, { writes: [write('s', [cb], [hashOf(c0)])] });
    expect(stale.status).toBe(409);
    const err = (stale.json as { error: { code: string; currentHeads: string[] } }).error;
    expect(err.code).toBe('StaleBaseHeads');
    expect(err.currentHeads).toEqual([hashOf(ca)]);
    const retry = await commit(space, { writes: [write('s', [cb], err.currentHeads)] });
    expect(retry.results[0]?.newHeads).toEqual([hashOf(ca), hashOf(cb)].sort());
    const got = await getOk<DocJson>(space, docPath('s'));
    expect(got.value).toEqual({ list: [], a: 1, b: 1 });
  });

  it('accepts changes as padded or unpadded base64', async () => {
    const space = 'did:key:z6MkE2eBase64';
    const r = new Replica(44);
    const c = r.change((d) => {
      d.pad = 'x';
    });
    const text = b64(c).replace(/=+$/, '');
    const receipt = await commit(space, {
      writes: [{ docId: 'b64', baseHeads: [], changes: [text] }],
    });
    expect(receipt.results[0]?.newHeads).toEqual([hashOf(c)]);
  });

  it('never put a stack trace in any body it answered', () => {
    expect(bodies.length).toBeGreaterThan(20);
    for (const body of bodies) expect(looksLikeStackTrace(body), body).toBe(false);
  });
});

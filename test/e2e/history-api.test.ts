import * as A from '@automerge/automerge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, Replica, write, type Doc } from '../helpers/changes.js';
import {
  looksLikeStackTrace,
  startServer,
  stopAllServers,
  type ServerProcess,
} from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * SPEC §3-§5 end to end: branches, server merge, history, doc listing,
 * snapshots and import against a real `cairn serve` process started with
 * ENABLE_SERVER_MERGE=1, over HTTP only; bad input on those routes gets
 * typed errors.
 */

const SPACE = 'did:key:z6MkE2eHistoryApi';

interface Reply {
  status: number;
  json: unknown;
  bytes: Uint8Array;
  headers: Headers;
}

interface ErrorBody {
  ok: false;
  error: { code: string; message: string };
}

interface BranchView {
  name: string;
  parent: string | null;
  forkSeq: number | null;
  forkHeads: string[] | null;
  heads: string[];
  seq: number;
  closed: boolean;
  mergedInto: string | null;
  createdAt: number;
}

interface WriteResult {
  branch: string;
  seq: number;
  newHeads: string[];
  applied: number;
  duplicates: number;
}

interface Receipt {
  ok: true;
  epoch: number;
  results: WriteResult[];
}

interface HistoryItem {
  seq: number;
  epoch: number;
  hash: string;
  deps: string[];
}

let server: ServerProcess;
let cleanupDir: () => void;
/** Every text body the server answered, checked for stack traces at the end. */
const bodies: string[] = [];

beforeAll(async () => {
  const { dir, cleanup } = makeTempDir('cairn-e2e-history-');
  cleanupDir = cleanup;
  server = await startServer({ dataDir: `${dir}/data`, env: { ENABLE_SERVER_MERGE: '1' } });
});

afterAll(async () => {
  await stopAllServers();
  cleanupDir?.();
});

async function call(method: string, path: string, body?: unknown): Promise<Reply> {
  const init: RequestInit = { method };
  if (body instanceof Uint8Array) {
    init.body = body as NonNullable<RequestInit['body']>;
    init.headers = { 'content-type': 'application/octet-stream' };
  } else if (typeof body === 'string') {
    init.body = body;
    init.headers = { 'content-type': 'application/json' };
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(`${server.url}/v1/${SPACE}${path}`, init);
  const bytes = new Uint8Array(await res.arrayBuffer());
  let json: unknown;
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    const text = Buffer.from(bytes).toString('utf8');
    bodies.push(text);
    json = JSON.parse(text);
  }
  return { status: res.status, json, bytes, headers: res.headers };
}

function ok<T>(reply: Reply, status = 200): T {
  expect(reply.status, JSON.stringify(reply.json)).toBe(status);
  return reply.json as T;
}

function expectError(reply: Reply, status: number, code: string): void {
  expect(reply.status, JSON.stringify(reply.json)).toBe(status);
  const body = reply.json as ErrorBody;
  expect(body.ok).toBe(false);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
}

function docOf(changes: Uint8Array[]): Doc {
  return A.applyChanges(A.init<Record<string, unknown>>(), changes)[0];
}

const jsonOf = (doc: Doc) => JSON.parse(JSON.stringify(A.toJS(doc))) as unknown;
const headsOf = (doc: Doc) => [...A.getHeads(doc)].sort();

/** Seeded: main = c1 | c2 (actor 1); feature forked at seq 1 with f1 (actor 3). */
const seed = {} as { r1: Replica; r3: Replica; c1: Uint8Array; c2: Uint8Array; f1: Uint8Array };

describe('e2e: history API of a cairn serve process', () => {
  it('creates a branch, writes to it, lists, server-merges, closes', async () => {
    const r1 = new Replica(1);
    const c1 = r1.change((d) => {
      d.title = 'base';
      d.shared = 0;
    });
    const c2 = r1.change((d) => void (d.shared = 1));
    ok(await call('POST', '/tx', { writes: [write('doc', [c1], [])] }));
    ok(await call('POST', '/tx', { writes: [write('doc', [c2], [hashOf(c1)])] }));

    const created = ok<BranchView>(
      await call('POST', '/docs/doc/branches', {
        name: 'feature',
        from: { branch: 'main', seq: 1 },
      }),
      201,
    );
    expect(created).toEqual({
      name: 'feature',
      parent: 'main',
      forkSeq: 1,
      forkHeads: [hashOf(c1)],
      heads: [hashOf(c1)],
      seq: 1,
      closed: false,
      mergedInto: null,
      createdAt: expect.any(Number),
    });
    const r3 = new Replica(3, docOf([c1]));
    const f1 = r3.change((d) => {
      d.shared = 3;
      d.feature = true;
    });
    const wrote = ok<Receipt>(
      await call('POST', '/tx', {
        writes: [write('doc', [f1], [hashOf(c1)], { branch: 'feature' })],
      }),
    );
    expect(wrote.results[0]).toMatchObject({ branch: 'feature', seq: 2, newHeads: [hashOf(f1)] });
    Object.assign(seed, { r1, r3, c1, c2, f1 });

    // Reads below the fork point equal the parent's; above it, the branch's own.
    const parentAt1 = ok<{ value: unknown; heads: string[] }>(await call('GET', '/docs/doc?seq=1'));
    const branchAt1 = ok<{ value: unknown; heads: string[] }>(
      await call('GET', '/docs/doc?branch=feature&seq=1'),
    );
    expect(branchAt1.value).toEqual(parentAt1.value);
    expect(branchAt1.heads).toEqual(parentAt1.heads);
    const branchNow = ok<{ value: unknown }>(await call('GET', '/docs/doc?branch=feature'));
    expect(branchNow.value).toEqual(r3.json());

    const listed = ok<{ items: BranchView[] }>(await call('GET', '/docs/doc/branches'));
    expect(listed.items.map((b) => [b.name, b.parent, b.forkSeq, b.seq, b.closed])).toEqual([
      ['feature', 'main', 1, 2, false],
      ['main', null, null, 2, false],
    ]);

    const expected = A.merge(A.clone(r1.doc), r3.doc);
    const merged = ok<Receipt & { conflicts: { path: string[]; values: unknown[] }[] }>(
      await call('POST', '/docs/doc/branches/feature/merge', { into: 'main' }),
    );
    expect(merged.results[0]).toMatchObject({
      branch: 'main',
      seq: 3,
      applied: 1,
      newHeads: headsOf(expected),
    });
    const winner = (expected as { shared: number }).shared;
    expect(merged.conflicts).toEqual([
      { path: ['shared'], values: [winner, winner === 1 ? 3 : 1] },
    ]);
    const main = ok<{ value: unknown; heads: string[] }>(await call('GET', '/docs/doc'));
    expect(main.value).toEqual(jsonOf(expected));
    expect(main.heads).toEqual(headsOf(expected));

    const closed = ok<BranchView>(
      await call('POST', '/docs/doc/branches/feature/close', { mergedInto: 'main' }),
    );
    expect(closed).toMatchObject({ name: 'feature', closed: true, mergedInto: 'main' });
    const late = r3.change((d) => void (d.late = 1));
    expectError(
      await call('POST', '/tx', {
        writes: [write('doc', [late], [hashOf(f1)], { branch: 'feature' })],
      }),
      409,
      'BranchClosed',
    );
    // Reads of a closed branch keep working (without the refused change).
    expect(ok<{ value: unknown }>(await call('GET', '/docs/doc?branch=feature')).value).toEqual(
      jsonOf(docOf([c1, f1])),
    );
  });

  it('serves the history feed and the doc listing, with cursor paging', async () => {
    const full = ok<{ items: HistoryItem[]; nextCursor?: string }>(
      await call('GET', '/docs/doc/history'),
    );
    expect(full.nextCursor).toBeUndefined();
    // One item per change, newest first (the merge appended f1 as seq 3).
    expect(full.items.map((i) => [i.seq, i.hash])).toEqual([
      [3, hashOf(seed.f1)],
      [2, hashOf(seed.c2)],
      [1, hashOf(seed.c1)],
    ]);
    const epochs = full.items.map((i) => i.epoch);
    expect([...epochs].sort((a, b) => b - a)).toEqual(epochs);
    const paged: HistoryItem[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const q = `?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const body = ok<{ items: HistoryItem[]; nextCursor?: string }>(
        await call('GET', `/docs/doc/history${q}`),
      );
      paged.push(...body.items);
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    expect(cursor).toBeUndefined();
    expect(paged).toEqual(full.items);
    // The feature branch: its own change, then main's changes up to the fork point.
    const feature = ok<{ items: HistoryItem[] }>(
      await call('GET', '/docs/doc/history?branch=feature'),
    );
    expect(feature.items.map((i) => [i.seq, i.hash, i.deps])).toEqual([
      [2, hashOf(seed.f1), [hashOf(seed.c1)]],
      [1, hashOf(seed.c1), []],
    ]);

    for (const id of ['list/a', 'list/b', 'list/c']) {
      ok(
        await call('POST', '/tx', {
          writes: [write(id, [new Replica(7).change((d) => void (d.id = id))])],
        }),
      );
    }
    const docs = ok<{ items: { docId: string; branches: string[]; lastEpoch: number }[] }>(
      await call('GET', '/docs'),
    );
    expect(docs.items.map((d) => d.docId)).toEqual(['doc', 'list/a', 'list/b', 'list/c']);
    expect(docs.items[0]).toMatchObject({ branches: ['feature', 'main'] });
    expect(docs.items[0]?.lastEpoch).toBe(Math.max(...epochs));
    const ids: string[] = [];
    let next: string | undefined;
    for (let page = 0; page < 10; page++) {
      const q: string = `?prefix=list%2F&limit=2${next ? `&cursor=${encodeURIComponent(next)}` : ''}`;
      const body: { items: { docId: string }[]; nextCursor?: string } = ok(
        await call('GET', `/docs${q}`),
      );
      ids.push(...body.items.map((i) => i.docId));
      next = body.nextCursor;
      if (!next) break;
    }
    expect(next).toBeUndefined();
    expect(ids).toEqual(['list/a', 'list/b', 'list/c']);
  });

  it('makes a snapshot on request and serves its Automerge bytes', async () => {
    const made = ok<{
      snapshotId: string;
      seq: number;
      heads: string[];
      rootRef: string;
      bytes: number;
    }>(await call('POST', '/docs/doc/snapshots', { branch: 'main', seq: 2 }), 201);
    expect(made).toMatchObject({ seq: 2, heads: [hashOf(seed.c2)], bytes: expect.any(Number) });
    expect(made.rootRef).toMatch(/^[0-9a-f]{64}$/);
    const got = await call('GET', `/snapshots/${made.snapshotId}`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toContain('application/automerge');
    expect(got.bytes.byteLength).toBe(made.bytes);
    const loaded = A.load<Record<string, unknown>>(got.bytes);
    expect(headsOf(loaded)).toEqual(made.heads);
    expect(jsonOf(loaded)).toEqual(jsonOf(docOf([seed.c1, seed.c2])));
  });

  it('imports an Automerge file once; the same file again applies nothing', async () => {
    const r = new Replica(5);
    r.change((d) => void (d.a = 1));
    r.change((d) => void (d.b = 2));
    const first = ok<Receipt>(await call('POST', '/docs/imported/import', A.save(r.doc)));
    expect(first.results[0]).toMatchObject({ applied: 2, duplicates: 0, seq: 2 });
    const again = ok<Receipt>(await call('POST', '/docs/imported/import', A.save(r.doc)));
    expect(again.results[0]).toMatchObject({ applied: 0, duplicates: 2, seq: 2 });
    expect(again.epoch).toBe(first.epoch);
    expect(ok<{ value: unknown }>(await call('GET', '/docs/imported')).value).toEqual(r.json());
    expectError(
      await call('POST', '/docs/imported/import', new Uint8Array([9, 9, 9, 9])),
      422,
      'InvalidChange',
    );
  });

  it('answers bad input on these routes with typed errors and changes nothing', async () => {
    const before = ok<{ epoch: number; heads: string[] }>(await call('GET', '/docs/doc/heads'));
    const branchesBefore = ok<{ items: unknown[] }>(await call('GET', '/docs/doc/branches'));
    const cases: [string, string, unknown, number, string][] = [
      // Bad branch names.
      ['POST', '/docs/doc/branches', { name: 'bad name' }, 400, 'ValidationError'],
      ['POST', '/docs/doc/branches', { name: '' }, 400, 'ValidationError'],
      ['POST', '/docs/doc/branches', { name: 'x'.repeat(129) }, 400, 'ValidationError'],
      ['POST', '/docs/doc/branches/bad%20name/close', {}, 400, 'ValidationError'],
      ['POST', '/docs/doc/branches/bad%20name/merge', { into: 'main' }, 400, 'ValidationError'],
      ['POST', '/docs/doc/branches/feature/merge', { into: 'bad name' }, 400, 'ValidationError'],
      ['GET', '/docs/doc/history?branch=bad%20name', undefined, 400, 'ValidationError'],
      ['POST', '/docs/doc/snapshots', { branch: 'bad name' }, 400, 'ValidationError'],
      // Bad `from`.
      ['POST', '/docs/doc/branches', { name: 'x', from: { seq: -1 } }, 400, 'ValidationError'],
      [
        'POST',
        '/docs/doc/branches',
        { name: 'x', from: { seq: 1, at: 1 } },
        400,
        'ValidationError',
      ],
      [
        'POST',
        '/docs/doc/branches',
        { name: 'x', from: { heads: ['zz'] } },
        400,
        'ValidationError',
      ],
      ['POST', '/docs/doc/branches', { name: 'x', from: { seq: 99 } }, 404, 'VersionNotFound'],
      [
        'POST',
        '/docs/doc/branches',
        { name: 'x', from: { branch: 'nope' } },
        404,
        'BranchNotFound',
      ],
      ['POST', '/docs/nodoc/branches', { name: 'x' }, 404, 'DocNotFound'],
      ['POST', '/docs/doc/branches', { name: 'feature' }, 409, 'BranchExists'],
      // Unknown things.
      ['GET', '/snapshots/987654', undefined, 404, 'SnapshotNotFound'],
      ['GET', '/snapshots/not-a-number', undefined, 404, 'SnapshotNotFound'],
      ['POST', '/docs/doc/branches/nope/close', {}, 404, 'BranchNotFound'],
      ['POST', '/docs/doc/branches/nope/merge', { into: 'main' }, 404, 'BranchNotFound'],
      ['POST', '/docs/doc/snapshots', { seq: 99 }, 404, 'VersionNotFound'],
      ['GET', '/docs/doc/history?branch=nope', undefined, 404, 'BranchNotFound'],
      ['GET', '/docs/doc/history?cursor=%21', undefined, 400, 'ValidationError'],
      ['GET', '/docs?limit=0', undefined, 400, 'ValidationError'],
      // Malformed JSON.
      ['POST', '/docs/doc/branches', '{"name": "x"', 400, 'ValidationError'],
      ['POST', '/docs/doc/branches/feature/merge', 'nope', 400, 'ValidationError'],
      ['POST', '/docs/doc/branches/feature/close', '[1,', 400, 'ValidationError'],
      ['POST', '/docs/doc/snapshots', '{', 400, 'ValidationError'],
      ['POST', '/docs/doc/import', new Uint8Array(0), 400, 'ValidationError'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const reply = await call(method, path, body);
      expect(`${method} ${path} → ${reply.status}`).toBe(`${method} ${path} → ${status}`);
      expectError(reply, status, code);
    }
    expect(ok<{ epoch: number; heads: string[] }>(await call('GET', '/docs/doc/heads'))).toEqual(
      before,
    );
    expect(ok<{ items: unknown[] }>(await call('GET', '/docs/doc/branches'))).toEqual(
      branchesBefore,
    );
    expect(server.alive).toBe(true);
    for (const body of bodies) expect(looksLikeStackTrace(body), body).toBe(false);
  });

  it('refuses a fork deeper than 63 with 413 LimitExceeded when it is created; the deepest reads', async () => {
    const r = new Replica(11);
    ok(
      await call('POST', '/tx', { writes: [write('deep', [r.change((d) => void (d.n = 0))], [])] }),
    );
    let parent = 'main';
    for (let depth = 1; depth <= 63; depth++) {
      const name = `d${depth}`;
      ok(await call('POST', '/docs/deep/branches', { name, from: { branch: parent } }), 201);
      parent = name;
    }
    const listed = ok<{ items: BranchView[] }>(await call('GET', '/docs/deep/branches'));
    expect(listed.items).toHaveLength(64);
    const refused = await call('POST', '/docs/deep/branches', {
      name: 'd64',
      from: { branch: parent },
    });
    expectError(refused, 413, 'LimitExceeded');
    expect((refused.json as ErrorBody & { error: { limit?: string } }).error.limit).toBe(
      'maxForkDepth',
    );
    expect(
      ok<{ items: BranchView[] }>(await call('GET', '/docs/deep/branches')).items,
    ).toHaveLength(64);
    // The deepest branch works: a write, then reads of it and its history.
    const c = r.change((d) => void (d.n = 63));
    const head = ok<{ heads: string[] }>(
      await call('GET', `/docs/deep/heads?branch=${parent}`),
    ).heads;
    ok(await call('POST', '/tx', { writes: [write('deep', [c], head, { branch: parent })] }));
    expect(ok<{ value: unknown }>(await call('GET', `/docs/deep?branch=${parent}`)).value).toEqual({
      n: 63,
    });
    const history = ok<{ items: unknown[] }>(
      await call('GET', `/docs/deep/history?branch=${parent}`),
    );
    expect(history.items).toHaveLength(2);
  });
});

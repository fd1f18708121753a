import { createHash } from 'node:crypto';
import * as A from '@automerge/automerge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DocCache } from '../../src/storage/doc-cache.js';
import { DocReader } from '../../src/storage/doc-reader.js';
import { hashOf, Replica, write, type Doc } from '../helpers/changes.js';
import { OTHER_SPACE, SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * SPEC §3-§5 over HTTP, in-process, on the backend under test: branches
 * forked from any point (sharing the parent's history), their reads and
 * writes, listing and closing, client and server merges, import of
 * Automerge files, the history feed, the doc listing and snapshots.
 */

/** Commit times are T0 + k seconds (the engine's clock ticks once per call). */
const T0 = Date.UTC(2025, 0, 1);

interface Reply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

interface ErrorBody {
  ok: false;
  error: { code: string; message: string; [k: string]: unknown };
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

interface DocJson {
  docId: string;
  branch: string;
  seq: number;
  epoch: number;
  heads: string[];
  rootRef: string;
  value: Record<string, unknown>;
}

interface WriteResult {
  docId: string;
  branch: string;
  status: string;
  seq: number;
  newHeads: string[];
  rootRef: string;
  applied: number;
  duplicates: number;
}

interface Receipt {
  ok: true;
  epoch: number;
  committedAt: number;
  txHash: string;
  results: WriteResult[];
}

interface MergeReply extends Receipt {
  conflicts: { path: (string | number)[]; values: unknown[] }[];
}

interface HistoryItem {
  epoch: number;
  committedAt: number;
  seqFrom: number;
  seqTo: number;
  changes: number;
  heads: string[];
}

interface Page<T> {
  items: T[];
  nextCursor?: string;
}

interface SnapshotReply {
  snapshotId: string;
  seq: number;
  heads: string[];
  rootRef: string;
  bytes: number;
}

interface Committed extends WriteResult {
  epoch: number;
  committedAt: number;
}

let engine: TestEngine;
let tick = 0;

async function start(options: Parameters<typeof startEngine>[0] = {}): Promise<TestEngine> {
  return startEngine({
    enableServerMerge: true,
    clock: () => T0 + ++tick * 1000,
    ...options,
  });
}

beforeEach(async () => {
  tick = 0;
  engine = await start();
});
afterEach(async () => {
  await engine.close();
});

// ---------------------------------------------------------------------------
// Helpers

async function http<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  options: { space?: string; accept?: string; on?: TestEngine } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  let payload: string | Uint8Array | undefined;
  if (body instanceof Uint8Array) {
    payload = body;
    headers['content-type'] = 'application/octet-stream';
  } else if (typeof body === 'string') {
    payload = body;
    headers['content-type'] = 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  if (options.accept) headers.accept = options.accept;
  const res = await (options.on ?? engine).cairn.fetch(
    new Request(`http://x/v1/${options.space ?? SPACE}${path}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload as NonNullable<RequestInit['body']> } : {}),
    }),
  );
  const type = res.headers.get('content-type') ?? '';
  const parsed = type.includes('json')
    ? ((await res.json()) as T)
    : (new Uint8Array(await res.arrayBuffer()) as T);
  return { status: res.status, body: parsed, headers: res.headers };
}

const get = <T = unknown>(path: string, options?: Parameters<typeof http>[3]) =>
  http<T>('GET', path, undefined, options);
const post = <T = unknown>(path: string, body?: unknown, options?: Parameters<typeof http>[3]) =>
  http<T>('POST', path, body, options);

function expectError(reply: Reply, status: number, code: string): ErrorBody['error'] {
  const body = reply.body as ErrorBody;
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(body.ok).toBe(false);
  expect(body.error.code, JSON.stringify(reply.body)).toBe(code);
  return body.error;
}

function expectStatus<T>(reply: Reply<T>, status: number): T {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  return reply.body;
}

/** One write of one branch; returns its result with the commit's epoch and time. */
async function commit(
  docId: string,
  branch: string,
  changes: Uint8Array[],
  baseHeads: string[],
): Promise<Committed> {
  const receipt = await engine.ok({ writes: [write(docId, changes, baseHeads, { branch })] });
  const result = receipt.results[0] as WriteResult;
  return { ...result, epoch: receipt.epoch, committedAt: receipt.committedAt };
}

/** The doc made of these changes (causal order), built locally. */
function docOf(changes: readonly Uint8Array[]): Doc {
  return A.applyChanges(A.init<Record<string, unknown>>(), [...changes])[0];
}

function jsonOf(doc: Doc): unknown {
  return JSON.parse(JSON.stringify(A.toJS(doc)));
}

function headsOf(doc: Doc): string[] {
  return [...A.getHeads(doc)].sort();
}

function rootRefOf(heads: string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([...heads].sort()))
    .digest('hex');
}

const sorted = (hashes: string[]) => [...hashes].sort();

async function tipEpoch(space = SPACE): Promise<number> {
  const lease = await engine.cairn.backend.acquireSpace(space, { create: false });
  if (!lease) return 0;
  try {
    return (await lease.store.reader.chainTip()).epoch;
  } finally {
    lease.release();
  }
}

async function branches(docId = 'doc'): Promise<BranchView[]> {
  return expectStatus(await get<{ items: BranchView[] }>(`/docs/${docId}/branches`), 200).items;
}

async function readDoc(docId: string, query: string): Promise<DocJson> {
  return expectStatus(await get<DocJson>(`/docs/${docId}?${query}`), 200);
}

/** Every page of a paged route, following nextCursor (bounded). */
async function allPages<T>(path: string, limit: number): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let pages = 1; pages <= 100; pages++) {
    const sep = path.includes('?') ? '&' : '?';
    const query = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = expectStatus(await get<Page<T>>(`${path}${sep}${query}`), 200);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    if (page.nextCursor === undefined) return { items, pages };
    expect(page.items.length, 'a page with a cursor is full').toBe(limit);
    cursor = page.nextCursor;
  }
  throw new Error(`${path}: more than 100 pages`);
}

/**
 * The main branch of "doc": seq 1 = c1 | seqs 2-3 = c2, c3 (one commit) |
 * seq 4 = c4 (actor 1) | seq 5 = b1 (actor 2, concurrent with c4).
 * Final heads: [b1, c4].
 */
async function seedMain(docId = 'doc') {
  const r1 = new Replica(1);
  const c1 = r1.change((d) => {
    d.title = 'one';
    d.meta = { owner: 'nobody' };
  });
  const e1 = await commit(docId, 'main', [c1], []);
  const c2 = r1.change((d) => void (d.n = 2));
  const c3 = r1.change((d) => void (d.n = 3));
  const e2 = await commit(docId, 'main', [c2, c3], [hashOf(c1)]);
  const r2 = new Replica(2, r1.doc);
  const c4 = r1.change((d) => void (d.left = 4));
  const e3 = await commit(docId, 'main', [c4], [hashOf(c3)]);
  const b1 = r2.change((d) => void (d.right = 5));
  // Base heads are the current heads ([c4]); b1 itself depends on c3 only.
  const e4 = await commit(docId, 'main', [b1], [hashOf(c4)]);
  expect(e4.newHeads).toEqual(sorted([hashOf(b1), hashOf(c4)]));
  const log = [c1, c2, c3, c4, b1];
  /** Epoch of the commit that appended each seq (index seq - 1). */
  const epochs = [e1.epoch, e2.epoch, e2.epoch, e3.epoch, e4.epoch];
  return { c1, c2, c3, c4, b1, log, epochs, commits: [e1, e2, e3, e4], r1, r2 };
}

// ---------------------------------------------------------------------------

describe('creating a branch', () => {
  it('from a seq, an epoch, an instant (ms or ISO-8601), prefix heads or the current state', async () => {
    const m = await seedMain();
    const [, e2, e3] = m.commits as [Committed, Committed, Committed, Committed];
    const cases: { name: string; from?: Record<string, unknown>; seq: number }[] = [
      { name: 'from-seq', from: { branch: 'main', seq: 2 }, seq: 2 },
      { name: 'from-epoch', from: { epoch: e2.epoch }, seq: 3 },
      { name: 'from-at-ms', from: { at: e3.committedAt }, seq: 4 },
      { name: 'from-at-iso', from: { at: new Date(e2.committedAt + 500).toISOString() }, seq: 3 },
      { name: 'from-heads', from: { heads: [hashOf(m.c3)] }, seq: 3 },
      { name: 'from-heads-string', from: { heads: hashOf(m.c4) }, seq: 4 },
      { name: 'from-all-heads', from: { heads: [hashOf(m.c4), hashOf(m.b1)] }, seq: 5 },
      { name: 'from-current', from: { branch: 'main' }, seq: 5 },
      { name: 'from-default', seq: 5 },
    ];
    for (const c of cases) {
      const expected = docOf(m.log.slice(0, c.seq));
      const body = c.from === undefined ? { name: c.name } : { name: c.name, from: c.from };
      const created = expectStatus(await post<BranchView>('/docs/doc/branches', body), 201);
      expect(created, c.name).toEqual({
        name: c.name,
        parent: 'main',
        forkSeq: c.seq,
        forkHeads: headsOf(expected),
        heads: headsOf(expected),
        seq: c.seq,
        closed: false,
        mergedInto: null,
        createdAt: expect.any(Number),
      });
      const read = await readDoc('doc', `branch=${c.name}`);
      expect(read, c.name).toMatchObject({
        docId: 'doc',
        branch: c.name,
        seq: c.seq,
        epoch: m.epochs[c.seq - 1],
        heads: headsOf(expected),
        rootRef: rootRefOf(headsOf(expected)),
      });
      expect(read.value, c.name).toEqual(jsonOf(expected));
    }
    // Forking shares history: the parent is untouched and no epoch was consumed.
    expect(await tipEpoch()).toBe(m.commits[3]?.epoch);
    expect((await readDoc('doc', '')).seq).toBe(5);
  });

  it('from heads that are one side of concurrent changes: exactly the ancestors of those heads', async () => {
    const m = await seedMain();
    // b1 is concurrent with c4: its ancestors are c1, c2, c3 and itself, not c4.
    const created = expectStatus(
      await post<BranchView>('/docs/doc/branches', {
        name: 'right',
        from: { heads: [hashOf(m.b1)] },
      }),
      201,
    );
    const expected = docOf([m.c1, m.c2, m.c3, m.b1]);
    expect(created).toMatchObject({
      name: 'right',
      parent: 'main',
      heads: [hashOf(m.b1)],
      seq: 4,
      closed: false,
    });
    // It shares the longest prefix of the log made only of ancestors.
    expect(created.forkSeq).toBe(3);
    expect(created.forkHeads).toEqual([hashOf(m.c3)]);
    const read = await readDoc('doc', 'branch=right');
    expect(read.value).toEqual(jsonOf(expected));
    expect(read.value).not.toHaveProperty('left');
    expect(read.heads).toEqual([hashOf(m.b1)]);
    const log = expectStatus(
      await get<{ items: { seq: number; hash: string }[] }>('/docs/doc/changes?branch=right'),
      200,
    );
    expect(log.items.map((i) => [i.seq, i.hash])).toEqual(
      [m.c1, m.c2, m.c3, m.b1].map((c, i) => [i + 1, hashOf(c)]),
    );
    // Automerge bytes of the branch load to exactly those heads.
    const bytes = await get<Uint8Array>('/docs/doc?branch=right', {
      accept: 'application/automerge',
    });
    expect(bytes.status).toBe(200);
    expect(headsOf(A.load(bytes.body))).toEqual([hashOf(m.b1)]);
    // The other side, c4, is a prefix of the log.
    const left = expectStatus(
      await post<BranchView>('/docs/doc/branches', {
        name: 'left',
        from: { heads: [hashOf(m.c4)] },
      }),
      201,
    );
    expect(left).toMatchObject({ forkSeq: 4, seq: 4, heads: [hashOf(m.c4)] });
    expect((await readDoc('doc', 'branch=left')).value).toEqual(jsonOf(docOf(m.log.slice(0, 4))));
    // The branch continues from there: actor 2 goes on, actor 1's c4 can join later.
    const b2 = m.r2.change((d) => void (d.right = 6));
    const w1 = await commit('doc', 'right', [b2], [hashOf(m.b1)]);
    expect(w1).toMatchObject({ seq: 5, newHeads: [hashOf(b2)], applied: 1 });
    const w2 = await commit('doc', 'right', [m.c4], [hashOf(b2)]);
    expect(w2).toMatchObject({ seq: 6, newHeads: sorted([hashOf(b2), hashOf(m.c4)]) });
    // Main did not move.
    expect((await readDoc('doc', '')).heads).toEqual(sorted([hashOf(m.b1), hashOf(m.c4)]));
  });

  it('from heads that share no prefix with the log: fork point 0, then exactly their ancestors', async () => {
    // Two independent first changes: the log starts with x1, y1 does not depend on it.
    const x1 = new Replica(1).change((d) => void (d.x = 1));
    const y1 = new Replica(2).change((d) => void (d.y = 1));
    await commit('doc', 'main', [x1], []);
    await commit('doc', 'main', [y1], [hashOf(x1)]);
    const created = expectStatus(
      await post<BranchView>('/docs/doc/branches', {
        name: 'only-y',
        from: { heads: [hashOf(y1)] },
      }),
      201,
    );
    expect(created).toMatchObject({
      parent: 'main',
      forkSeq: 0,
      forkHeads: [],
      heads: [hashOf(y1)],
      seq: 1,
    });
    const read = await readDoc('doc', 'branch=only-y');
    expect(read).toMatchObject({ seq: 1, heads: [hashOf(y1)], value: { y: 1 } });
    const history = expectStatus(
      await get<Page<HistoryItem>>('/docs/doc/history?branch=only-y'),
      200,
    );
    expect(history.items.map((i) => [i.seqFrom, i.seqTo, i.heads])).toEqual([[1, 1, [hashOf(y1)]]]);
  });

  it('from heads that are not a prefix is all or nothing: a refused remainder leaves no branch', async () => {
    const m = await seedMain();
    // The remainder (b1) is appended to the new branch by a commit, which invariants check.
    const remove = engine.cairn.registerInvariant(SPACE, {
      name: 'right-is-frozen',
      appliesTo: (_docId, branch) => branch !== 'main',
      check: ({ doc }) => (doc as { right?: unknown }).right === undefined || 'right is frozen',
    });
    const refused = await post('/docs/doc/branches', {
      name: 'right',
      from: { heads: [hashOf(m.b1)] },
    });
    expectError(refused, 422, 'InvariantFailed');
    // Nothing is left behind: no branch holding only part of what was asked for.
    expect((await branches()).map((b) => b.name)).toEqual(['main']);
    remove();
    const created = expectStatus(
      await post<BranchView>('/docs/doc/branches', {
        name: 'right',
        from: { heads: [hashOf(m.b1)] },
      }),
      201,
    );
    expect(created.heads).toEqual([hashOf(m.b1)]);
  });

  it('refuses an existing name with 409 BranchExists and changes nothing', async () => {
    await seedMain();
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 1 } }), 201);
    const before = await branches();
    expectError(
      await post('/docs/doc/branches', { name: 'feature', from: { seq: 3 } }),
      409,
      'BranchExists',
    );
    expectError(await post('/docs/doc/branches', { name: 'main' }), 409, 'BranchExists');
    expect(await branches()).toEqual(before);
  });

  it('answers 404 DocNotFound / BranchNotFound / VersionNotFound for a bad `from`', async () => {
    const other = new Replica(9);
    await commit('earlier', 'main', [other.change((d) => void (d.x = 1))], []);
    const m = await seedMain();
    const alien = new Replica(8).change((d) => void (d.y = 1));
    await commit('elsewhere', 'main', [alien], []);
    const tip = await tipEpoch();
    const cases: [unknown, number, string][] = [
      [{ name: 'x', from: { branch: 'nope' } }, 404, 'BranchNotFound'],
      [{ name: 'x', from: { seq: 6 } }, 404, 'VersionNotFound'],
      [{ name: 'x', from: { seq: 0 } }, 404, 'VersionNotFound'],
      [{ name: 'x', from: { epoch: tip + 1 } }, 404, 'VersionNotFound'],
      // Epoch 1 is the commit of another doc, before this one existed.
      [{ name: 'x', from: { epoch: 1 } }, 404, 'VersionNotFound'],
      [{ name: 'x', from: { epoch: 0 } }, 404, 'VersionNotFound'],
      [{ name: 'x', from: { at: T0 } }, 404, 'VersionNotFound'],
      [{ name: 'x', from: { at: '2024-12-31' } }, 404, 'VersionNotFound'],
      [{ name: 'x', from: { heads: ['ab'.repeat(32)] } }, 404, 'VersionNotFound'],
      // A change of another doc is not in this branch.
      [{ name: 'x', from: { heads: [hashOf(alien)] } }, 404, 'VersionNotFound'],
      [{ name: 'x', from: { heads: [hashOf(m.c1), 'cd'.repeat(32)] } }, 404, 'VersionNotFound'],
    ];
    for (const [body, status, code] of cases) {
      expectError(await post('/docs/doc/branches', body), status, code);
    }
    expectError(await post('/docs/nodoc/branches', { name: 'x' }), 404, 'DocNotFound');
    expectError(
      await post('/docs/doc/branches', { name: 'x' }, { space: OTHER_SPACE }),
      404,
      'DocNotFound',
    );
    expect((await branches()).map((b) => b.name)).toEqual(['main']);
    expect(await tipEpoch()).toBe(tip);
  });

  it('refuses malformed requests with 400 ValidationError', async () => {
    await seedMain();
    const bad: unknown[] = [
      {},
      { name: '' },
      { name: 'has space' },
      { name: 'x'.repeat(129) },
      { name: 'ünïcode' },
      { name: 7 },
      { name: 'x', from: { seq: -1 } },
      { name: 'x', from: { seq: 1.5 } },
      { name: 'x', from: { seq: '1' } },
      { name: 'x', from: { seq: 1, epoch: 1 } },
      { name: 'x', from: { heads: ['nothex'] } },
      { name: 'x', from: { heads: 'AB'.repeat(32) } },
      { name: 'x', from: { at: 'yesterday' } },
      { name: 'x', from: { branch: 'bad name' } },
      { name: 'x', from: { unknown: 1 } },
      { name: 'x', extra: true },
      [],
      null,
    ];
    for (const body of bad) {
      expectError(await post('/docs/doc/branches', body), 400, 'ValidationError');
    }
    expectError(await post('/docs/doc/branches', '{"name": '), 400, 'ValidationError');
    expect((await branches()).map((b) => b.name)).toEqual(['main']);
  });

  it('refuses branch names that a URL path cannot carry (".", "..")', async () => {
    // Like doc ids "." and ".." (DECISIONS.md): URL parsers drop such path
    // segments, so `POST …/branches/../close` could never reach the branch.
    await seedMain();
    for (const name of ['.', '..']) {
      expectError(await post('/docs/doc/branches', { name }), 400, 'ValidationError');
    }
  });
});

describe('reading and writing a branch', () => {
  it('below its fork point it reads as the parent; above it, its own changes', async () => {
    const m = await seedMain();
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 3 } }), 201);
    const r3 = new Replica(3, docOf(m.log.slice(0, 3)));
    const f1 = r3.change((d) => void (d.feature = 1));
    const w1 = await commit('doc', 'feature', [f1], [hashOf(m.c3)]);
    const f2 = r3.change((d) => void (d.feature = 2));
    const w2 = await commit('doc', 'feature', [f2], [hashOf(f1)]);
    for (let seq = 1; seq <= 3; seq++) {
      const parent = await readDoc('doc', `seq=${seq}`);
      const child = await readDoc('doc', `branch=feature&seq=${seq}`);
      expect(child).toEqual({ ...parent, branch: 'feature' });
      const pb = await get<Uint8Array>(`/docs/doc?seq=${seq}`, {
        accept: 'application/automerge',
      });
      const cb = await get<Uint8Array>(`/docs/doc?branch=feature&seq=${seq}`, {
        accept: 'application/automerge',
      });
      expect(Buffer.from(cb.body)).toEqual(Buffer.from(pb.body));
      expect(cb.headers.get('x-cairn-heads')).toBe(pb.headers.get('x-cairn-heads'));
    }
    const own = [m.c1, m.c2, m.c3, f1, f2];
    for (const [seq, epoch] of [
      [4, w1.epoch],
      [5, w2.epoch],
    ] as const) {
      const read = await readDoc('doc', `branch=feature&seq=${seq}`);
      const expected = docOf(own.slice(0, seq));
      expect(read).toMatchObject({ seq, epoch, heads: headsOf(expected) });
      expect(read.value).toEqual(jsonOf(expected));
    }
    expectError(await get('/docs/doc?branch=feature&seq=6'), 404, 'VersionNotFound');
    // Epochs of main's commits after the fork are not part of the branch's history.
    const [, e2, e3, e4] = m.commits as Committed[];
    for (const [epoch, seq] of [
      [e2?.epoch, 3],
      [e3?.epoch, 3],
      [e4?.epoch, 3],
      [w1.epoch, 4],
      [w2.epoch, 5],
    ] as const) {
      const read = await readDoc('doc', `branch=feature&epoch=${epoch}`);
      expect(read.seq, `epoch ${epoch}`).toBe(seq);
      expect(read.value).toEqual(jsonOf(docOf(own.slice(0, seq))));
    }
    // heads= of a main change the branch does not have.
    expectError(
      await get(`/docs/doc?branch=feature&heads=${hashOf(m.c4)}`),
      404,
      'VersionNotFound',
    );
    const heads = expectStatus(
      await get<Record<string, unknown>>('/docs/doc/heads?branch=feature'),
      200,
    );
    expect(heads).toEqual({
      heads: [hashOf(f2)],
      seq: 5,
      epoch: w2.epoch,
      rootRef: rootRefOf([hashOf(f2)]),
      closed: false,
      parent: 'main',
      forkSeq: 3,
    });
  });

  it('a branch with no commits of its own, forked inside a commit, reads by epoch and instant', async () => {
    const m = await seedMain();
    // Seqs 2-3 were one commit; fork between them.
    expectStatus(await post('/docs/doc/branches', { name: 'mid', from: { seq: 2 } }), 201);
    const [, e2, e3] = m.commits as Committed[];
    for (const query of [
      `epoch=${e2?.epoch}`,
      `epoch=${e3?.epoch}`,
      `at=${e2?.committedAt}`,
      `at=${new Date(e3?.committedAt as number).toISOString()}`,
    ]) {
      const read = await readDoc('doc', `branch=mid&${query}`);
      expect(read, query).toMatchObject({ seq: 2, heads: [hashOf(m.c2)], epoch: e2?.epoch });
      expect(read.value, query).toEqual(jsonOf(docOf(m.log.slice(0, 2))));
    }
  });

  it('the changes route gives each change of a branch forked inside a commit the epoch of its own commit', async () => {
    const m = await seedMain();
    const [e1, e2] = m.commits as Committed[];
    expectStatus(await post('/docs/doc/branches', { name: 'mid', from: { seq: 2 } }), 201);
    const r3 = new Replica(3, docOf(m.log.slice(0, 2)));
    const f1 = r3.change((d) => void (d.f = 1));
    const w1 = await commit('doc', 'mid', [f1], [hashOf(m.c2)]);
    const changes = expectStatus(
      await get<{ items: { seq: number; hash: string; epoch: number; committedAt: number }[] }>(
        '/docs/doc/changes?branch=mid',
      ),
      200,
    );
    expect(changes.items.map((i) => [i.seq, i.hash, i.epoch, i.committedAt])).toEqual([
      [1, hashOf(m.c1), e1?.epoch, e1?.committedAt],
      [2, hashOf(m.c2), e2?.epoch, e2?.committedAt],
      // Seq 3 of this branch is f1 (main's seq 3, c3, came in main's commit e2).
      [3, hashOf(f1), w1.epoch, w1.committedAt],
    ]);
  });

  it("the branch's writes need its own heads as baseHeads; actor seqs continue from the fork point", async () => {
    const m = await seedMain();
    expectStatus(await post('/docs/doc/branches', { name: 'fork1', from: { seq: 1 } }), 201);
    // Actor 1 has seq 1 at the fork point (main has it up to 4).
    const again = new Replica(1, docOf([m.c1]));
    const x2 = again.change((d) => void (d.fork = 'x'));
    expect(A.decodeChange(x2).seq).toBe(2);
    const stale = await engine.refused({
      writes: [write('doc', [x2], sorted([hashOf(m.b1), hashOf(m.c4)]), { branch: 'fork1' })],
    });
    expect(stale.error).toMatchObject({ code: 'StaleBaseHeads', currentHeads: [hashOf(m.c1)] });
    const ok = await commit('doc', 'fork1', [x2], [hashOf(m.c1)]);
    expect(ok).toMatchObject({ seq: 2, newHeads: [hashOf(x2)], applied: 1, duplicates: 0 });
    // Another change of actor 1 with seq 2 (different content) reuses a seq.
    const y2 = new Replica(1, docOf([m.c1])).change((d) => void (d.fork = 'y'));
    expect(A.decodeChange(y2).seq).toBe(2);
    const reused = await engine.refused({
      writes: [write('doc', [y2], [hashOf(x2)], { branch: 'fork1' })],
    });
    expect(reused.error.code).toBe('NonMonotonicSeq');
    // So is main's c2 (actor 1, seq 2) on this fork now.
    const c2 = await engine.refused({
      writes: [write('doc', [m.c2], [hashOf(x2)], { branch: 'fork1' })],
    });
    expect(c2.error.code).toBe('NonMonotonicSeq');
    // Skipping a seq cannot pass (its predecessor is an unknown dep); the next ones can.
    const x3 = again.change((d) => void (d.fork = 'x3'));
    const x4 = again.change((d) => void (d.fork = 'x4'));
    const skipped = await engine.refused({
      writes: [write('doc', [x4], [hashOf(x2)], { branch: 'fork1' })],
    });
    expect(skipped.error.code).toBe('MissingDependency');
    expect(await commit('doc', 'fork1', [x3, x4], [hashOf(x2)])).toMatchObject({
      seq: 4,
      newHeads: [hashOf(x4)],
      applied: 2,
    });
    expect((await readDoc('doc', 'branch=fork1')).value).toEqual(jsonOf(again.doc));

    // A fork at seq 3 inherits actor 1 at seq 3: main's c4 (seq 4) continues it.
    expectStatus(await post('/docs/doc/branches', { name: 'fork3', from: { seq: 3 } }), 201);
    expect(await commit('doc', 'fork3', [m.c4], [hashOf(m.c3)])).toMatchObject({
      seq: 4,
      newHeads: [hashOf(m.c4)],
    });
    // A change already in the shared history is a duplicate, not a reuse.
    const dup = await engine.ok({
      writes: [write('doc', [m.c2], [hashOf(m.c4)], { branch: 'fork3' })],
    });
    expect(dup.results[0]).toMatchObject({ applied: 0, duplicates: 1, seq: 4 });
    // Main did not move.
    expect((await readDoc('doc', '')).seq).toBe(5);
  });

  it('a fork of a fork (lineage depth 2) reads as the expected doc at every seq and epoch', async () => {
    const r1 = new Replica(1);
    const m1 = r1.change((d) => void (d.m = 1));
    const m2 = r1.change((d) => void (d.m = 2));
    const m3 = r1.change((d) => void (d.m = 3));
    const mainCommits = [
      await commit('doc', 'main', [m1], []),
      await commit('doc', 'main', [m2, m3], [hashOf(m1)]),
    ];
    const epochOf = new Map<string, number>([
      [hashOf(m1), mainCommits[0]!.epoch],
      [hashOf(m2), mainCommits[1]!.epoch],
      [hashOf(m3), mainCommits[1]!.epoch],
    ]);
    // A: forked from main at seq 2 (inside the m2-m3 commit).
    expectStatus(await post('/docs/doc/branches', { name: 'a', from: { seq: 2 } }), 201);
    const ra = new Replica(2, docOf([m1, m2]));
    const a1 = ra.change((d) => void (d.a = 1));
    const a2 = ra.change((d) => void (d.a = 2));
    const a3 = ra.change((d) => void (d.a = 3));
    const ca1 = await commit('doc', 'a', [a1], [hashOf(m2)]);
    const ca2 = await commit('doc', 'a', [a2, a3], [hashOf(a1)]);
    epochOf.set(hashOf(a1), ca1.epoch).set(hashOf(a2), ca2.epoch).set(hashOf(a3), ca2.epoch);
    // Main moves on after the fork.
    const m4 = r1.change((d) => void (d.m = 4));
    await commit('doc', 'main', [m4], [hashOf(m3)]);
    // B: forked from A at seq 4 (inside A's a2-a3 commit, above A's fork point).
    expectStatus(
      await post('/docs/doc/branches', { name: 'b', from: { branch: 'a', seq: 4 } }),
      201,
    );
    const rb = new Replica(3, docOf([m1, m2, a1, a2]));
    const b1 = rb.change((d) => void (d.b = 1));
    const cb1 = await commit('doc', 'b', [b1], [hashOf(a2)]);
    const b2 = rb.change((d) => void (d.b = 2));
    const cb2 = await commit('doc', 'b', [b2], [hashOf(b1)]);
    epochOf.set(hashOf(b1), cb1.epoch).set(hashOf(b2), cb2.epoch);
    // C: forked from A at seq 1, below A's own fork point.
    expectStatus(
      await post('/docs/doc/branches', { name: 'c', from: { branch: 'a', seq: 1 } }),
      201,
    );
    const rc = new Replica(4, docOf([m1]));
    const c1 = rc.change((d) => void (d.c = 1));
    const cc1 = await commit('doc', 'c', [c1], [hashOf(m1)]);
    epochOf.set(hashOf(c1), cc1.epoch);
    // More commits on A and main after the forks: never visible in B or C.
    const a4 = ra.change((d) => void (d.a = 4));
    await commit('doc', 'a', [a4], [hashOf(a3)]);
    await commit('doc', 'main', [r1.change((d) => void (d.m = 5))], [hashOf(m4)]);
    const tip = await tipEpoch();

    const histories: Record<string, Uint8Array[]> = {
      b: [m1, m2, a1, a2, b1, b2],
      c: [m1, c1],
    };
    const listed = await branches();
    expect(listed.find((b) => b.name === 'b')).toMatchObject({ parent: 'a', forkSeq: 4 });
    expect(listed.find((b) => b.name === 'c')).toMatchObject({
      parent: 'a',
      forkSeq: 1,
      forkHeads: [hashOf(m1)],
    });

    // Snapshots everywhere, including past the children's fork points: never used for them.
    for (const [branch, seq] of [
      ['main', 3],
      ['main', 5],
      ['a', 3],
      ['a', 5],
      ['a', 6],
      ['b', 2],
    ] as const) {
      await engine.cairn.snapshots.makeNow(SPACE, 'doc', branch, seq);
    }
    const cold = new DocReader(engine.cairn.backend, { cache: new DocCache(1 << 30) });

    for (const [name, history] of Object.entries(histories)) {
      for (let seq = 1; seq <= history.length; seq++) {
        const expected = docOf(history.slice(0, seq));
        const read = await readDoc('doc', `branch=${name}&seq=${seq}`);
        const where = `${name}@${seq}`;
        expect(read.value, where).toEqual(jsonOf(expected));
        expect(read.heads, where).toEqual(headsOf(expected));
        expect(read.epoch, where).toBe(epochOf.get(hashOf(history[seq - 1]!)));
        const bytes = await get<Uint8Array>(`/docs/doc?branch=${name}&seq=${seq}`, {
          accept: 'application/automerge',
        });
        expect(jsonOf(A.load(bytes.body)), where).toEqual(jsonOf(expected));
        const viaSnapshots = await cold.readDoc(SPACE, 'doc', name, { kind: 'seq', seq });
        expect(headsOf(viaSnapshots.doc as Doc), `${where} (snapshots)`).toEqual(headsOf(expected));
        expect(jsonOf(viaSnapshots.doc as Doc), `${where} (snapshots)`).toEqual(jsonOf(expected));
      }
      expectError(
        await get(`/docs/doc?branch=${name}&seq=${history.length + 1}`),
        404,
        'VersionNotFound',
      );
      // Every epoch of the space: the last commit of this history at or before it.
      for (let epoch = 1; epoch <= tip; epoch++) {
        const seq = history.filter((c) => (epochOf.get(hashOf(c)) as number) <= epoch).length;
        const reply = await get<DocJson>(`/docs/doc?branch=${name}&epoch=${epoch}`);
        if (seq === 0) {
          expectError(reply, 404, 'VersionNotFound');
          continue;
        }
        const read = expectStatus(reply, 200);
        expect(read.seq, `${name} at epoch ${epoch}`).toBe(seq);
        expect(read.value).toEqual(jsonOf(docOf(history.slice(0, seq))));
      }
    }
    expect(cold.stats.fromSnapshot).toBeGreaterThan(0);
    expect(cold.stats.corruptSnapshots).toBe(0);
    // The changes route rebuilds each history, each change with the epoch of its own commit.
    for (const [name, history] of Object.entries(histories)) {
      const changes = expectStatus(
        await get<{ items: { seq: number; hash: string; epoch: number }[] }>(
          `/docs/doc/changes?branch=${name}`,
        ),
        200,
      );
      expect(changes.items.map((i) => [i.seq, i.hash, i.epoch])).toEqual(
        history.map((c, i) => [i + 1, hashOf(c), epochOf.get(hashOf(c))]),
      );
    }
  });
});

describe('listing and closing branches', () => {
  it('lists every branch with its lineage fields', async () => {
    const m = await seedMain();
    const f = expectStatus(
      await post<BranchView>('/docs/doc/branches', { name: 'feature', from: { seq: 2 } }),
      201,
    );
    const r3 = new Replica(3, docOf(m.log.slice(0, 2)));
    const f1 = r3.change((d) => void (d.f = 1));
    await commit('doc', 'feature', [f1], [hashOf(m.c2)]);
    expectStatus(
      await post('/docs/doc/branches', { name: 'team/sub', from: { branch: 'feature' } }),
      201,
    );
    const list = await branches();
    expect(list.map((b) => b.name)).toEqual(['feature', 'main', 'team/sub']);
    const [feature, main, sub] = list as [BranchView, BranchView, BranchView];
    expect(main).toEqual({
      name: 'main',
      parent: null,
      forkSeq: null,
      forkHeads: null,
      heads: sorted([hashOf(m.b1), hashOf(m.c4)]),
      seq: 5,
      closed: false,
      mergedInto: null,
      createdAt: m.commits[0]?.committedAt,
    });
    expect(feature).toEqual({
      name: 'feature',
      parent: 'main',
      forkSeq: 2,
      forkHeads: [hashOf(m.c2)],
      heads: [hashOf(f1)],
      seq: 3,
      closed: false,
      mergedInto: null,
      createdAt: f.createdAt,
    });
    expect(feature.createdAt).toBeGreaterThan(main.createdAt);
    expect(sub).toMatchObject({
      parent: 'feature',
      forkSeq: 3,
      forkHeads: [hashOf(f1)],
      heads: [hashOf(f1)],
      seq: 3,
    });
    expectError(await get('/docs/nodoc/branches'), 404, 'DocNotFound');
    expectError(await get('/docs/doc/branches', { space: OTHER_SPACE }), 404, 'DocNotFound');
  });

  it('closing: later writes get BranchClosed, reads keep working, mergedInto is set', async () => {
    const m = await seedMain();
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 3 } }), 201);
    const r3 = new Replica(3, docOf(m.log.slice(0, 3)));
    const f1 = r3.change((d) => void (d.f = 1));
    await commit('doc', 'feature', [f1], [hashOf(m.c3)]);
    const before = await readDoc('doc', 'branch=feature');
    const closed = expectStatus(
      await post<BranchView>('/docs/doc/branches/feature/close', { mergedInto: 'main' }),
      200,
    );
    expect(closed).toMatchObject({ name: 'feature', closed: true, mergedInto: 'main', seq: 4 });
    const tip = await tipEpoch();
    const f2 = r3.change((d) => void (d.f = 2));
    const refused = await post<ErrorBody & { results: unknown[] }>('/tx', {
      writes: [write('doc', [f2], [hashOf(f1)], { branch: 'feature' })],
    });
    expectError(refused, 409, 'BranchClosed');
    expect(await tipEpoch()).toBe(tip);
    // Reads keep working.
    expect(await readDoc('doc', 'branch=feature')).toEqual(before);
    expect((await readDoc('doc', 'branch=feature&seq=2')).seq).toBe(2);
    expect(
      expectStatus(await get<Record<string, unknown>>('/docs/doc/heads?branch=feature'), 200),
    ).toMatchObject({ closed: true, mergedInto: 'main', parent: 'main', forkSeq: 3 });
    expectStatus(await get('/docs/doc/changes?branch=feature'), 200);
    expectStatus(await get('/docs/doc/history?branch=feature'), 200);
    // Forking from a closed branch reads its history.
    expectStatus(
      await post('/docs/doc/branches', { name: 'revived', from: { branch: 'feature' } }),
      201,
    );
    expect((await readDoc('doc', 'branch=revived')).value).toEqual(before.value);
    // Close without a body: mergedInto stays null. Names with a slash travel URL-encoded.
    expectStatus(await post('/docs/doc/branches', { name: 'team/x', from: { seq: 1 } }), 201);
    const plain = expectStatus(await post<BranchView>('/docs/doc/branches/team%2Fx/close'), 200);
    expect(plain).toMatchObject({ name: 'team/x', closed: true, mergedInto: null });
    const listed = await branches();
    expect(listed.find((b) => b.name === 'feature')).toMatchObject({
      closed: true,
      mergedInto: 'main',
    });
    expect(listed.find((b) => b.name === 'main')).toMatchObject({ closed: false });
    // Errors.
    expectError(await post('/docs/doc/branches/nope/close', {}), 404, 'BranchNotFound');
    expectError(await post('/docs/nodoc/branches/main/close', {}), 404, 'DocNotFound');
    expectError(
      await post('/docs/doc/branches/feature/close', { mergedInto: 'bad name' }),
      400,
      'ValidationError',
    );
    expectError(
      await post('/docs/doc/branches/feature/close', { other: 1 }),
      400,
      'ValidationError',
    );
    expectError(await post('/docs/doc/branches/feature/close', '{'), 400, 'ValidationError');
  });
});

describe('merging', () => {
  it('a client merge (merge: true, mergeOf, closeMerged) collapses the heads to one', async () => {
    const r1 = new Replica(1);
    const c1 = r1.change((d) => void (d.base = 1));
    await commit('doc', 'main', [c1], []);
    expectStatus(await post('/docs/doc/branches', { name: 'feature' }), 201);
    const r3 = new Replica(3, r1.doc);
    const f1 = r3.change((d) => void (d.feature = 'yes'));
    const f2 = r3.change((d) => void (d.more = true));
    await commit('doc', 'feature', [f1], [hashOf(c1)]);
    await commit('doc', 'feature', [f2], [hashOf(f1)]);
    const m2 = r1.change((d) => void (d.main = 'yes'));
    await commit('doc', 'main', [m2], [hashOf(c1)]);
    // The client merges locally and adds its merge change on top of both sides.
    r1.receive([f1, f2]);
    const mm = r1.change((d) => void (d.merged = true));
    expect(A.decodeChange(mm).deps.sort()).toEqual(sorted([hashOf(m2), hashOf(f2)]));
    // A mergeOf head the source does not have is refused, and nothing is kept.
    const wrong = await engine.refused({
      writes: [
        write('doc', [f1, f2, mm], [hashOf(m2)], {
          merge: true,
          mergeOf: [{ branch: 'feature', heads: [hashOf(m2)] }],
          closeMerged: true,
        }),
      ],
    });
    expect(wrong.error.code).toBe('MissingDependency');
    expect((await branches()).find((b) => b.name === 'feature')?.closed).toBe(false);
    const receipt = await engine.ok({
      writes: [
        write('doc', [f1, f2, mm], [hashOf(m2)], {
          merge: true,
          mergeOf: [{ branch: 'feature', heads: [hashOf(f2)] }],
          closeMerged: true,
        }),
      ],
    });
    expect(receipt.results[0]).toMatchObject({
      branch: 'main',
      seq: 5,
      newHeads: [hashOf(mm)],
      applied: 3,
    });
    const main = await readDoc('doc', '');
    expect(main.heads).toEqual([hashOf(mm)]);
    expect(main.value).toEqual(r1.json());
    const feature = (await branches()).find((b) => b.name === 'feature');
    expect(feature).toMatchObject({ closed: true, mergedInto: 'main', heads: [hashOf(f2)] });
    const later = await engine.refused({
      writes: [
        write('doc', [r3.change((d) => void (d.late = 1))], [hashOf(f2)], { branch: 'feature' }),
      ],
    });
    expect(later.error.code).toBe('BranchClosed');
  });

  it('a server merge equals Automerge.merge of the two branches and reports conflicts', async () => {
    const r1 = new Replica(1);
    const c1 = r1.change((d) => {
      d.k = 'base';
      d.meta = { owner: 'nobody' };
      d.same = 0;
    });
    await commit('doc', 'main', [c1], []);
    expectStatus(await post('/docs/doc/branches', { name: 'feature' }), 201);
    const r3 = new Replica(3, r1.doc);
    const f1 = r3.change((d) => {
      d.k = 'feature';
      (d.meta as Record<string, unknown>).owner = 'bob';
      d.onlyFeature = 1;
    });
    const f2 = r3.change((d) => void (d.extra = true));
    await commit('doc', 'feature', [f1], [hashOf(c1)]);
    await commit('doc', 'feature', [f2], [hashOf(f1)]);
    const m1 = r1.change((d) => {
      d.k = 'main';
      (d.meta as Record<string, unknown>).owner = 'alice';
      d.onlyMain = 2;
    });
    await commit('doc', 'main', [m1], [hashOf(c1)]);
    const mainDoc = r1.doc;
    const featureDoc = r3.doc;
    const expected = A.merge(A.clone(mainDoc), featureDoc);
    const tip = await tipEpoch();

    const reply = await post<MergeReply>('/docs/doc/branches/feature/merge', { into: 'main' });
    const merged = expectStatus(reply, 200);
    expect(merged).toMatchObject({ ok: true, epoch: tip + 1 });
    expect(merged.results).toEqual([
      expect.objectContaining({
        docId: 'doc',
        branch: 'main',
        status: 'ok',
        seq: 4,
        newHeads: headsOf(expected),
        rootRef: rootRefOf(headsOf(expected)),
        applied: 2,
        duplicates: 0,
      }),
    ]);
    const main = await readDoc('doc', '');
    expect(main.value).toEqual(jsonOf(expected));
    expect(main.heads).toEqual(headsOf(expected));
    const bytes = await get<Uint8Array>('/docs/doc', { accept: 'application/automerge' });
    expect(headsOf(A.load(bytes.body))).toEqual(headsOf(expected));
    // One transaction, appended in causal order.
    const record = expectStatus(
      await get<{ writes: { branch: string; seqFrom: number; seqTo: number }[] }>(
        `/tx/${merged.epoch}`,
      ),
      200,
    );
    expect(record.writes).toEqual([
      expect.objectContaining({ branch: 'main', seqFrom: 3, seqTo: 4 }),
    ]);
    const log = expectStatus(
      await get<{ items: { hash: string }[] }>('/docs/doc/changes?fromSeq=3'),
      200,
    );
    expect(log.items.map((i) => i.hash)).toEqual([hashOf(f1), hashOf(f2)]);
    // Conflicts: keys both sides set differently, the winner first.
    const winnerK = (expected as { k: string }).k;
    const winnerOwner = (expected as { meta: { owner: string } }).meta.owner;
    const byPath = [...merged.conflicts].sort((a, b) =>
      JSON.stringify(a.path).localeCompare(JSON.stringify(b.path)),
    );
    expect(byPath).toEqual([
      { path: ['k'], values: [winnerK, winnerK === 'main' ? 'feature' : 'main'] },
      {
        path: ['meta', 'owner'],
        values: [winnerOwner, winnerOwner === 'alice' ? 'bob' : 'alice'],
      },
    ]);
    // The source stays open; merging again has nothing to add.
    expect((await branches()).find((b) => b.name === 'feature')?.closed).toBe(false);
    const again = expectStatus(
      await post<MergeReply>('/docs/doc/branches/feature/merge', { into: 'main' }),
      200,
    );
    expect(again.results[0]).toMatchObject({ applied: 0 });
    expect(again.conflicts).toEqual([]);
    expect(await tipEpoch()).toBe(tip + 1);
  });

  it('a server merge does not report keys both sides set to the same value', async () => {
    const r1 = new Replica(1);
    const c1 = r1.change((d) => void (d.same = 0));
    await commit('doc', 'main', [c1], []);
    expectStatus(await post('/docs/doc/branches', { name: 'feature' }), 201);
    const r3 = new Replica(3, r1.doc);
    await commit('doc', 'feature', [r3.change((d) => void (d.same = 7))], [hashOf(c1)]);
    await commit('doc', 'main', [r1.change((d) => void (d.same = 7))], [hashOf(c1)]);
    const merged = expectStatus(
      await post<MergeReply>('/docs/doc/branches/feature/merge', { into: 'main' }),
      200,
    );
    expect((await readDoc('doc', '')).value).toEqual({ same: 7 });
    // SPEC §4: conflicts are keys "both sides set differently".
    expect(merged.conflicts).toEqual([]);
  });

  it('a server merge of the parent into a fork brings what the fork lacks', async () => {
    const m = await seedMain();
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 2 } }), 201);
    const r3 = new Replica(3, docOf(m.log.slice(0, 2)));
    const f1 = r3.change((d) => void (d.n = 30));
    await commit('doc', 'feature', [f1], [hashOf(m.c2)]);
    const expected = A.merge(A.clone(r3.doc), docOf(m.log));
    const merged = expectStatus(
      await post<MergeReply>('/docs/doc/branches/main/merge', { into: 'feature' }),
      200,
    );
    expect(merged.results[0]).toMatchObject({ branch: 'feature', applied: 3, seq: 6 });
    const read = await readDoc('doc', 'branch=feature');
    expect(read.value).toEqual(jsonOf(expected));
    expect(read.heads).toEqual(headsOf(expected));
    expect(merged.conflicts).toEqual([
      { path: ['n'], values: [(expected as { n: number }).n, expect.any(Number)] },
    ]);
    expect(new Set(merged.conflicts[0]?.values)).toEqual(new Set([3, 30]));
  });

  it('server merge errors: unknown branches, into itself, into a closed branch, bad bodies', async () => {
    await seedMain();
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 1 } }), 201);
    expectStatus(await post('/docs/doc/branches', { name: 'done', from: { seq: 1 } }), 201);
    expectStatus(await post('/docs/doc/branches/done/close', {}), 200);
    const tip = await tipEpoch();
    const merge = (from: string, body: unknown) => post(`/docs/doc/branches/${from}/merge`, body);
    expectError(await merge('nope', { into: 'main' }), 404, 'BranchNotFound');
    expectError(await merge('feature', { into: 'nope' }), 404, 'BranchNotFound');
    expectError(await post('/docs/nodoc/branches/a/merge', { into: 'main' }), 404, 'DocNotFound');
    expectError(await merge('main', { into: 'done' }), 409, 'BranchClosed');
    expectError(await merge('main', { into: 'main' }), 400, 'ValidationError');
    expectError(await merge('feature', {}), 400, 'ValidationError');
    expectError(await merge('feature', { into: 'bad name' }), 400, 'ValidationError');
    expectError(await merge('feature', { into: 'main', extra: 1 }), 400, 'ValidationError');
    expectError(await merge('feature', 'not json'), 400, 'ValidationError');
    expect(await tipEpoch()).toBe(tip);
  });

  it('server merge is 403 FeatureDisabled unless enabled, and changes nothing', async () => {
    const off = await start({ enableServerMerge: false });
    try {
      const r1 = new Replica(1);
      const c1 = r1.change((d) => void (d.x = 1));
      await off.ok({ writes: [write('doc', [c1], [])] });
      expectStatus(await post('/docs/doc/branches', { name: 'feature' }, { on: off }), 201);
      const r3 = new Replica(3, r1.doc);
      await off.ok({
        writes: [
          write('doc', [r3.change((d) => void (d.y = 2))], [hashOf(c1)], { branch: 'feature' }),
        ],
      });
      const reply = await post('/docs/doc/branches/feature/merge', { into: 'main' }, { on: off });
      expectError(reply, 403, 'FeatureDisabled');
      const main = expectStatus(await get<DocJson>('/docs/doc', { on: off }), 200);
      expect(main).toMatchObject({ seq: 1, heads: [hashOf(c1)], value: { x: 1 } });
    } finally {
      await off.close();
    }
  });
});

describe('import', () => {
  it('appends the new changes of an Automerge file as one transaction; the same file again is a no-op', async () => {
    const r = new Replica(1);
    const first = [
      r.change((d) => void (d.a = 1)),
      r.change((d) => void (d.b = 2)),
      r.change((d) => void (d.c = 3)),
    ];
    const tip = await tipEpoch();
    const one = expectStatus(await post<Receipt>('/docs/imp/import', A.save(r.doc)), 200);
    expect(one).toMatchObject({ ok: true, epoch: tip + 1 });
    expect(one.results).toEqual([
      expect.objectContaining({
        docId: 'imp',
        branch: 'main',
        status: 'ok',
        seq: 3,
        newHeads: r.heads,
        applied: 3,
        duplicates: 0,
      }),
    ]);
    expect((await readDoc('imp', '')).value).toEqual(r.json());
    const more = [r.change((d) => void (d.d = 4)), r.change((d) => void (d.e = 5))];
    const two = expectStatus(await post<Receipt>('/docs/imp/import', A.save(r.doc)), 200);
    expect(two.epoch).toBe(tip + 2);
    expect(two.results[0]).toMatchObject({ seq: 5, applied: 2, duplicates: 3, newHeads: r.heads });
    const record = expectStatus(
      await get<{ writes: { docId: string; branch: string; seqFrom: number; seqTo: number }[] }>(
        `/tx/${two.epoch}`,
      ),
      200,
    );
    expect(record.writes).toEqual([
      expect.objectContaining({ docId: 'imp', branch: 'main', seqFrom: 4, seqTo: 5 }),
    ]);
    const log = expectStatus(await get<{ items: { hash: string }[] }>('/docs/imp/changes'), 200);
    expect(log.items.map((i) => i.hash)).toEqual([...first, ...more].map(hashOf));
    // The same file again, and an older save (its heads are in the log): nothing new.
    const again = expectStatus(await post<Receipt>('/docs/imp/import', A.save(r.doc)), 200);
    expect(again.results[0]).toMatchObject({ applied: 0, duplicates: 5, seq: 5 });
    const older = expectStatus(
      await post<Receipt>('/docs/imp/import', A.save(docOf(first.slice(0, 2)))),
      200,
    );
    expect(older.results[0]).toMatchObject({ applied: 0, duplicates: 2, seq: 5 });
    expect(await tipEpoch()).toBe(tip + 2);
    expect((await readDoc('imp', '')).heads).toEqual(r.heads);
  });

  it('imports into a named branch, including changes concurrent with it', async () => {
    const m = await seedMain();
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 3 } }), 201);
    // A file holding main's whole history plus a change of its own.
    const local = new Replica(5, docOf(m.log));
    local.change((d) => void (d.imported = true));
    const reply = expectStatus(
      await post<Receipt>('/docs/doc/import?branch=feature', A.save(local.doc)),
      200,
    );
    expect(reply.results[0]).toMatchObject({
      branch: 'feature',
      applied: 3,
      duplicates: 3,
      seq: 6,
      newHeads: local.heads,
    });
    expect((await readDoc('doc', 'branch=feature')).value).toEqual(local.json());
    expect((await readDoc('doc', '')).seq).toBe(5);
  });

  it('refuses bytes that are not an Automerge document (422 InvalidChange) and empty bodies', async () => {
    const m = await seedMain();
    const tip = await tipEpoch();
    const garbage = [
      new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
      new TextEncoder().encode('{"not": "automerge"}'),
      A.save(docOf(m.log)).slice(0, 20),
    ];
    for (const bytes of garbage) {
      expectError(await post('/docs/doc/import', bytes), 422, 'InvalidChange');
      expectError(await post('/docs/newdoc/import', bytes), 422, 'InvalidChange');
    }
    // A document without changes has nothing to verify against.
    expectError(await post('/docs/doc/import', A.save(A.init())), 422, 'InvalidChange');
    expectError(await post('/docs/doc/import', new Uint8Array(0)), 400, 'ValidationError');
    expectError(
      await post('/docs/doc/import?branch=bad%20name', A.save(docOf(m.log))),
      400,
      'ValidationError',
    );
    expect(await tipEpoch()).toBe(tip);
    expect((await readDoc('doc', '')).seq).toBe(5);
    expectError(await get('/docs/newdoc'), 404, 'DocNotFound');
  });

  it('refuses a file whose changes conflict with the branch, and changes nothing', async () => {
    const m = await seedMain();
    const tip = await tipEpoch();
    const before = await readDoc('doc', '');
    // Actor 1 at seq 2 with other content than c2, then a valid new change on top.
    const forked = new Replica(1, docOf([m.c1]));
    forked.change((d) => void (d.n = 'rewritten'));
    const extra = new Replica(6, forked.doc);
    extra.change((d) => void (d.extra = 1));
    const reply = await post('/docs/doc/import', A.save(extra.doc));
    expectError(reply, 422, 'NonMonotonicSeq');
    expect(await tipEpoch()).toBe(tip);
    expect(await readDoc('doc', '')).toEqual(before);
    const log = expectStatus(await get<{ items: unknown[] }>('/docs/doc/changes'), 200);
    expect(log.items).toHaveLength(5);
    // A closed branch refuses imports too.
    expectStatus(await post('/docs/doc/branches', { name: 'done' }), 201);
    expectStatus(await post('/docs/doc/branches/done/close'), 200);
    const local = new Replica(7, docOf(m.log));
    local.change((d) => void (d.late = true));
    expectError(await post('/docs/doc/import?branch=done', A.save(local.doc)), 409, 'BranchClosed');
    expect(await tipEpoch()).toBe(tip);
  });
});

describe('history feed', () => {
  it('lists commits newest first and pages with a cursor until exhausted', async () => {
    const m = await seedMain();
    const [e1, e2, e3, e4] = m.commits as [Committed, Committed, Committed, Committed];
    const expected: HistoryItem[] = [
      {
        epoch: e4.epoch,
        committedAt: e4.committedAt,
        seqFrom: 5,
        seqTo: 5,
        changes: 1,
        heads: e4.newHeads,
      },
      {
        epoch: e3.epoch,
        committedAt: e3.committedAt,
        seqFrom: 4,
        seqTo: 4,
        changes: 1,
        heads: [hashOf(m.c4)],
      },
      {
        epoch: e2.epoch,
        committedAt: e2.committedAt,
        seqFrom: 2,
        seqTo: 3,
        changes: 2,
        heads: [hashOf(m.c3)],
      },
      {
        epoch: e1.epoch,
        committedAt: e1.committedAt,
        seqFrom: 1,
        seqTo: 1,
        changes: 1,
        heads: [hashOf(m.c1)],
      },
    ];
    const full = expectStatus(await get<Page<HistoryItem>>('/docs/doc/history'), 200);
    expect(full).toEqual({ items: expected });
    for (const limit of [1, 2, 3, 4, 5]) {
      const { items, pages } = await allPages<HistoryItem>('/docs/doc/history', limit);
      expect(items, `limit ${limit}`).toEqual(expected);
      expect(pages, `limit ${limit}`).toBe(Math.max(1, Math.ceil(expected.length / limit)));
    }
  });

  it("a branch's history includes the parent's commits below the fork point, clipped at it", async () => {
    const m = await seedMain();
    const [e1, e2] = m.commits as [Committed, Committed];
    // Fork inside the c2-c3 commit.
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 2 } }), 201);
    const parentPart: HistoryItem[] = [
      {
        epoch: e2.epoch,
        committedAt: e2.committedAt,
        seqFrom: 2,
        seqTo: 2,
        changes: 1,
        heads: [hashOf(m.c2)],
      },
      {
        epoch: e1.epoch,
        committedAt: e1.committedAt,
        seqFrom: 1,
        seqTo: 1,
        changes: 1,
        heads: [hashOf(m.c1)],
      },
    ];
    const r3 = new Replica(3, docOf(m.log.slice(0, 2)));
    const f1 = r3.change((d) => void (d.f = 1));
    const f2 = r3.change((d) => void (d.f = 2));
    const f3 = r3.change((d) => void (d.f = 3));
    const w1 = await commit('doc', 'feature', [f1], [hashOf(m.c2)]);
    const w2 = await commit('doc', 'feature', [f2, f3], [hashOf(f1)]);
    const expected: HistoryItem[] = [
      {
        epoch: w2.epoch,
        committedAt: w2.committedAt,
        seqFrom: 4,
        seqTo: 5,
        changes: 2,
        heads: [hashOf(f3)],
      },
      {
        epoch: w1.epoch,
        committedAt: w1.committedAt,
        seqFrom: 3,
        seqTo: 3,
        changes: 1,
        heads: [hashOf(f1)],
      },
      ...parentPart,
    ];
    for (const limit of [1, 2, 3, 4, 100]) {
      const { items } = await allPages<HistoryItem>('/docs/doc/history?branch=feature', limit);
      expect(items, `limit ${limit}`).toEqual(expected);
    }
    // A fork of the fork below its own fork point sees only main's first commit.
    expectStatus(
      await post('/docs/doc/branches', { name: 'deep', from: { branch: 'feature', seq: 1 } }),
      201,
    );
    const rd = new Replica(4, docOf([m.c1]));
    const d1 = rd.change((d) => void (d.deep = 1));
    const wd = await commit('doc', 'deep', [d1], [hashOf(m.c1)]);
    for (const limit of [1, 2, 10]) {
      const { items } = await allPages<HistoryItem>('/docs/doc/history?branch=deep', limit);
      expect(items).toEqual([
        {
          epoch: wd.epoch,
          committedAt: wd.committedAt,
          seqFrom: 2,
          seqTo: 2,
          changes: 1,
          heads: [hashOf(d1)],
        },
        parentPart[1],
      ]);
    }
  });

  it('a branch with no commits of its own, forked inside a commit, shows the parent part clipped', async () => {
    const m = await seedMain();
    const [e1, e2] = m.commits as [Committed, Committed];
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 2 } }), 201);
    const page = expectStatus(
      await get<Page<HistoryItem>>('/docs/doc/history?branch=feature'),
      200,
    );
    expect(page).toEqual({
      items: [
        {
          epoch: e2.epoch,
          committedAt: e2.committedAt,
          seqFrom: 2,
          seqTo: 2,
          changes: 1,
          heads: [hashOf(m.c2)],
        },
        {
          epoch: e1.epoch,
          committedAt: e1.committedAt,
          seqFrom: 1,
          seqTo: 1,
          changes: 1,
          heads: [hashOf(m.c1)],
        },
      ],
    });
  });

  it('history errors: unknown doc or branch, bad cursor or limit', async () => {
    await seedMain();
    expectError(await get('/docs/nodoc/history'), 404, 'DocNotFound');
    expectError(await get('/docs/doc/history?branch=nope'), 404, 'BranchNotFound');
    expectError(await get('/docs/doc/history', { space: OTHER_SPACE }), 404, 'DocNotFound');
    expectError(await get('/docs/doc/history?cursor=%%%'), 400, 'ValidationError');
    expectError(await get('/docs/doc/history?cursor=e30'), 400, 'ValidationError');
    expectError(await get('/docs/doc/history?limit=0'), 400, 'ValidationError');
    expectError(await get('/docs/doc/history?limit=x'), 400, 'ValidationError');
    expectError(await get('/docs/doc/history?limit=1&limit=2'), 400, 'ValidationError');
  });
});

describe('doc listing', () => {
  it('lists docs in order with their branches and last epoch; prefix and cursor paging', async () => {
    const ids = ['a/1', 'a/2', 'a/3', 'a_b', 'ab', 'b/1', 'é'];
    const lastEpoch = new Map<string, number>();
    const replicas = new Map<string, Replica>();
    for (const [i, id] of ids.entries()) {
      const r = new Replica(i + 1);
      replicas.set(id, r);
      const w = await commit(id, 'main', [r.change((d) => void (d.id = id))], []);
      lastEpoch.set(id, w.epoch);
    }
    // A later commit of a/1, and a branch of a/2 (no own commit).
    const r = replicas.get('a/1') as Replica;
    const heads = r.heads;
    lastEpoch.set(
      'a/1',
      (await commit('a/1', 'main', [r.change((d) => void (d.x = 1))], heads)).epoch,
    );
    expectStatus(await post(`/docs/${encodeURIComponent('a/2')}/branches`, { name: 'feat' }), 201);
    const expected = ids.map((id) => ({
      docId: id,
      branches: id === 'a/2' ? ['feat', 'main'] : ['main'],
      lastEpoch: lastEpoch.get(id),
    }));
    const all = expectStatus(await get<Page<unknown>>('/docs'), 200);
    expect(all).toEqual({ items: expected });
    for (const limit of [1, 2, 3, 7, 8]) {
      const { items, pages } = await allPages('/docs', limit);
      expect(items, `limit ${limit}`).toEqual(expected);
      expect(pages).toBeLessThanOrEqual(Math.ceil(ids.length / limit) + 1);
    }
    const byPrefix = async (prefix: string) =>
      (
        await allPages<{ docId: string }>(`/docs?prefix=${encodeURIComponent(prefix)}`, 2)
      ).items.map((i) => i.docId);
    expect(await byPrefix('a/')).toEqual(['a/1', 'a/2', 'a/3']);
    // No wildcard semantics: "_" and "%" are plain characters.
    expect(await byPrefix('a_')).toEqual(['a_b']);
    expect(await byPrefix('a%')).toEqual([]);
    expect(await byPrefix('a')).toEqual(['a/1', 'a/2', 'a/3', 'a_b', 'ab']);
    expect(await byPrefix('é')).toEqual(['é']);
    expect(await byPrefix('zzz')).toEqual([]);
    // The first page of a prefix with limit 1 continues exactly after its item.
    const first = expectStatus(await get<Page<{ docId: string }>>('/docs?prefix=a/&limit=1'), 200);
    expect(first.items.map((i) => i.docId)).toEqual(['a/1']);
    expect(first.nextCursor).toBeDefined();
  });

  it('an unknown space has no docs; bad cursors and limits are ValidationError', async () => {
    expect(expectStatus(await get('/docs', { space: OTHER_SPACE }), 200)).toEqual({ items: [] });
    await seedMain();
    expectError(await get('/docs?cursor=!!'), 400, 'ValidationError');
    expectError(await get('/docs?cursor=e30'), 400, 'ValidationError');
    expectError(await get('/docs?limit=0'), 400, 'ValidationError');
    expectError(await get('/docs?limit=100001'), 400, 'ValidationError');
    expectError(await get('/docs?prefix=a&prefix=b'), 400, 'ValidationError');
  });
});

describe('snapshots route', () => {
  it('POST makes one (201) and GET returns bytes that load to its heads', async () => {
    const m = await seedMain();
    const made = expectStatus(
      await post<SnapshotReply>('/docs/doc/snapshots', { branch: 'main', seq: 3 }),
      201,
    );
    const expected = docOf(m.log.slice(0, 3));
    expect(made).toEqual({
      snapshotId: expect.any(String),
      seq: 3,
      heads: headsOf(expected),
      rootRef: rootRefOf(headsOf(expected)),
      bytes: expect.any(Number),
    });
    const got = await get<Uint8Array>(`/snapshots/${made.snapshotId}`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toContain('application/automerge');
    expect(got.body.byteLength).toBe(made.bytes);
    const loaded = A.load<Record<string, unknown>>(got.body);
    expect(headsOf(loaded)).toEqual(made.heads);
    expect(jsonOf(loaded)).toEqual(jsonOf(expected));
    // Defaults: branch main, its current seq (an empty body, or {}).
    for (const body of [undefined, {}]) {
      const current = expectStatus(await post<SnapshotReply>('/docs/doc/snapshots', body), 201);
      expect(current).toMatchObject({ seq: 5, heads: sorted([hashOf(m.b1), hashOf(m.c4)]) });
      const bytes = await get<Uint8Array>(`/snapshots/${current.snapshotId}`);
      expect(headsOf(A.load(bytes.body))).toEqual(current.heads);
    }
    // On a branch, below its fork point: the parent's state there.
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 4 } }), 201);
    const low = expectStatus(
      await post<SnapshotReply>('/docs/doc/snapshots', { branch: 'feature', seq: 2 }),
      201,
    );
    expect(low.heads).toEqual([hashOf(m.c2)]);
    const lowBytes = await get<Uint8Array>(`/snapshots/${low.snapshotId}`);
    expect(jsonOf(A.load(lowBytes.body))).toEqual(jsonOf(docOf(m.log.slice(0, 2))));
    const ids = new Set([made.snapshotId, low.snapshotId]);
    expect(ids.size).toBe(2);
  });

  it('unknown snapshot ids are 404 SnapshotNotFound, also from another space', async () => {
    await seedMain();
    const made = expectStatus(await post<SnapshotReply>('/docs/doc/snapshots', {}), 201);
    // Another space with data of its own but no snapshots.
    await engine.ok(
      { writes: [write('doc', [new Replica(4).change((d) => void (d.o = 1))])] },
      OTHER_SPACE,
    );
    expectError(
      await get(`/snapshots/${made.snapshotId}`, { space: OTHER_SPACE }),
      404,
      'SnapshotNotFound',
    );
    for (const id of ['999999', '0', 'abc', '-1', '1.5', '99999999999999999999']) {
      expectError(await get(`/snapshots/${id}`), 404, 'SnapshotNotFound');
    }
    expectError(
      await get('/snapshots/1', { space: 'did:key:z6MkNobodyHere' }),
      404,
      'SnapshotNotFound',
    );
  });

  it('POST errors: unknown doc, branch or seq; bad bodies', async () => {
    await seedMain();
    expectError(await post('/docs/nodoc/snapshots', {}), 404, 'DocNotFound');
    expectError(await post('/docs/doc/snapshots', {}, { space: OTHER_SPACE }), 404, 'DocNotFound');
    expectError(await post('/docs/doc/snapshots', { branch: 'nope' }), 404, 'BranchNotFound');
    expectError(await post('/docs/doc/snapshots', { seq: 6 }), 404, 'VersionNotFound');
    expectError(await post('/docs/doc/snapshots', { seq: 0 }), 404, 'VersionNotFound');
    for (const body of [{ seq: 'x' }, { seq: -1 }, { branch: 'bad name' }, { extra: 1 }, '{']) {
      expectError(await post('/docs/doc/snapshots', body), 400, 'ValidationError');
    }
  });
});

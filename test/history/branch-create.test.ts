import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { hashOf, Replica } from '../helpers/changes.js';
import { OTHER_SPACE, SPACE } from '../helpers/engine.js';
import {
  T0,
  branches,
  commit,
  docOf,
  engine,
  expectError,
  expectStatus,
  get,
  headsOf,
  jsonOf,
  post,
  readDoc,
  rootRefOf,
  seedMain,
  sorted,
  tipEpoch,
  useEngine,
  type BranchView,
  type Committed,
  type HistoryItem,
  type Page,
} from './branch-fixture.js';

/** SPEC §3-§5 over HTTP, in-process, on the backend under test: creating a branch from any point of a doc’s history. */

useEngine();

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
    expect(history.items.map((i) => [i.seq, i.hash])).toEqual([[1, hashOf(y1)]]);
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

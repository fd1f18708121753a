import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { hashOf, Replica } from '../helpers/changes.js';
import { OTHER_SPACE } from '../helpers/engine.js';
import {
  allPages,
  commit,
  docOf,
  expectError,
  expectStatus,
  get,
  post,
  seedMain,
  useEngine,
  type Committed,
  type HistoryItem,
  type Page,
} from './branch-fixture.js';

/** SPEC §3-§5 over HTTP, in-process, on the backend under test: the history feed. */

useEngine();

/** The history item SPEC §3 describes for one change at a seq, appended by `c`. */
function itemOf(bytes: Uint8Array, seq: number, c: Committed): HistoryItem {
  const d = A.decodeChange(bytes);
  return {
    seq,
    epoch: c.epoch,
    committedAt: c.committedAt,
    hash: d.hash as string,
    actor: d.actor,
    actorSeq: d.seq,
    deps: [...d.deps].sort(),
    time: d.time,
    ...(d.message ? { message: d.message } : {}),
  };
}

describe('history feed', () => {
  it('lists one item per change, newest first, and pages with a cursor until exhausted', async () => {
    const m = await seedMain();
    const [e1, e2, e3, e4] = m.commits as [Committed, Committed, Committed, Committed];
    const byCommit = [e1, e2, e2, e3, e4];
    const expected = m.log.map((bytes, i) => itemOf(bytes, i + 1, byCommit[i] as Committed));
    expected.reverse();
    // A commit of several changes gives one item per change, with the same epoch.
    expect(expected[2]?.epoch).toBe(expected[3]?.epoch);
    const full = expectStatus(await get<Page<HistoryItem>>('/docs/doc/history'), 200);
    expect(full).toEqual({ items: expected });
    for (const limit of [1, 2, 3, 4, 5, 6]) {
      const { items, pages } = await allPages<HistoryItem>('/docs/doc/history', limit);
      expect(items, `limit ${limit}`).toEqual(expected);
      expect(pages, `limit ${limit}`).toBe(Math.max(1, Math.ceil(expected.length / limit)));
    }
  });

  it('carries the message a change was made with', async () => {
    const r = new Replica(9);
    const c1 = r.change((d) => void (d.a = 1), 'first edit');
    const w = await commit('msg', 'main', [c1], []);
    const page = expectStatus(await get<Page<HistoryItem>>('/docs/msg/history'), 200);
    expect(page.items).toEqual([itemOf(c1, 1, w)]);
    expect(page.items[0]?.message).toBe('first edit');
  });

  it("a branch's history includes the parent's changes below the fork point", async () => {
    const m = await seedMain();
    const [e1, e2] = m.commits as [Committed, Committed];
    // Fork inside the c2-c3 commit: the parent part is c1 (e1) and c2 (e2).
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 2 } }), 201);
    const parentPart = [itemOf(m.c2, 2, e2), itemOf(m.c1, 1, e1)];
    const r3 = new Replica(3, docOf(m.log.slice(0, 2)));
    const f1 = r3.change((d) => void (d.f = 1));
    const f2 = r3.change((d) => void (d.f = 2));
    const f3 = r3.change((d) => void (d.f = 3));
    const w1 = await commit('doc', 'feature', [f1], [hashOf(m.c2)]);
    const w2 = await commit('doc', 'feature', [f2, f3], [hashOf(f1)]);
    const expected = [itemOf(f3, 5, w2), itemOf(f2, 4, w2), itemOf(f1, 3, w1), ...parentPart];
    for (const limit of [1, 2, 3, 4, 100]) {
      const { items } = await allPages<HistoryItem>('/docs/doc/history?branch=feature', limit);
      expect(items, `limit ${limit}`).toEqual(expected);
    }
    // A fork of the fork below its own fork point sees only main's first change.
    expectStatus(
      await post('/docs/doc/branches', { name: 'deep', from: { branch: 'feature', seq: 1 } }),
      201,
    );
    const rd = new Replica(4, docOf([m.c1]));
    const d1 = rd.change((d) => void (d.deep = 1));
    const wd = await commit('doc', 'deep', [d1], [hashOf(m.c1)]);
    for (const limit of [1, 2, 10]) {
      const { items } = await allPages<HistoryItem>('/docs/doc/history?branch=deep', limit);
      expect(items).toEqual([itemOf(d1, 2, wd), parentPart[1]]);
    }
  });

  it('a branch with no changes of its own, forked inside a commit, shows the parent part', async () => {
    const m = await seedMain();
    const [e1, e2] = m.commits as [Committed, Committed];
    expectStatus(await post('/docs/doc/branches', { name: 'feature', from: { seq: 2 } }), 201);
    const page = expectStatus(
      await get<Page<HistoryItem>>('/docs/doc/history?branch=feature'),
      200,
    );
    expect(page).toEqual({ items: [itemOf(m.c2, 2, e2), itemOf(m.c1, 1, e1)] });
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

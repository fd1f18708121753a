import { describe, expect, it } from 'vitest';
import { hashOf, Replica, write } from '../helpers/changes.js';
import { OTHER_SPACE } from '../helpers/engine.js';
import {
  branches,
  commit,
  docOf,
  expectError,
  expectStatus,
  get,
  post,
  readDoc,
  seedMain,
  sorted,
  tipEpoch,
  useEngine,
  type BranchView,
  type ErrorBody,
} from './branch-fixture.js';

/** SPEC §3-§5 over HTTP, in-process, on the backend under test: listing and closing branches. */

useEngine();

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

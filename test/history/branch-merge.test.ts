import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { hashOf, Replica, write } from '../helpers/changes.js';
import {
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
  start,
  tipEpoch,
  useEngine,
  type DocJson,
  type MergeReply,
} from './branch-fixture.js';

/** SPEC §3-§5 over HTTP, in-process, on the backend under test: client and server merges. */

useEngine();

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

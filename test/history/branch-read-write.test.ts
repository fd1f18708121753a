import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { DocCache } from '../../src/read/doc-cache.js';
import { DocReader } from '../../src/read/doc-reader.js';
import { hashOf, Replica, write } from '../helpers/changes.js';
import { SPACE } from '../helpers/engine.js';
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
  tipEpoch,
  useEngine,
  type Committed,
  type DocJson,
} from './branch-fixture.js';

/** SPEC §3-§5 over HTTP, in-process, on the backend under test: reading and writing a forked branch. */

useEngine();

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
        expect(viaSnapshots.heads, `${where} (snapshots)`).toEqual(headsOf(expected));
        expect(viaSnapshots.json(), `${where} (snapshots)`).toEqual(jsonOf(expected));
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

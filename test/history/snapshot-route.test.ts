import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { hashOf, Replica, write } from '../helpers/changes.js';
import { OTHER_SPACE } from '../helpers/engine.js';
import {
  docOf,
  engine,
  expectError,
  expectStatus,
  get,
  headsOf,
  jsonOf,
  post,
  rootRefOf,
  seedMain,
  sorted,
  useEngine,
  type SnapshotReply,
} from './branch-fixture.js';

/** SPEC §3-§5 over HTTP, in-process, on the backend under test: the snapshots route. */

useEngine();

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

import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { hashOf, Replica } from '../helpers/changes.js';
import {
  docOf,
  expectError,
  expectStatus,
  get,
  post,
  readDoc,
  seedMain,
  tipEpoch,
  useEngine,
  type Receipt,
} from './branch-fixture.js';

/** SPEC §3-§5 over HTTP, in-process, on the backend under test: importing Automerge files. */

useEngine();

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

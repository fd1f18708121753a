import * as A from '@automerge/automerge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rootRef } from '../../src/crdt/heads.js';
import { b64, hashOf, Replica, write } from '../helpers/changes.js';
import { OTHER_SPACE, SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/** SPEC §2: every rule of the transaction pipeline, with its error code, on real SQLite. */
describe('transaction rules (SPEC §2)', () => {
  let engine: TestEngine;
  let now = 1_700_000_000_000;
  beforeEach(async () => {
    now = 1_700_000_000_000;
    engine = await startEngine({ clock: () => now });
  });
  afterEach(async () => {
    await engine.close();
  });

  const current = (docId: string, branch = 'main') =>
    engine.cairn.reader.readDoc(SPACE, docId, branch, { kind: 'current' });

  async function seed(docId = 'a') {
    const r = new Replica(1);
    const c1 = r.change((d) => {
      d.n = 1;
    });
    const receipt = await engine.ok({ writes: [write(docId, [c1])] });
    return { r, c1, receipt };
  }

  describe('step 1: shape and limits', () => {
    it('refuses a body of the wrong shape with ValidationError', async () => {
      await expect(engine.tx({ writes: 'x' })).rejects.toMatchObject({ code: 'ValidationError' });
      await expect(
        engine.tx({ writes: [{ docId: 'a', baseHeads: [], changes: [] }] }),
      ).rejects.toMatchObject({
        code: 'ValidationError',
      });
      await expect(
        engine.tx({ writes: [{ docId: 'a', baseHeads: ['zz'], changes: ['AA=='] }] }),
      ).rejects.toMatchObject({
        code: 'ValidationError',
      });
      await expect(engine.tx({ extra: 1 })).rejects.toMatchObject({ code: 'ValidationError' });
    });

    it('refuses a change string that is not base64 with ValidationError', async () => {
      await expect(
        engine.tx({ writes: [{ docId: 'a', baseHeads: [], changes: ['not base64!'] }] }),
      ).rejects.toMatchObject({
        code: 'ValidationError',
      });
    });

    it('refuses too many writes with LimitExceeded', async () => {
      const writes = Array.from({ length: 101 }, (_, i) => ({
        docId: `d${i}`,
        baseHeads: [],
        changes: ['AA=='],
      }));
      await expect(engine.tx({ writes })).rejects.toMatchObject({ code: 'LimitExceeded' });
    });

    it('refuses a change over the size limit with LimitExceeded', async () => {
      const small = await startEngine({ limits: { maxChangeBytes: 16 } });
      try {
        const big = b64(new Uint8Array(64));
        await expect(
          small.tx({ writes: [{ docId: 'a', baseHeads: [], changes: [big] }] }),
        ).rejects.toMatchObject({
          code: 'LimitExceeded',
        });
      } finally {
        await small.close();
      }
    });

    it('refuses two writes to the same branch in one transaction', async () => {
      const r = new Replica(1);
      const c = r.change((d) => {
        d.x = 1;
      });
      await expect(engine.tx({ writes: [write('a', [c]), write('a', [c])] })).rejects.toMatchObject(
        {
          code: 'ValidationError',
        },
      );
    });
  });

  describe('step 2: idempotency', () => {
    it('returns the stored receipt for a repeated clientTxId and commits nothing new', async () => {
      const r = new Replica(1);
      const c1 = r.change((d) => {
        d.n = 1;
      });
      const first = await engine.ok({ clientTxId: 'k1', writes: [write('a', [c1])] });
      const c2 = r.change((d) => {
        d.n = 2;
      });
      // Same key, different body: the key wins (the first answer comes back).
      const again = await engine.ok({ clientTxId: 'k1', writes: [write('a', [c2], r.heads)] });
      expect(again).toEqual(first);
      expect((await current('a')).seq).toBe(1);
      const next = await engine.ok({ writes: [write('a', [c2], [hashOf(c1)])] });
      expect(next.epoch).toBe(2);
    });

    it('keeps receipts for 24 hours, then forgets them', async () => {
      const r = new Replica(1);
      const c1 = r.change((d) => {
        d.n = 1;
      });
      const first = await engine.ok({ clientTxId: 'k', writes: [write('a', [c1])] });
      now += 24 * 3600 * 1000 - 1;
      expect(await engine.ok({ clientTxId: 'k', writes: [write('b', [c1])] })).toEqual(first);
      now += 2;
      const later = await engine.ok({ clientTxId: 'k', writes: [write('b', [c1])] });
      expect(later.epoch).toBe(2);
    });
  });

  describe('step 3: read set', () => {
    it('refuses a stale read with ReadConflict and the current heads', async () => {
      const { c1 } = await seed('a');
      const r2 = new Replica(2);
      const out = await engine.refused({
        reads: [{ docId: 'a', heads: [] }],
        writes: [write('b', [r2.change((d) => void (d.x = 1))])],
      });
      expect(out.error).toMatchObject({
        code: 'ReadConflict',
        docId: 'a',
        currentHeads: [hashOf(c1)],
      });
      expect(out.results).toEqual([{ docId: 'b', branch: 'main', status: 'notChecked' }]);
    });

    it('accepts a fresh read, and heads [] for a doc that does not exist yet', async () => {
      const { c1 } = await seed('a');
      const r2 = new Replica(2);
      await engine.ok({
        reads: [
          { docId: 'a', heads: [hashOf(c1)] },
          { docId: 'ghost', heads: [] },
        ],
        writes: [write('b', [r2.change((d) => void (d.x = 1))])],
      });
    });
  });

  describe('step 4: branch and base heads', () => {
    it('refuses stale baseHeads with StaleBaseHeads and the current heads', async () => {
      const { r, c1 } = await seed('a');
      const c2 = r.change((d) => void (d.n = 2));
      const out = await engine.refused({ writes: [write('a', [c2], [])] });
      expect(out.error).toMatchObject({ code: 'StaleBaseHeads', currentHeads: [hashOf(c1)] });
      expect(out.results[0]).toMatchObject({ status: 'error', code: 'StaleBaseHeads' });
    });

    it('accepts baseHeads given in any order (a set)', async () => {
      const a = new Replica(1);
      const b = new Replica(2);
      const ca = a.change((d) => void (d.a = 1));
      const cb = b.change((d) => void (d.b = 1));
      await engine.ok({ writes: [write('a', [ca, cb])] });
      const heads = [hashOf(ca), hashOf(cb)].sort().reverse();
      a.receive([cb]);
      await engine.ok({ writes: [write('a', [a.change((d) => void (d.c = 1))], heads)] });
    });

    it('merge: true accepts older baseHeads that exist in the history', async () => {
      const { r, c1 } = await seed('a');
      const other = new Replica(2, r.doc);
      await engine.ok({
        writes: [write('a', [other.change((d) => void (d.o = 1))], [hashOf(c1)])],
      });
      const mine = r.change((d) => void (d.m = 1));
      const receipt = await engine.ok({
        writes: [write('a', [mine], [hashOf(c1)], { merge: true })],
      });
      expect(receipt.results[0]?.newHeads).toHaveLength(2);
    });

    it('merge: true refuses a baseHead missing from the history with MissingDependency', async () => {
      const { r } = await seed('a');
      const out = await engine.refused({
        writes: [write('a', [r.change((d) => void (d.n = 2))], ['f'.repeat(64)], { merge: true })],
      });
      expect(out.error).toMatchObject({ code: 'MissingDependency', hash: 'f'.repeat(64) });
    });

    it('merge: true checks mergeOf heads against the source branch', async () => {
      const { r, c1 } = await seed('a');
      const feature = new Replica(2, r.doc);
      const f1 = feature.change((d) => void (d.f = 1));
      await engine.ok({ writes: [write('a', [c1, f1], [], { branch: 'feature' })] });
      const bad = await engine.refused({
        writes: [
          write('a', [f1], [hashOf(c1)], {
            merge: true,
            mergeOf: [{ branch: 'feature', heads: ['e'.repeat(64)] }],
          }),
        ],
      });
      expect(bad.error).toMatchObject({ code: 'MissingDependency', branch: 'feature' });
      const missing = await engine.refused({
        writes: [
          write('a', [f1], [hashOf(c1)], { merge: true, mergeOf: [{ branch: 'nope', heads: [] }] }),
        ],
      });
      expect(missing.error).toMatchObject({ code: 'BranchNotFound', branch: 'nope' });
    });

    it('closeMerged closes the source; later writes to it get BranchClosed; its reads keep working', async () => {
      const { r, c1 } = await seed('a');
      const feature = new Replica(2, r.doc);
      const f1 = feature.change((d) => void (d.f = 1));
      await engine.ok({ writes: [write('a', [c1, f1], [], { branch: 'feature' })] });
      r.receive([f1]);
      const m = r.change((d) => void (d.merged = true));
      const receipt = await engine.ok({
        writes: [
          write('a', [f1, m], [hashOf(c1)], {
            merge: true,
            mergeOf: [{ branch: 'feature', heads: [hashOf(f1)] }],
            closeMerged: true,
          }),
        ],
      });
      expect(receipt.results[0]).toMatchObject({ applied: 2, newHeads: [hashOf(m)] });
      const f2 = feature.change((d) => void (d.f = 2));
      const out = await engine.refused({
        writes: [write('a', [f2], [hashOf(f1)], { branch: 'feature' })],
      });
      expect(out.error).toMatchObject({ code: 'BranchClosed', branch: 'feature' });
      const v = await current('a', 'feature');
      expect(v.heads).toEqual([hashOf(f1)]);
    });
  });

  describe('step 5: per change', () => {
    it('refuses bytes that are not an Automerge change with InvalidChange', async () => {
      const out = await engine.refused({
        writes: [{ docId: 'a', baseHeads: [], changes: [b64(Buffer.from('garbage!'))] }],
      });
      expect(out.error).toMatchObject({ code: 'InvalidChange', changeIndex: 0 });
    });

    it('refuses a whole document (not a change) with InvalidChange', async () => {
      const r = new Replica(1);
      r.change((d) => void (d.x = 1));
      const out = await engine.refused({
        writes: [{ docId: 'a', baseHeads: [], changes: [b64(A.save(r.doc))] }],
      });
      expect(out.error.code).toBe('InvalidChange');
    });

    it('skips changes already in the history and counts them as duplicates', async () => {
      const { r, c1 } = await seed('a');
      const c2 = r.change((d) => void (d.n = 2));
      const receipt = await engine.ok({ writes: [write('a', [c1, c2], [hashOf(c1)])] });
      expect(receipt.results[0]).toMatchObject({ applied: 1, duplicates: 1, seq: 2 });
    });

    it('treats a write of only known changes as a no-op success whatever its baseHeads', async () => {
      const { c1, receipt: first } = await seed('a');
      const again = await engine.ok({ writes: [write('a', [c1], ['a'.repeat(64)])] });
      expect(again.epoch).toBe(first.epoch);
      expect(again.txHash).toBe(first.txHash);
      expect(again.results[0]).toMatchObject({
        applied: 0,
        duplicates: 1,
        seq: 1,
        newHeads: [hashOf(c1)],
      });
    });

    it('refuses a change whose dep is unknown with MissingDependency', async () => {
      const r = new Replica(1);
      r.change((d) => void (d.n = 1));
      const c2 = r.change((d) => void (d.n = 2));
      const out = await engine.refused({ writes: [write('a', [c2])] });
      expect(out.error).toMatchObject({ code: 'MissingDependency', changeIndex: 0 });
    });

    it('accepts a dep that comes earlier in the same write, refuses one that comes later', async () => {
      const r = new Replica(1);
      const c1 = r.change((d) => void (d.n = 1));
      const c2 = r.change((d) => void (d.n = 2));
      const late = await engine.refused({ writes: [write('a', [c2, c1])] });
      expect(late.error.code).toBe('MissingDependency');
      await engine.ok({ writes: [write('a', [c1, c2])] });
    });

    it('refuses an actor seq that skips ahead with NonMonotonicSeq', async () => {
      const { c1 } = await seed('a');
      // Same actor, seq 3, but depending only on c1 (a hand-made gap).
      const r = new Replica(1);
      r.receive([c1]);
      const c2 = r.change((d) => void (d.n = 2));
      const decoded = A.decodeChange(c2);
      const gap = A.encodeChange({
        ...decoded,
        seq: 3,
        hash: undefined,
      } as unknown as A.DecodedChange);
      const out = await engine.refused({ writes: [write('a', [gap], [hashOf(c1)])] });
      expect(out.error).toMatchObject({ code: 'NonMonotonicSeq', changeIndex: 0 });
    });

    it('refuses a second change with an actor seq already used (a fork of one actor)', async () => {
      const { c1 } = await seed('a');
      const fork = new Replica(1);
      fork.receive([]);
      const other = fork.change((d) => void (d.other = true));
      const out = await engine.refused({ writes: [write('a', [other], [hashOf(c1)])] });
      expect(out.error.code).toBe('NonMonotonicSeq');
    });
  });

  describe('step 6: heads', () => {
    it('keeps concurrent changes as several heads and collapses them with a merge change', async () => {
      const { r, c1 } = await seed('a');
      const other = new Replica(2, r.doc);
      const x = r.change((d) => void (d.x = 1));
      const y = other.change((d) => void (d.y = 1));
      const both = await engine.ok({ writes: [write('a', [x, y], [hashOf(c1)])] });
      expect(both.results[0]?.newHeads).toEqual([hashOf(x), hashOf(y)].sort());
      expect(both.results[0]?.rootRef).toBe(rootRef([hashOf(x), hashOf(y)]));
      r.receive([y]);
      const m = r.change((d) => void (d.m = 1));
      const merged = await engine.ok({ writes: [write('a', [m], both.results[0]?.newHeads)] });
      expect(merged.results[0]?.newHeads).toEqual([hashOf(m)]);
      expect((await current('a')).heads).toEqual([hashOf(m)]);
    });
  });

  describe('step 7: invariants', () => {
    it('refuses a transaction whose post-state breaks an invariant with InvariantFailed and its name', async () => {
      engine.cairn.registerInvariant(SPACE, {
        name: 'n-is-small',
        check: ({ doc }) => ((doc as { n?: number }).n ?? 0) < 10 || 'n must stay below 10',
      });
      const { r, c1 } = await seed('a');
      const big = r.change((d) => void (d.n = 99));
      const out = await engine.refused({ writes: [write('a', [big], [hashOf(c1)])] });
      expect(out.error).toMatchObject({ code: 'InvariantFailed', name: 'n-is-small', docId: 'a' });
      expect((await current('a')).seq).toBe(1);
    });

    it('fails closed when an invariant throws, and leaves other spaces alone', async () => {
      engine.cairn.registerInvariant(SPACE, {
        name: 'boom',
        check: () => {
          throw new Error('bug in invariant');
        },
      });
      const r = new Replica(1);
      const c1 = r.change((d) => void (d.n = 1));
      expect((await engine.refused({ writes: [write('a', [c1])] })).error).toMatchObject({
        code: 'InvariantFailed',
        name: 'boom',
      });
      await engine.ok({ writes: [write('a', [c1])] }, OTHER_SPACE);
    });

    it('sees the changes of the same transaction in the post-state', async () => {
      const seen: unknown[] = [];
      engine.cairn.registerInvariant(SPACE, {
        name: 'spy',
        check: ({ doc }) => void seen.push(A.toJS(doc)),
      });
      const r = new Replica(1);
      const c1 = r.change((d) => void (d.n = 1));
      const c2 = r.change((d) => void (d.n = 2));
      await engine.ok({ writes: [write('a', [c1, c2])] });
      expect(seen).toEqual([{ n: 2 }]);
    });
  });

  describe('step 8: all or nothing', () => {
    it('keeps nothing of a transaction whose second write fails and uses no epoch', async () => {
      const { r } = await seed('a');
      const ok = new Replica(2).change((d) => void (d.fine = true));
      const stale = r.change((d) => void (d.n = 5));
      const out = await engine.refused({ writes: [write('b', [ok]), write('a', [stale], [])] });
      expect(out.results.map((x) => x.status)).toEqual(['aborted', 'error']);
      await expect(current('b')).rejects.toMatchObject({ code: 'DocNotFound' });
      const next = await engine.ok({ writes: [write('b', [ok])] });
      expect(next.epoch).toBe(2);
    });
  });

  describe('step 9: commit', () => {
    it('gives dense epochs and non-decreasing committedAt, even if the clock goes back', async () => {
      const r = new Replica(1);
      const epochs: number[] = [];
      const times: number[] = [];
      let heads: string[] = [];
      for (let i = 0; i < 5; i++) {
        now += i % 2 === 0 ? 1000 : -5000;
        const c = r.change((d) => void (d.n = i));
        const receipt = await engine.ok({ writes: [write('a', [c], heads)] });
        heads = receipt.results[0]?.newHeads ?? [];
        epochs.push(receipt.epoch);
        times.push(receipt.committedAt);
      }
      expect(epochs).toEqual([1, 2, 3, 4, 5]);
      expect([...times].sort((x, y) => x - y)).toEqual(times);
    });

    it('keeps spaces apart: the same doc id in two spaces has separate histories', async () => {
      const a = new Replica(1).change((d) => void (d.v = 'a'));
      const b = new Replica(2).change((d) => void (d.v = 'b'));
      await engine.ok({ writes: [write('doc', [a])] }, SPACE);
      const other = await engine.ok({ writes: [write('doc', [b])] }, OTHER_SPACE);
      expect(other.epoch).toBe(1);
      const va = await engine.cairn.reader.readDoc(SPACE, 'doc', 'main', { kind: 'current' });
      expect(va.heads).toEqual([hashOf(a)]);
    });

    it('keeps every committed transaction across a restart', async () => {
      const { r, c1 } = await seed('a');
      const c2 = r.change((d) => void (d.n = 2));
      await engine.ok({ writes: [write('a', [c2], [hashOf(c1)])] });
      await engine.reopen();
      const v = await current('a');
      expect(v.seq).toBe(2);
      expect(v.heads).toEqual([hashOf(c2)]);
      const c3 = r.change((d) => void (d.n = 3));
      expect((await engine.ok({ writes: [write('a', [c3], [hashOf(c2)])] })).epoch).toBe(3);
    });
  });
});

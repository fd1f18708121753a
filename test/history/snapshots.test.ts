import * as A from '@automerge/automerge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DocCache } from '../../src/read/doc-cache.js';
import { DocReader } from '../../src/read/doc-reader.js';
import { DEFAULT_SNAPSHOT_POLICY, snapshotsToDrop } from '../../src/history/snapshot-policy.js';
import { Replica, write } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/** SPEC §5: snapshots are caches made off the commit path, verified on load, kept by policy. */
describe('snapshot retention', () => {
  const snaps = (seqs: number[]) => seqs.map((seq, i) => ({ id: i + 1, seq }));

  it('keeps the newest N automatic snapshots', () => {
    const policy = { ...DEFAULT_SNAPSHOT_POLICY, keep: 3, anchorEvery: 0 };
    expect(snapshotsToDrop(snaps([10, 20, 30, 40, 50]), policy).sort()).toEqual([1, 2]);
  });

  it('also keeps the oldest snapshot of every stretch of anchorEvery seqs', () => {
    const policy = { ...DEFAULT_SNAPSHOT_POLICY, keep: 2, anchorEvery: 100 };
    // Stretches: [0,100) → 10; [100,200) → 120; [200,300) → 250 (the newest two are kept anyway).
    const dropped = snapshotsToDrop(snaps([10, 60, 120, 150, 180, 250, 290]), policy);
    expect(dropped.sort()).toEqual([2, 4, 5]);
  });
});

describe('snapshots', () => {
  let engine: TestEngine;
  beforeEach(async () => {
    engine = await startEngine({
      snapshotPolicy: { everyChanges: 10, everyBytes: 1 << 30, keep: 3, anchorEvery: 0 },
    });
  });
  afterEach(async () => {
    await engine.close();
  });

  async function commitMany(n: number, docId = 'd', r = new Replica(1)): Promise<Replica> {
    let heads = r.heads;
    for (let i = 0; i < n; i++) {
      const receipt = await engine.ok({
        writes: [write(docId, [r.change((d) => void (d.n = i))], heads)],
      });
      heads = receipt.results[0]?.newHeads ?? [];
    }
    return r;
  }

  async function branchSnapshots(docId = 'd') {
    const lease = await engine.cairn.backend.acquireSpace(SPACE, { create: false });
    try {
      const branch = await lease!.store.reader.getBranch(docId, 'main');
      return lease!.store.reader.listSnapshots(branch!.id);
    } finally {
      lease!.release();
    }
  }

  it('makes one per policy step after commits, and keeps the newest 3 plus those made on request', async () => {
    const r = new Replica(1);
    for (let step = 0; step < 5; step++) {
      await commitMany(10, 'd', r);
      // Each step settles before the next, so every job sees exactly one step of debt.
      await engine.cairn.snapshots.idle();
      if (step === 1) {
        const pinned = await engine.cairn.snapshots.makeNow(SPACE, 'd', 'main', 7);
        expect(pinned).toMatchObject({ seq: 7, pinned: true });
      }
    }
    const snaps = await branchSnapshots();
    expect(snaps.filter((s) => !s.pinned).map((s) => s.seq)).toEqual([50, 40, 30]);
    expect(snaps.filter((s) => s.pinned).map((s) => s.seq)).toEqual([7]);
    expect(engine.cairn.snapshots.stats.made).toBe(6);
  });

  it('serves identical bytes from a snapshot, from the raw log and from the cache', async () => {
    await commitMany(35);
    await engine.cairn.snapshots.idle();
    expect((await branchSnapshots()).length).toBeGreaterThan(0);
    const viaSnapshots = engine.cairn.reader;
    for (const seq of [1, 9, 10, 11, 20, 29, 30, 35]) {
      const cold = new DocReader(engine.cairn.backend, { cache: new DocCache(1 << 30) });
      const sel = { kind: 'seq', seq } as const;
      // JSON through a snapshot, a cold reader and the cache; bytes served three ways.
      const a = await viaSnapshots.readDoc(SPACE, 'd', 'main', sel);
      const b = await cold.readDoc(SPACE, 'd', 'main', sel);
      const c = await viaSnapshots.readDoc(SPACE, 'd', 'main', sel);
      expect(a.heads).toEqual(b.heads);
      expect(c.json()).toEqual(b.json());
      const bytes = [
        await viaSnapshots.readDocBytes(SPACE, 'd', 'main', sel),
        await cold.readDocBytes(SPACE, 'd', 'main', sel),
        await viaSnapshots.readDocBytes(SPACE, 'd', 'main', sel),
      ].map((v) => Buffer.from(v.bytes));
      expect(bytes[1]).toEqual(bytes[0]);
      expect(bytes[2]).toEqual(bytes[0]);
      expect([...A.getHeads(A.load(bytes[0] as Uint8Array))].sort()).toEqual(b.heads);
    }
    expect(viaSnapshots.stats.fromSnapshot).toBeGreaterThan(0);
    expect(viaSnapshots.stats.fromCache).toBeGreaterThan(0);
  });

  it('detects a corrupt snapshot, never serves it, and rebuilds it', async () => {
    const r = await commitMany(20);
    await engine.cairn.snapshots.idle();
    const [good] = await branchSnapshots();
    expect(good).toBeDefined();
    const at = good!.seq;
    // Overwrite with a snapshot that claims those heads but holds another state.
    const wrong = A.save(A.applyChanges(A.init(), A.getAllChanges(r.doc).slice(0, 5))[0]);
    await engine.cairn.pipeline.runWrite(SPACE, async (ops) => {
      await ops.deleteSnapshots([good!.id]);
      await ops.putSnapshot({ ...good!, pinned: false, createdAt: Date.now(), bytes: wrong });
    });
    const reader = new DocReader(engine.cairn.backend, {
      cache: new DocCache(1 << 30),
      onCorruptSnapshot: (space, meta) => engine.cairn.snapshots.replaceCorrupt(space, meta),
    });
    const v = await reader.readDoc(SPACE, 'd', 'main', { kind: 'seq', seq: at });
    expect((v.json() as { n: number }).n).toBe(at - 1);
    expect(reader.stats.corruptSnapshots).toBe(1);
    await engine.cairn.snapshots.idle();
    const after = await branchSnapshots();
    expect(after.map((s) => s.seq)).toContain(at);
    expect(engine.cairn.snapshots.stats.corruptReplaced).toBe(1);
    const fresh = new DocReader(engine.cairn.backend, { cache: new DocCache(1 << 30) });
    await fresh.readDoc(SPACE, 'd', 'main', { kind: 'seq', seq: at });
    expect(fresh.stats).toMatchObject({ fromSnapshot: 1, corruptSnapshots: 0 });
  });

  it('checks snapshot bytes before the snapshot route serves them: corrupt ones are 404 and replaced', async () => {
    const r = await commitMany(20);
    await engine.cairn.snapshots.idle();
    const [good] = await branchSnapshots();
    const wrong = A.save(A.applyChanges(A.init(), A.getAllChanges(r.doc).slice(0, 5))[0]);
    const id = await engine.cairn.pipeline.runWrite(SPACE, async (ops) => {
      await ops.deleteSnapshots([good!.id]);
      return ops.putSnapshot({ ...good!, pinned: false, createdAt: Date.now(), bytes: wrong });
    });
    const res = await engine.cairn.fetch(
      new Request(`http://cairn.test/v1/${SPACE}/snapshots/${id}`),
    );
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SnapshotNotFound');
    await engine.cairn.snapshots.idle();
    const [replaced] = (await branchSnapshots()).filter((s) => s.seq === good!.seq);
    expect(replaced).toBeDefined();
    const served = await engine.cairn.fetch(
      new Request(`http://cairn.test/v1/${SPACE}/snapshots/${replaced!.id}`),
    );
    expect(served.status).toBe(200);
    expect(A.getHeads(A.load(new Uint8Array(await served.arrayBuffer()))).sort()).toEqual(
      [...good!.heads].sort(),
    );
  });
});

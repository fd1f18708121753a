import { afterEach, describe, expect, it } from 'vitest';
import { Replica, write } from '../helpers/changes.js';
import { startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * Bugs the hammer suites found, each pinned on the backend under test.
 */

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

describe('hammer regressions', () => {
  // Found by hammer-doc (100 concurrent merge writes on one base, PostgreSQL):
  // from ~85 heads on, every commit failed its write batch with 500
  // ("index row size exceeds btree version 4 maximum 2704 for index
  // log_commits"), because PostgreSQL schema step 8 covered commit_heads in a
  // btree index. Fixed by PostgreSQL schema step 11 (the index without heads).
  it('a doc with 120 concurrent heads keeps committing, and its versions and history read back', async () => {
    const CONCURRENT = 120;
    engine = await startEngine();
    const base = new Replica(1);
    const first = await engine.ok({ writes: [write('wide', [base.change((d) => (d.n = 0))])] });
    const baseHeads = first.results[0]?.newHeads ?? [];
    let wideSeq = 0;
    let wideEpoch = 0;
    for (let i = 0; i < CONCURRENT; i++) {
      const r = new Replica(0x100 + i, base.doc);
      const change = r.change((d) => (d[`k${i}`] = i));
      const receipt = await engine.ok({
        writes: [write('wide', [change], baseHeads, { merge: true })],
      });
      expect(receipt.results[0]?.newHeads).toHaveLength(i + 1);
      wideSeq = receipt.results[0]?.seq ?? 0;
      wideEpoch = receipt.epoch;
    }
    const { cairn } = engine;
    const space = 'did:key:z6MkTestSpaceOne';
    const wide = await cairn.read.heads(space, 'wide', 'main');
    expect(wide.heads).toHaveLength(CONCURRENT);

    // A plain write on all of them joins them into one head again.
    const joined = new Replica(0x300, base.doc);
    const all = await cairn.read.changes(space, 'wide', 'main', { fromSeq: 2, limit: 1000 });
    joined.receive(all.items.map((c) => new Uint8Array(Buffer.from(c.bytes, 'base64'))));
    const join = await engine.ok({
      writes: [write('wide', [joined.change((d) => (d.joined = true))], wide.heads)],
    });
    expect(join.results[0]?.newHeads).toHaveLength(1);

    // The version with 120 heads, found through the commit rows, and the history feed.
    const bySeq = await cairn.read.doc(space, 'wide', 'main', { kind: 'seq', seq: wideSeq });
    expect(bySeq.heads).toEqual(wide.heads);
    const byEpoch = await cairn.read.doc(space, 'wide', 'main', {
      kind: 'epoch',
      epoch: wideEpoch,
    });
    expect(byEpoch.heads).toEqual(wide.heads);
    const history = await cairn.read.history(space, 'wide', 'main', undefined, 5);
    expect(history.items).toHaveLength(5);
  });
});

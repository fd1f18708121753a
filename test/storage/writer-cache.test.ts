import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { automergeKind } from '../../src/crdt/automerge/automerge-kind.js';
import type { KindChange as DecodedChange } from '../../src/crdt/doc-kind.js';
import { SqliteSpaceStore } from '../../src/storage/sqlite/sqlite-space-store.js';
import type { SpaceWriteOps } from '../../src/storage/types.js';
import { Replica } from '../helpers/changes.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const SPACE = 'did:key:z6MkWriterCacheSpace';

/** A tx record good enough for the store (the chain itself is tested in test/pipeline). */
function record(epoch: number) {
  const hash = new Uint8Array(32).fill(epoch);
  return {
    epoch,
    committedAt: epoch * 1000,
    txHash: hash,
    prevTxHash: new Uint8Array(32).fill(epoch - 1),
    bodyHash: hash,
    serverSig: new Uint8Array(64),
    serverDid: 'did:key:z6MkServer',
    body: new Uint8Array([0xa0]),
  };
}

async function appendOne(ops: SpaceWriteOps, change: DecodedChange, epoch: number) {
  const branch =
    (await ops.getBranch('doc', 'main')) ??
    (await ops.createBranch({
      docId: 'doc',
      name: 'main',
      kind: 'automerge',
      parentId: null,
      forkSeq: 0,
      forkHeads: [],
      createdAt: 1,
    }));
  await ops.appendCommit(
    {
      branchId: branch.id,
      epoch,
      seqFrom: branch.seq + 1,
      seqTo: branch.seq + 1,
      heads: [change.hash],
      committedAt: epoch * 1000,
    },
    [change],
  );
  await ops.appendTxRecords([record(epoch)]);
  return branch.id;
}

/**
 * The writer connection caches the chain tip, branch rows and actor seqs;
 * whatever a batch did not commit must not survive in that cache.
 */
describe('SQLite writer cache', () => {
  let temp: { dir: string; cleanup: () => void };
  let store: SqliteSpaceStore;
  let changes: DecodedChange[];
  beforeEach(async () => {
    temp = makeTempDir('cairn-writer-cache-');
    store = await SqliteSpaceStore.open(SPACE, path.join(temp.dir, 'space.sqlite'), {
      sync: 'normal',
      busyTimeoutMs: 1000,
    });
    const r = new Replica(1);
    changes = [0, 1, 2].map((i) => automergeKind.decodeChange(r.change((d) => void (d.n = i))));
  });
  afterEach(async () => {
    store.close();
    temp.cleanup();
  });

  /** What the writer connection reports, read inside a batch that changes nothing. */
  async function writerView() {
    return store.writeBatch(async (ops) => {
      const branch = await ops.getBranch('doc', 'main');
      const tip = await ops.chainTip();
      const seqs = branch ? await ops.actorSeqs(branch.id, [changes[0]!.actor]) : new Map();
      return {
        result: {
          epoch: tip.epoch,
          seq: branch?.seq,
          heads: branch?.heads,
          actorSeq: seqs.get(changes[0]!.actor),
        },
        commit: false,
      };
    });
  }

  it('serves what the batch itself wrote before it commits', async () => {
    await store.writeBatch(async (ops) => {
      const id = await appendOne(ops, changes[0]!, 1);
      expect((await ops.chainTip()).epoch).toBe(1);
      expect((await ops.getBranch('doc', 'main'))?.heads).toEqual([changes[0]!.hash]);
      expect((await ops.actorSeqs(id, [changes[0]!.actor])).get(changes[0]!.actor)).toBe(1);
      await appendOne(ops, changes[1]!, 2);
      expect((await ops.getBranch('doc', 'main'))?.seq).toBe(2);
      expect((await ops.actorSeqs(id, [changes[0]!.actor])).get(changes[0]!.actor)).toBe(2);
      return { result: undefined, commit: true };
    });
    expect(await writerView()).toEqual({
      epoch: 2,
      seq: 2,
      heads: [changes[1]!.hash],
      actorSeq: 2,
    });
  });

  it('forgets a batch that threw after writing: the next batch sees the committed state', async () => {
    await store.writeBatch(async (ops) => {
      await appendOne(ops, changes[0]!, 1);
      return { result: undefined, commit: true };
    });
    await expect(
      store.writeBatch(async (ops) => {
        await appendOne(ops, changes[1]!, 2);
        // Warm every cached row with the uncommitted state, then fail.
        await writerViewInside(ops);
        throw new Error('storage failed mid-batch');
      }),
    ).rejects.toThrow('storage failed mid-batch');
    expect(await writerView()).toEqual({
      epoch: 1,
      seq: 1,
      heads: [changes[0]!.hash],
      actorSeq: 1,
    });
  });

  it('forgets a batch that chose to roll back, including a branch it created', async () => {
    await store.writeBatch(async (ops) => {
      await appendOne(ops, changes[0]!, 1);
      await writerViewInside(ops);
      return { result: undefined, commit: false };
    });
    expect(await writerView()).toEqual({
      epoch: 0,
      seq: undefined,
      heads: undefined,
      actorSeq: undefined,
    });
    // The same rows can be written again: nothing stale claims the actor or the branch.
    await store.writeBatch(async (ops) => {
      await appendOne(ops, changes[0]!, 1);
      return { result: undefined, commit: true };
    });
    expect((await writerView()).seq).toBe(1);
  });

  it('re-reads a branch after it is closed', async () => {
    await store.writeBatch(async (ops) => {
      const id = await appendOne(ops, changes[0]!, 1);
      expect((await ops.getBranch('doc', 'main'))?.closed).toBe(false);
      await ops.closeBranch(id, 'other');
      expect(await ops.getBranch('doc', 'main')).toMatchObject({
        closed: true,
        mergedInto: 'other',
      });
      return { result: undefined, commit: true };
    });
  });

  async function writerViewInside(ops: SpaceWriteOps) {
    const branch = await ops.getBranch('doc', 'main');
    await ops.chainTip();
    if (branch) await ops.actorSeqs(branch.id, [changes[0]!.actor]);
  }
});

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AssertionFailed } from '../../src/core/assert.js';
import { withSpaceReader } from '../../src/storage/space-access.js';
import type { SpaceWriteOps, TxRecordRow } from '../../src/storage/types.js';
import type {
  YjsCheckpointMeta,
  YjsJournalRow,
  YjsReadOps,
  YjsWriteOps,
} from '../../src/storage/yjs-types.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { storeHarness } from '../helpers/store-harness.js';

/**
 * Storage of Yjs docs (SPEC §11, `YjsReadOps` / `YjsWriteOps`) on the backend
 * under test: the journal, checkpoints published by a pointer flip after
 * their chunks, orphan chunks of a crash, retention, listings, isolation
 * between spaces, and all-or-nothing batches.
 */

const sha = (bytes: Uint8Array) => new Uint8Array(createHash('sha256').update(bytes).digest());
const bytesOf = (...values: number[]) => new Uint8Array(values);

/** A journal row whose update is `[epoch, …extra]`. */
function row(epoch: number, committedAt = epoch * 1000, extra = 0): YjsJournalRow {
  const bytes = new Uint8Array(1 + extra).fill(epoch % 256);
  return { epoch, committedAt, hash: sha(bytes), bytes };
}

/** The meta of a checkpoint made of `chunks`. */
function meta(generation: number, epoch: number, chunks: Uint8Array[]): YjsCheckpointMeta {
  return {
    generation,
    epoch,
    chunkCount: chunks.length,
    totalBytes: chunks.reduce((n, c) => n + c.byteLength, 0),
    sha256: sha(Buffer.concat(chunks)),
    stateVector: bytesOf(1, generation, epoch),
    createdAt: epoch * 1000,
  };
}

/** Writes the chunks and publishes them, in one batch. */
async function checkpoint(y: YjsWriteOps, doc: string, gen: number, epoch: number) {
  const chunks = [bytesOf(gen, 1), bytesOf(gen, 2, 2), bytesOf(gen, 3)];
  await y.putCheckpointChunks(doc, gen, chunks);
  await y.publishCheckpoint(doc, meta(gen, epoch, chunks));
  return chunks;
}

const plain = (list: Uint8Array[]) => list.map((b) => [...b]);
/** Buffers and Uint8Arrays compare unequal: compare their bytes. */
const plainMeta = (m: YjsCheckpointMeta | undefined) =>
  m && { ...m, sha256: [...m.sha256], stateVector: [...m.stateVector] };

describe(`Yjs doc storage (${TEST_BACKEND})`, () => {
  const store = storeHarness('YjsStore');
  const newSpace = store.newSpace;
  /** One batch on the space's writer, committed unless `commit` is false (as the space writer runs it). */
  const write = <T>(
    space: string,
    fn: (y: YjsWriteOps, ops: SpaceWriteOps) => Promise<T>,
    commit = true,
  ): Promise<T> => store.write(space, (ops) => fn(ops.yjs, ops), commit);
  /** Committed state, through the space's reader. */
  const read = <T>(space: string, fn: (y: YjsReadOps) => Promise<T>) =>
    store.read(space, (ops) => fn(ops.yjs));

  it('a doc is unknown until created; creating it again changes nothing', async () => {
    const space = newSpace();
    await write(space, async (y) => {
      expect(await y.getDoc('d')).toBeUndefined();
      await y.createDoc('d', 100);
      await y.createDoc('d', 200);
    });
    const doc = await read(space, (y) => y.getDoc('d'));
    expect(doc).toEqual({ docId: 'd', createdAt: 100, lastEpoch: 0 });
    // Absent, not undefined-valued: the record is exactly what was stored.
    expect(Object.keys(doc ?? {}).sort()).toEqual(['createdAt', 'docId', 'lastEpoch']);
    expect(await read(space, (y) => y.getDoc('other'))).toBeUndefined();
    expect(await read(space, (y) => y.maxGeneration('other'))).toBe(0);
    expect(await read(space, (y) => y.readChunks('other', 1))).toEqual([]);
  });

  it('appendJournal moves lastEpoch up (never down) and needs the doc created first', async () => {
    const space = newSpace();
    await write(space, async (y) => {
      await y.createDoc('d', 1);
      await y.appendJournal('d', [row(3), row(5)]);
      expect((await y.getDoc('d'))?.lastEpoch).toBe(5);
      // A compaction's checkpoint at an older epoch leaves it; an oversized update's moves it.
      await checkpoint(y, 'd', 1, 4);
      expect((await y.getDoc('d'))?.lastEpoch).toBe(5);
      await checkpoint(y, 'd', 2, 9);
      expect((await y.getDoc('d'))?.lastEpoch).toBe(9);
      await y.appendJournal('d', [row(10)]);
      expect((await y.getDoc('d'))?.lastEpoch).toBe(10);
      await y.appendJournal('d', []);
    });
    // A doc never created: refused before anything is written, and the batch goes on.
    await write(space, async (y) => {
      await expect(y.appendJournal('ghost', [row(10)])).rejects.toThrow(AssertionFailed);
      await y.appendJournal('d', [row(11)]);
    });
    await expect(
      write(space, async (y) => y.appendJournal('d', [row(13), row(12)])),
    ).rejects.toThrow(/increasing/);
    await read(space, async (y) => {
      expect(await y.getDoc('ghost')).toBeUndefined();
      expect(await y.journal('ghost', 0, 100, 10)).toEqual([]);
      expect((await y.journal('d', 0, 100, 10)).map((r) => r.epoch)).toEqual([3, 5, 10, 11]);
      expect((await y.getDoc('d'))?.lastEpoch).toBe(11);
    });
  });

  it('journal ranges and history are ordered', async () => {
    const space = newSpace();
    const rows = [1, 2, 4, 8, 9].map((e) => row(e, e * 1000, e * 10));
    await write(space, async (y) => {
      await y.createDoc('d', 1);
      await y.appendJournal('d', rows.slice(0, 2));
      await y.appendJournal('d', rows.slice(2));
      // Seen by the batch that wrote it.
      expect(await y.journalSizeAfter('d', 0)).toEqual({ rows: 5, bytes: 5 + 240 });
    });
    await read(space, async (y) => {
      const all = await y.journal('d', 0, 100, 100);
      expect(all.map((r) => r.epoch)).toEqual([1, 2, 4, 8, 9]);
      // Bytes and hashes come back as written, as Uint8Arrays.
      expect(all[2]?.bytes).toBeInstanceOf(Uint8Array);
      expect(all.map((r) => [...r.bytes])).toEqual(rows.map((r) => [...r.bytes]));
      expect(all.map((r) => [...r.hash])).toEqual(rows.map((r) => [...r.hash]));
      expect(all.map((r) => r.committedAt)).toEqual([1000, 2000, 4000, 8000, 9000]);
      // after < epoch <= upTo, oldest first, at most limit.
      expect((await y.journal('d', 1, 8, 100)).map((r) => r.epoch)).toEqual([2, 4, 8]);
      expect((await y.journal('d', 1, 8, 2)).map((r) => r.epoch)).toEqual([2, 4]);
      expect(await y.journal('d', 9, 100, 10)).toEqual([]);
      // epoch < before, newest first, with sizes and no bytes.
      expect(await y.journalBefore('d', 9, 2)).toEqual([
        { epoch: 8, committedAt: 8000, size: 81 },
        { epoch: 4, committedAt: 4000, size: 41 },
      ]);
      expect((await y.journalBefore('d', 100, 10)).map((e) => e.epoch)).toEqual([9, 8, 4, 2, 1]);
      expect(await y.journalBefore('d', 1, 10)).toEqual([]);
      expect(await y.journalSizeAfter('d', 4)).toEqual({ rows: 2, bytes: 81 + 91 });
      expect(await y.journalSizeAfter('d', 9)).toEqual({ rows: 0, bytes: 0 });
    });
  });

  it('publishing flips the pointer; checkpoints list newest epoch first, ties newest generation first', async () => {
    const space = newSpace();
    const written = new Map<number, Uint8Array[]>();
    await write(space, async (y) => {
      await y.createDoc('d', 1);
      await y.appendJournal('d', [row(4)]);
      written.set(1, await checkpoint(y, 'd', 1, 2));
      written.set(2, await checkpoint(y, 'd', 2, 4));
      // A compaction at the same epoch: a newer generation, same epoch.
      written.set(3, await checkpoint(y, 'd', 3, 4));
      // Visible inside the batch.
      expect((await y.getDoc('d'))?.checkpointGeneration).toBe(3);
    });
    await read(space, async (y) => {
      expect(await y.getDoc('d')).toEqual({
        docId: 'd',
        createdAt: 1,
        lastEpoch: 4,
        checkpointGeneration: 3,
      });
      const list = await y.checkpoints('d');
      expect(list.map((c) => [c.generation, c.epoch])).toEqual([
        [3, 4],
        [2, 4],
        [1, 2],
      ]);
      expect(plainMeta(list[0])).toEqual(plainMeta(meta(3, 4, written.get(3) as Uint8Array[])));
      expect(list[0]?.sha256).toBeInstanceOf(Uint8Array);
      expect(list[0]?.stateVector).toBeInstanceOf(Uint8Array);
      for (const [gen, chunks] of written) {
        expect(plain(await y.readChunks('d', gen))).toEqual(plain(chunks));
      }
    });
  });

  it('chunks may be written over several batches and are read in order', async () => {
    const space = newSpace();
    const chunks = [bytesOf(1, 1), bytesOf(2), bytesOf(3, 3, 3), bytesOf(4)];
    await write(space, (y) => y.createDoc('d', 1));
    await write(space, (y) => y.putCheckpointChunks('d', 1, chunks.slice(0, 2)));
    await write(space, (y) => y.putCheckpointChunks('d', 1, chunks.slice(2)));
    await write(space, (y) => y.publishCheckpoint('d', meta(1, 1, chunks)));
    expect(plain(await read(space, (y) => y.readChunks('d', 1)))).toEqual(plain(chunks));
  });

  it('chunks written without a publish are invisible and the previous checkpoint stays in force', async () => {
    const space = newSpace();
    await write(space, async (y) => {
      await y.createDoc('d', 1);
      await checkpoint(y, 'd', 1, 1);
    });
    // The next checkpoint's chunks, then a crash before the flip.
    await write(space, (y) => y.putCheckpointChunks('d', 2, [bytesOf(9, 9)]));
    await read(space, async (y) => {
      expect((await y.getDoc('d'))?.checkpointGeneration).toBe(1);
      expect((await y.checkpoints('d')).map((c) => c.generation)).toEqual([1]);
    });
  });

  it('a publish is refused unless the doc exists and all its chunks are written', async () => {
    const space = newSpace();
    const chunks = [bytesOf(1, 2), bytesOf(3)];
    await write(space, async (y) => {
      await y.createDoc('d', 1);
      await y.putCheckpointChunks('d', 1, chunks.slice(0, 1));
      await expect(y.publishCheckpoint('d', meta(1, 1, chunks))).rejects.toThrow(
        /1 chunks of 2 bytes written/,
      );
      await y.putCheckpointChunks('ghost', 1, chunks);
      await expect(y.publishCheckpoint('ghost', meta(1, 1, chunks))).rejects.toThrow(
        /must be created/,
      );
      // Nothing was published by the refusals; the batch goes on.
      expect(await y.getDoc('d')).toEqual({ docId: 'd', createdAt: 1, lastEpoch: 0 });
      expect(await y.checkpoints('d')).toEqual([]);
      expect(await y.getDoc('ghost')).toBeUndefined();
    });
  });

  it('maxGeneration counts unpublished chunks', async () => {
    const space = newSpace();
    await write(space, async (y) => {
      await y.createDoc('d', 1);
      expect(await y.maxGeneration('d')).toBe(0);
      await checkpoint(y, 'd', 1, 1);
      expect(await y.maxGeneration('d')).toBe(1);
    });
    await write(space, (y) => y.putCheckpointChunks('d', 4, [bytesOf(4)]));
    expect(await read(space, (y) => y.maxGeneration('d'))).toBe(4);
  });

  it('dropCheckpoints removes orphan chunks of a crashed generation', async () => {
    const space = newSpace();
    await write(space, async (y) => {
      await y.createDoc('d', 1);
      await checkpoint(y, 'd', 1, 1);
      await y.putCheckpointChunks('d', 2, [bytesOf(2)]); // crashed before its flip
      await checkpoint(y, 'd', 3, 3);
      await checkpoint(y, 'd', 4, 4);
      await y.putCheckpointChunks('d', 5, [bytesOf(5)]); // still being written
    });
    expect(await write(space, (y) => y.dropCheckpoints('d', [1, 3, 3]))).toBe(2);
    await read(space, async (y) => {
      expect((await y.checkpoints('d')).map((c) => c.generation)).toEqual([4]);
      expect(await y.readChunks('d', 1)).toEqual([]);
      expect(await y.readChunks('d', 2), 'the orphan below the pointer').toEqual([]);
      expect(await y.readChunks('d', 3)).toEqual([]);
      expect(await y.readChunks('d', 4)).toHaveLength(3);
      expect(await y.readChunks('d', 5), 'a newer generation may be in progress').toHaveLength(1);
      expect(await y.maxGeneration('d')).toBe(5);
    });
    // Dropping nothing still collects orphans; a doc without a pointer keeps all its chunks.
    expect(await write(space, (y) => y.dropCheckpoints('d', []))).toBe(0);
    await write(space, async (y) => {
      await y.createDoc('e', 1);
      await y.putCheckpointChunks('e', 1, [bytesOf(1)]);
      expect(await y.dropCheckpoints('e', [1])).toBe(0);
      expect(await y.readChunks('e', 1), 'named generations go').toEqual([]);
      await y.putCheckpointChunks('e', 2, [bytesOf(2)]);
      expect(await y.dropCheckpoints('e', [])).toBe(0);
      expect(await y.readChunks('e', 2)).toHaveLength(1);
    });
  });

  it('dropping the checkpoint the doc points at is refused and drops nothing', async () => {
    const space = newSpace();
    await write(space, async (y) => {
      await y.createDoc('d', 1);
      await checkpoint(y, 'd', 1, 1);
      await checkpoint(y, 'd', 2, 2);
      await expect(y.dropCheckpoints('d', [1, 2])).rejects.toThrow(AssertionFailed);
      expect((await y.checkpoints('d')).map((c) => c.generation)).toEqual([2, 1]);
      expect(await y.readChunks('d', 1)).toHaveLength(3);
    });
  });

  it('prune keeps rows newer than the cutoff', async () => {
    const space = newSpace();
    await write(space, async (y) => {
      await y.createDoc('d', 1);
      await y.appendJournal('d', [row(1, 100), row(2, 200), row(3, 300), row(4, 400)]);
      await y.createDoc('other', 1);
      await y.appendJournal('other', [row(1, 100)]);
    });
    // Rows at or below epoch 3 and older than 250 ms: epochs 1 and 2.
    expect(await write(space, (y) => y.pruneJournal('d', 3, 250))).toBe(2);
    // Epoch 3 is old enough but 4 is above the epoch bound; nothing else goes.
    expect(await write(space, (y) => y.pruneJournal('d', 3, 300))).toBe(0);
    expect(await write(space, (y) => y.pruneJournal('d', 10, 300))).toBe(0);
    await read(space, async (y) => {
      expect((await y.journal('d', 0, 10, 10)).map((r) => r.epoch)).toEqual([3, 4]);
      expect(await y.journal('other', 0, 10, 10)).toHaveLength(1);
      // The doc itself stays as it was.
      expect((await y.getDoc('d'))?.lastEpoch).toBe(4);
    });
  });

  it('listDocIds treats % and _ literally, sorts by bytes and pages after a cursor', async () => {
    const space = newSpace();
    const ids = ['a%b', 'a%c', 'a_b', 'aXb', 'ab', 'b', 'a', 'a%', 'é', 'e\u{1F600}', 'e\uFFFD'];
    await write(space, async (y) => {
      for (const id of ids) await y.createDoc(id, 1);
    });
    await read(space, async (y) => {
      expect(await y.listDocIds('a%', null, 10)).toEqual(['a%', 'a%b', 'a%c']);
      expect(await y.listDocIds('a_', null, 10)).toEqual(['a_b']);
      expect(await y.listDocIds('a', null, 100)).toEqual([
        'a',
        'a%',
        'a%b',
        'a%c',
        'aXb',
        'a_b',
        'ab',
      ]);
      expect(await y.listDocIds('a', null, 2)).toEqual(['a', 'a%']);
      expect(await y.listDocIds('a', 'a%', 2)).toEqual(['a%b', 'a%c']);
      expect(await y.listDocIds('a', 'a%c', 10)).toEqual(['aXb', 'a_b', 'ab']);
      expect(await y.listDocIds('a', 'ab', 10)).toEqual([]);
      // A cursor before the prefix starts at the prefix; one after it finds nothing.
      expect(await y.listDocIds('b', 'a', 10)).toEqual(['b']);
      expect(await y.listDocIds('a', 'b', 10)).toEqual([]);
      // Byte order (UTF-8): U+FFFD sorts before U+1F600, unlike UTF-16 code units.
      expect(await y.listDocIds('e', null, 10)).toEqual(['e\uFFFD', 'e\u{1F600}']);
      expect(await y.listDocIds('e', 'e\uFFFD', 10)).toEqual(['e\u{1F600}']);
      expect(await y.listDocIds('', null, 100)).toHaveLength(ids.length);
      expect(await y.listDocIds('', 'b', 100)).toEqual(['e\uFFFD', 'e\u{1F600}', 'é']);
    });
  });

  it('setMigration records the marker on a created doc only', async () => {
    const space = newSpace();
    const marker = JSON.stringify({ from: 'y-websocket', sourceHash: 'ab', at: 5 });
    await write(space, async (y) => {
      await y.createDoc('d', 1);
      await y.setMigration('d', marker);
      await expect(y.setMigration('ghost', marker)).rejects.toThrow(AssertionFailed);
    });
    expect(await read(space, (y) => y.getDoc('d'))).toEqual({
      docId: 'd',
      createdAt: 1,
      lastEpoch: 0,
      migration: marker,
    });
  });

  it("two spaces never see each other's Yjs docs", async () => {
    const [one, two] = [newSpace(), newSpace()];
    for (const [space, n] of [
      [one, 1],
      [two, 2],
    ] as const) {
      await write(space, async (y) => {
        await y.createDoc('shared', n);
        await y.appendJournal('shared', [row(n)]);
        await checkpoint(y, 'shared', n, n);
        await y.createDoc(`only-${n}`, n);
      });
    }
    // Changes to one leave the other as it was.
    await write(one, async (y) => {
      await y.pruneJournal('shared', 10, Number.MAX_SAFE_INTEGER);
      await y.setMigration('shared', '{}');
    });
    await read(two, async (y) => {
      expect(await y.getDoc('shared')).toEqual({
        docId: 'shared',
        createdAt: 2,
        lastEpoch: 2,
        checkpointGeneration: 2,
      });
      expect(await y.listDocIds('', null, 10)).toEqual(['only-2', 'shared']);
      expect((await y.journal('shared', 0, 10, 10)).map((r) => r.epoch)).toEqual([2]);
      expect((await y.checkpoints('shared')).map((c) => c.generation)).toEqual([2]);
      expect(await y.readChunks('shared', 1)).toEqual([]);
      expect(await y.maxGeneration('shared')).toBe(2);
    });
    await read(one, async (y) => {
      expect(await y.listDocIds('', null, 10)).toEqual(['only-1', 'shared']);
      expect(await y.journal('shared', 0, 10, 10)).toEqual([]);
      expect(await y.readChunks('shared', 2)).toEqual([]);
      expect(await y.maxGeneration('shared')).toBe(1);
    });
  });

  it('a rolled-back batch leaves nothing', async () => {
    const space = newSpace();
    await write(space, (y) => y.createDoc('kept', 1));
    const everything = async (y: YjsWriteOps) => {
      await y.createDoc('d', 1);
      await y.appendJournal('d', [row(1)]);
      await checkpoint(y, 'd', 1, 1);
      await y.putCheckpointChunks('d', 2, [bytesOf(2)]);
      await y.appendJournal('kept', [row(2)]);
      await y.setMigration('kept', '{}');
    };
    await write(space, everything, false);
    await expect(
      write(space, async (y) => {
        await everything(y);
        throw new Error('the batch fails');
      }),
    ).rejects.toThrow('the batch fails');
    await read(space, async (y) => {
      expect(await y.getDoc('d')).toBeUndefined();
      expect(await y.journal('d', 0, 10, 10)).toEqual([]);
      expect(await y.checkpoints('d')).toEqual([]);
      expect(await y.maxGeneration('d')).toBe(0);
      expect(await y.getDoc('kept')).toEqual({ docId: 'kept', createdAt: 1, lastEpoch: 0 });
      expect(await y.listDocIds('', null, 10)).toEqual(['kept']);
    });
    // A space whose only batch rolled back does not exist.
    const never = newSpace();
    await write(
      never,
      async (y) => {
        await y.createDoc('d', 1);
        await y.appendJournal('d', [row(1)]);
      },
      false,
    );
    expect(await store.backend.acquireSpace(never, { create: false })).toBeUndefined();
  });

  it("the reader sees a batch's Yjs writes only once it commits", async () => {
    const space = newSpace();
    await write(space, (y) => y.createDoc('d', 1));
    await write(space, async (y) => {
      await y.appendJournal('d', [row(1)]);
      await checkpoint(y, 'd', 1, 1);
      await read(space, async (committed) => {
        expect(await committed.getDoc('d')).toEqual({ docId: 'd', createdAt: 1, lastEpoch: 0 });
        expect(await committed.journal('d', 0, 10, 10)).toEqual([]);
        expect(await committed.maxGeneration('d')).toBe(0);
      });
    });
    expect(await read(space, (y) => y.getDoc('d'))).toMatchObject({
      lastEpoch: 1,
      checkpointGeneration: 1,
    });
  });

  it("a batch's Yjs writes and its tx records see each other and commit together", async () => {
    const space = newSpace();
    const record = (epoch: number): TxRecordRow => ({
      epoch,
      committedAt: epoch * 1000,
      txHash: new Uint8Array(32).fill(epoch),
      prevTxHash: new Uint8Array(32).fill(epoch - 1),
      bodyHash: new Uint8Array(32).fill(epoch),
      serverSig: new Uint8Array(64),
      serverDid: 'did:key:z6MkServer',
      body: bytesOf(0xa0),
    });
    // Two Yjs transactions in one batch, each with its tx record (on PostgreSQL
    // the records are queued while the Yjs statements run).
    await write(space, async (y, ops) => {
      await y.createDoc('d', 1);
      for (const epoch of [1, 2]) {
        expect((await ops.chainTip()).epoch).toBe(epoch - 1);
        await y.appendJournal('d', [row(epoch)]);
        await ops.appendTxRecords([record(epoch)]);
        expect((await y.getDoc('d'))?.lastEpoch).toBe(epoch);
      }
      expect((await ops.getTxRecord(2))?.epoch).toBe(2);
      expect((await y.journal('d', 0, 10, 10)).map((r) => r.epoch)).toEqual([1, 2]);
    });
    await withSpaceReader(store.backend, space, async (ops) => {
      expect((await ops.chainTip()).epoch).toBe(2);
      expect((await ops.yjs.journal('d', 0, 10, 10)).map((r) => r.epoch)).toEqual([1, 2]);
    });
  });
});

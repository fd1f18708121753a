import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * SPEC §11 compaction on the backend under test, with faults injected at
 * the compactor's steps: a crash between the chunks and the pointer flip
 * leaves the previous checkpoint in force (and its leftovers are cleaned
 * later); a compaction that keeps failing opens the doc's breaker after 3
 * tries while writes go on, and the retry after the back-off succeeds.
 */

let e: TestEngine | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

const DOC = 'compacted';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function typist() {
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  const text = doc.getText('content');
  return {
    text,
    /** Types a word and posts its update; resolves with the HTTP status. */
    async type(word: string): Promise<number> {
      text.insert(text.length, word);
      const res = await (e as TestEngine).cairn.fetch(
        new Request(`http://cairn.test/v1/${SPACE}/yjs/${DOC}/updates`, {
          method: 'POST',
          body: updates.at(-1) as Uint8Array,
        }),
      );
      return res.status;
    },
  };
}

async function storedText(): Promise<string> {
  const res = await (e as TestEngine).cairn.fetch(
    new Request(`http://cairn.test/v1/${SPACE}/yjs/${DOC}`),
  );
  const doc = new Y.Doc();
  Y.applyUpdate(doc, new Uint8Array(await res.arrayBuffer()));
  return doc.getText('content').toString();
}

const stored = () =>
  withSpaceReader((e as TestEngine).cairn.backend, SPACE, async (ops) => ({
    checkpoints: await ops.yjs.checkpoints(DOC),
    maxGeneration: await ops.yjs.maxGeneration(DOC),
    record: await ops.yjs.getDoc(DOC),
  }));

describe('Yjs compaction', () => {
  it('regression: commits heard while a checkpoint runs do not queue a second checkpoint of the same state', async () => {
    e = await startEngine({ yjs: { compactAfterUpdates: 1 } });
    const compactor = e.cairn.yjs.compactor;
    const t = typist();
    expect(await t.type('one ')).toBe(200);
    await compactor.idle();
    expect(compactor.stats.checkpoints).toBe(1);
    // Two announcements in one turn (as a group commit's items arrive) with no new journal rows.
    compactor.committed(SPACE, DOC, 10, false);
    compactor.committed(SPACE, DOC, 10, false);
    await compactor.idle();
    const epochs = (await stored()).checkpoints.map((c) => c.epoch);
    expect(new Set(epochs).size, `checkpoints at epochs ${epochs.join(', ')}`).toBe(epochs.length);
  });

  it('a crash between the checkpoint chunks and the flip leaves the old checkpoint in force and no half state', async () => {
    e = await startEngine({ yjs: { compactAfterUpdates: 1_000_000 } });
    const t = typist();
    for (let i = 0; i < 10; i++) expect(await t.type(`w${i} `)).toBe(200);
    const first = await e.cairn.yjs.compactNow(SPACE, DOC);
    for (let i = 10; i < 15; i++) expect(await t.type(`w${i} `)).toBe(200);

    e.cairn.yjs.compactor.faults = (step) => {
      if (step === 'flip') throw new Error('crash before the flip (injected)');
    };
    await expect(e.cairn.yjs.compactNow(SPACE, DOC)).rejects.toThrow(/injected/);
    const after = await stored();
    expect(after.checkpoints.map((c) => c.generation)).toEqual([first.generation]);
    expect(after.record?.checkpointGeneration).toBe(first.generation);
    expect(after.maxGeneration).toBe(first.generation + 1); // the crashed generation's chunks
    expect(await storedText()).toBe(t.text.toString());

    await e.reopen(); // a restart finds the same: the old checkpoint plus the journal
    expect(await storedText()).toBe(t.text.toString());
    const next = await e.cairn.yjs.compactNow(SPACE, DOC);
    expect(next.generation).toBe(first.generation + 2);
    const cleaned = await withSpaceReader(e.cairn.backend, SPACE, (ops) =>
      ops.yjs.readChunks(DOC, first.generation + 1),
    );
    expect(cleaned).toEqual([]);
    expect(await storedText()).toBe(t.text.toString());
  });

  it('a failing compaction opens the breaker after 3 tries, writes go on, and the retry after the back-off succeeds', async () => {
    e = await startEngine({ yjs: { compactAfterUpdates: 5, breakerBackoffMs: 300 } });
    const compactor = e.cairn.yjs.compactor;
    compactor.faults = (step) => {
      if (step === 'chunks') throw new Error('disk error (injected)');
    };
    const t = typist();
    for (let i = 0; i < 5; i++) expect(await t.type(`w${i} `)).toBe(200);
    await compactor.idle();
    expect(compactor.stats.failures).toBe(3);
    expect(compactor.openBreakers()).toHaveLength(1);
    const debug = (await (await e.cairn.fetch(new Request('http://cairn.test/debug'))).json()) as {
      yjs: { breakerOpen: unknown[] };
    };
    expect(debug.yjs.breakerOpen).toHaveLength(1);
    const docDebug = (await (
      await e.cairn.fetch(new Request(`http://cairn.test/v1/${SPACE}/yjs/${DOC}/debug`))
    ).json()) as { compaction: { failures: number; breakerOpenUntil?: number } };
    expect(docDebug.compaction.failures).toBe(3);
    expect(docDebug.compaction.breakerOpenUntil).toBeGreaterThan(0);

    // Writes are never held up by compaction.
    for (let i = 5; i < 10; i++) expect(await t.type(`w${i} `)).toBe(200);
    expect(compactor.stats.failures).toBe(3); // the open breaker tried nothing

    compactor.faults = undefined;
    for (let i = 10; i < 200 && compactor.stats.checkpoints === 0; i++) {
      expect(await t.type(`w${i} `)).toBe(200);
      await compactor.idle();
      if (compactor.stats.checkpoints === 0) await sleep(50);
    }
    expect(compactor.stats.checkpoints).toBe(1);
    expect(compactor.openBreakers()).toEqual([]);
    expect((await stored()).checkpoints).toHaveLength(1);
    expect(await storedText()).toBe(t.text.toString());
  });
});

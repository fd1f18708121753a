import * as A from '@automerge/automerge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../helpers/backend.js';
import { b64, hashOf, Replica, write } from '../helpers/changes.js';
import { OTHER_SPACE, SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * Integrity under hostile input, on the backend under test: what a client
 * sends can never corrupt, freeze or break another client's data. Each test
 * is a case that broke an earlier version.
 */
describe('hostile input', () => {
  let engine: TestEngine;
  beforeEach(async () => {
    engine = await startEngine();
  });
  afterEach(async () => {
    await engine.close();
  });

  const flip = (bytes: Uint8Array, at: number, mask = 1) => {
    const out = Uint8Array.from(bytes);
    out[at] = (out[at] as number) ^ mask;
    return out;
  };

  it('refuses a change with a flipped checksum byte; the real change then commits elsewhere and reads back', async () => {
    const real = new Replica(1).change((d) => void (d.title = 'the real one'));
    const forged = flip(real, 5);
    const refused = await engine.refused({ writes: [write('attacker', [forged])] });
    expect(refused.error.code).toBe('InvalidChange');
    // Corruption used to spread: the honest change is stored under its own hash.
    await engine.ok({ writes: [write('honest', [real])] });
    const read = await engine.cairn.reader.readDoc(SPACE, 'honest', 'main', { kind: 'current' });
    expect(read.json()).toEqual({ title: 'the real one' });
    expect(read.heads).toEqual([hashOf(real)]);
    const bytes = await engine.cairn.reader.readDocBytes(SPACE, 'honest', 'main', {
      kind: 'current',
    });
    expect(bytes.heads).toEqual([hashOf(real)]);
  });

  it('refuses every single-byte flip of real changes with InvalidChange, and commits nothing', async () => {
    const r = new Replica(2);
    const changes = [
      r.change((d) => void (d.a = 1)),
      r.change((d) => void (d.list = ['x', 'y'])),
      r.change((d) => void (d.text = 'hello'), 'with a message'),
    ];
    let tried = 0;
    for (const [i, real] of changes.entries()) {
      // The flipped change after the real ones before it, as a new doc.
      const prefix = changes.slice(0, i);
      for (let at = 0; at < real.length; at++) {
        const out = await engine.tx(
          { writes: [write(`flip-${i}`, [...prefix, flip(real, at)], [])] },
          OTHER_SPACE,
        );
        tried++;
        expect(out.ok, `change ${i} byte ${at}`).toBe(false);
        if (!out.ok) expect(out.error.code, `change ${i} byte ${at}`).toBe('InvalidChange');
      }
    }
    expect(tried).toBeGreaterThan(150);
    // Nothing of it exists: the space was never created.
    expect(await engine.cairn.backend.listSpaces()).not.toContain(OTHER_SPACE);
    // The real changes still commit.
    await engine.ok({ writes: [write('real', changes)] });
    const read = await engine.cairn.reader.readDoc(SPACE, 'real', 'main', { kind: 'current' });
    expect(read.json()).toEqual({ a: 1, list: ['x', 'y'], text: 'hello' });
  });

  it('refuses a change over the operation limit with LimitExceeded before decoding its ops', async () => {
    const small = await startEngine({ limits: { maxChangeOps: 1000 } });
    try {
      const big = new Replica(3).change((d) => void (d.s = 'z'.repeat(1000)));
      const out = await small.refused({ writes: [write('big', [big])] });
      expect(out.error).toMatchObject({
        code: 'LimitExceeded',
        limit: 'maxChangeOps',
        changeIndex: 0,
      });
      const fits = new Replica(4).change((d) => void (d.s = 'z'.repeat(998)));
      await small.ok({ writes: [write('fits', [fits])] });
    } finally {
      await small.close();
    }
  });

  it('stores a change under the hash of its own bytes (base64 of a forged twin never aliases it)', async () => {
    const real = new Replica(5).change((d) => void (d.v = 1));
    await engine.ok({ writes: [write('d1', [real])] });
    const { items } = await engine.cairn.reader.changes(SPACE, 'd1', 'main', {
      fromSeq: 1,
      limit: 10,
    });
    expect(items.map((i) => b64(i.bytes as Uint8Array))).toEqual([b64(real)]);
  });

  it('refuses a clientTxId with a NUL at the edge (ValidationError) and commits its 30 concurrent neighbours', async () => {
    const outs = await Promise.all(
      Array.from({ length: 31 }, (_, i) =>
        engine
          .tx({
            clientTxId: i === 15 ? 'bad\u0000key' : `key-${i}`,
            writes: [write(`nul-${i}`, [new Replica(100 + i).change((d) => void (d.i = i))])],
          })
          .catch((err: unknown) => err),
      ),
    );
    const refused = outs[15] as { code?: string };
    expect(refused.code).toBe('ValidationError');
    for (const [i, out] of outs.entries())
      if (i !== 15) expect((out as { ok: boolean }).ok, `tx ${i}`).toBe(true);
  });

  it('a transaction the database refuses fails alone; the rest of its group-commit batch commits', async () => {
    // Past the edge check, a NUL reaches storage: PostgreSQL cannot store it (SQLite can).
    const outs = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        engine.cairn.pipeline.commit(SPACE, {
          clientTxId: i === 7 ? 'db\u0000refuses' : `ok-${i}`,
          reads: [],
          writes: [
            {
              docId: `iso-${i}`,
              branch: 'main',
              baseHeads: [],
              changes: [new Replica(200 + i).change((d) => void (d.i = i))],
              merge: false,
              mergeOf: [],
              closeMerged: false,
            },
          ],
        }),
      ),
    );
    const failed = outs.map((o, i) => (o.ok ? null : i)).filter((i) => i !== null);
    expect(failed).toEqual(TEST_BACKEND === 'postgres' ? [7] : []);
    for (const [i, out] of outs.entries()) {
      if (i === 7) continue;
      expect(out.ok, `tx ${i}`).toBe(true);
      const read = await engine.cairn.reader.readDoc(SPACE, `iso-${i}`, 'main', {
        kind: 'current',
      });
      expect(read.json()).toEqual({ i });
    }
    expect(engine.cairn.pipeline.stats.committed).toBe(30 - failed.length);
  });

  it('answers GET /docs?prefix=%00 with 400 ValidationError', async () => {
    await engine.ok({ writes: [write('p', [new Replica(9).change((d) => void (d.a = 1))])] });
    for (const q of ['prefix=%00', 'prefix=a%00b']) {
      const res = await engine.cairn.fetch(new Request(`http://x/v1/${SPACE}/docs?${q}`));
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'ValidationError',
      );
    }
  });

  it('serves a doc nested 10,000 maps deep as JSON and as bytes (no recursion limit)', async () => {
    const actor = 'cd'.repeat(16);
    const depth = 10_000;
    const ops = Array.from({ length: depth }, (_, i) => ({
      action: 'makeMap',
      obj: i === 0 ? '_root' : `${i}@${actor}`,
      key: 'm',
      pred: [],
    }));
    const change = A.encodeChange({
      actor,
      seq: 1,
      startOp: 1,
      time: 0,
      message: null,
      deps: [],
      ops,
    } as never);
    expect(change.length).toBeLessThan(25_000);
    await engine.ok({ writes: [write('deep', [change])] });
    const res = await engine.cairn.fetch(new Request(`http://x/v1/${SPACE}/docs/deep`));
    expect(res.status).toBe(200);
    let node = ((await res.json()) as { value: Record<string, unknown> }).value;
    let levels = 0;
    while (node.m) {
      node = node.m as Record<string, unknown>;
      levels++;
    }
    expect(levels).toBe(depth);
    const bytes = await engine.cairn.fetch(
      new Request(`http://x/v1/${SPACE}/docs/deep`, {
        headers: { accept: 'application/automerge' },
      }),
    );
    expect(bytes.status).toBe(200);
    expect(A.getHeads(A.load(new Uint8Array(await bytes.arrayBuffer())))).toEqual([hashOf(change)]);
  });
});

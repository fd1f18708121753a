import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashOf, Replica, write } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/** Group commit: many transactions per database transaction, each still all-or-nothing. */
describe('group commit', () => {
  let engine: TestEngine;
  beforeEach(async () => {
    engine = await startEngine();
  });
  afterEach(async () => {
    await engine.close();
  });

  it('commits concurrent transactions in fewer batches, with dense unique epochs', async () => {
    const outs = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const c = new Replica(i + 1).change((d) => void (d.i = i));
        return engine.ok({ writes: [write(`doc-${i}`, [c])] });
      }),
    );
    expect(outs.map((o) => o.epoch).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const { batches, committed } = engine.cairn.pipeline.stats;
    expect(committed).toBe(50);
    expect(batches).toBeLessThan(50);
  });

  it('isolates a failing transaction inside a batch: the others commit', async () => {
    const outs = await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const r = new Replica(i + 1);
        const c1 = r.change((d) => void (d.i = i));
        const c2 = r.change((d) => void (d.i = -i));
        // Transaction 4 sends a change without its dependency.
        return engine.tx({ writes: [write(`doc-${i}`, i === 4 ? [c2] : [c1])] });
      }),
    );
    expect(outs.filter((o) => !o.ok).map((o) => !o.ok && o.error.code)).toEqual([
      'MissingDependency',
    ]);
    const epochs = outs.flatMap((o) => (o.ok ? [o.epoch] : [])).sort((a, b) => a - b);
    expect(epochs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await expect(
      engine.cairn.reader.readDoc('did:key:z6MkTestSpaceOne', 'doc-4', 'main', { kind: 'current' }),
    ).rejects.toMatchObject({
      code: 'DocNotFound',
    });
  });

  it('lets exactly one of many concurrent writers on the same heads win; the rest get StaleBaseHeads', async () => {
    const base = new Replica(99);
    const c0 = base.change((d) => void (d.v = 0));
    await engine.ok({ writes: [write('shared', [c0])] });
    const outs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const r = new Replica(i + 1, base.doc);
        const c = r.change((d) => void (d.v = i + 1));
        return engine.tx({ writes: [write('shared', [c], [hashOf(c0)])] });
      }),
    );
    const winners = outs.filter((o) => o.ok);
    expect(winners).toHaveLength(1);
    const losers = outs.filter((o) => !o.ok);
    expect(losers.every((o) => !o.ok && o.error.code === 'StaleBaseHeads')).toBe(true);
    const v = await engine.cairn.reader.readDoc('did:key:z6MkTestSpaceOne', 'shared', 'main', {
      kind: 'current',
    });
    expect(v.seq).toBe(2);
  });

  it('serializes transactions of one space in arrival order', async () => {
    const r = new Replica(1);
    const changes = Array.from({ length: 30 }, (_, i) => r.change((d) => void (d.n = i)));
    // Pipelined: each transaction's baseHeads are the heads the previous one produces.
    const outs = await Promise.all(
      changes.map((c, i) =>
        engine.tx({
          writes: [write('seq', [c], i === 0 ? [] : [hashOf(changes[i - 1] as Uint8Array)])],
        }),
      ),
    );
    expect(outs.every((o) => o.ok)).toBe(true);
    expect(outs.map((o) => (o.ok ? o.epoch : 0))).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
  });

  it("commit listeners run outside the writer's drain loop, in epoch order, and cannot stall it", async () => {
    const seen: number[] = [];
    const stacks: string[] = [];
    engine.cairn.pipeline.onCommitted((batch) => {
      stacks.push(new Error().stack ?? '');
      for (const c of batch) seen.push(c.epoch);
    });
    // One that never settles and one that throws: later commits still go through.
    engine.cairn.pipeline.onCommitted(() => new Promise<void>(() => undefined));
    engine.cairn.pipeline.onCommitted(() => {
      throw new Error('a listener bug');
    });
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          engine.ok({
            writes: [
              write(`doc-${round}-${i}`, [
                new Replica(round * 8 + i + 1).change((d) => void (d.i = i)),
              ]),
            ],
          }),
        ),
      );
    }
    expect(seen).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    for (const stack of stacks) expect(stack).not.toMatch(/\bdrain\b/);
  });

  it('bounds the tasks queued for a space: one more is RateLimited', async () => {
    const small = await startEngine({ limits: { maxQueuedTxPerSpace: 4 } });
    try {
      const pipeline = small.cairn.pipeline;
      await small.ok({ writes: [write('seed', [new Replica(1).change((d) => void (d.a = 1))])] });
      let release: () => void = () => undefined;
      let started: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      const running = new Promise<void>((r) => (started = r));
      // The first task holds the writer; four more fill the queue; the fifth is refused.
      const held = pipeline.runWrite(SPACE, async () => {
        started();
        await gate;
      });
      await running;
      const queued = Array.from({ length: 4 }, () => pipeline.runWrite(SPACE, async () => 1));
      await expect(pipeline.runWrite(SPACE, async () => 1)).rejects.toMatchObject({
        code: 'RateLimited',
      });
      release();
      await held;
      expect(await Promise.all(queued)).toEqual([1, 1, 1, 1]);
    } finally {
      await small.close();
    }
  });
});

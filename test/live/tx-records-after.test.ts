import { automergeWrites } from '../helpers/record-writes.js';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeTxBody } from '../../src/protocol/tx-record.js';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { hashOf, Replica, write } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * `txRecordsAfter`: the tx records of a range of epochs, whose bodies say
 * what each epoch committed (doc, branch, seq range, heads after) — the read
 * the live feed is built on. Runs on SQLite and PostgreSQL.
 */

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** Per epoch in range: [epoch, [docId, seqFrom, seqTo, heads][]]. */
const committed = (e: TestEngine, after: number, upTo: number, limit = 100) =>
  withSpaceReader(e.cairn.backend, SPACE, async (ops) =>
    (await ops.txRecordsAfter(after, upTo, limit)).map((r) => {
      const body = decodeTxBody(r.body);
      expect(body.epoch).toBe(r.epoch);
      return [
        r.epoch,
        automergeWrites(body.writes).map((w) => [w.docId, w.seqFrom, w.seqTo, w.newHeads]),
      ];
    }),
  );

describe('tx records by epoch range', () => {
  it('gives each epoch in (after, upTo] in order, with the writes it appended', async () => {
    engine = await startEngine();
    const a = new Replica(1);
    const b = new Replica(2);
    const a1 = a.change((d) => (d.n = 1));
    const a2 = a.change((d) => (d.n = 2));
    await engine.ok({ writes: [write('a', [a1, a2])] }); // epoch 1
    const b1 = b.change((d) => (d.m = 1));
    const a3 = a.change((d) => (d.n = 3));
    await engine.ok({ writes: [write('b', [b1]), write('a', [a3], [hashOf(a2)])] }); // epoch 2
    // A write of changes the doc already has appends nothing: not listed.
    const b2 = b.change((d) => (d.m = 2));
    await engine.ok({ writes: [write('b', [b2], [hashOf(b1)]), write('a', [a3], [hashOf(a3)])] });

    const epoch1 = [1, [['a', 1, 2, [hashOf(a2)]]]];
    const epoch2 = [
      2,
      [
        ['b', 1, 1, [hashOf(b1)]],
        ['a', 3, 3, [hashOf(a3)]],
      ],
    ];
    const epoch3 = [3, [['b', 2, 2, [hashOf(b2)]]]];
    expect(await committed(engine, 0, 3)).toEqual([epoch1, epoch2, epoch3]);
    expect(await committed(engine, 1, 2)).toEqual([epoch2]);
    expect(await committed(engine, 0, 3, 2)).toEqual([epoch1, epoch2]);
    expect(await committed(engine, 3, 10)).toEqual([]);
  });
});

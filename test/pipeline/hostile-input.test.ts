import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
});

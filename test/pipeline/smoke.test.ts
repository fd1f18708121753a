import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Replica, write, hashOf } from '../helpers/changes.js';
import { startEngine, type TestEngine } from '../helpers/engine.js';

describe('engine smoke', () => {
  let engine: TestEngine;
  beforeEach(async () => {
    engine = await startEngine();
  });
  afterEach(async () => {
    await engine.close();
  });

  it('commits a first change and reads it back', async () => {
    const r = new Replica(1);
    const c = r.change((d) => {
      d.title = 'x';
    });
    const receipt = await engine.ok({ writes: [write('a', [c])] });
    expect(receipt.epoch).toBe(1);
    expect(receipt.results[0]?.newHeads).toEqual([hashOf(c)]);
    const v = await engine.cairn.reader.readDoc('did:key:z6MkTestSpaceOne', 'a', 'main', {
      kind: 'current',
    });
    expect(v.seq).toBe(1);
  });
});

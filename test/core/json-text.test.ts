import { describe, expect, it } from 'vitest';
import { stringifyDeep } from '../../src/core/json.js';
import { SeededRandom } from '../helpers/seeded-random.js';

function randomJson(rng: SeededRandom, depth: number): unknown {
  const pick = rng.int(depth > 4 ? 4 : 7);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rng.next() < 0.5;
    case 2:
      return rng.int(2000) - 1000 + (rng.next() < 0.3 ? 0.5 : 0);
    case 3:
      return ['', 'a"b', 'ü\n\t', '\u2028', '{}[],:'][rng.int(5)];
    case 4:
    case 5:
      return Array.from({ length: rng.int(4) }, () => randomJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(4); i > 0; i--) o[`k${rng.int(9)}"${i}`] = randomJson(rng, depth + 1);
      return o;
    }
  }
}

describe('stringifyDeep', () => {
  it('writes exactly what JSON.stringify writes (seeded)', () => {
    const seed = Number(process.env.CAIRN_SEED ?? 20261202);
    const rng = new SeededRandom(seed);
    for (let i = 0; i < 2000; i++) {
      const v = randomJson(rng, 0);
      expect(stringifyDeep(v), `seed ${seed}, case ${i}`).toBe(JSON.stringify(v));
    }
  });

  it('writes values nested far past the JS stack', () => {
    let root: Record<string, unknown> = {};
    const top = root;
    for (let i = 0; i < 100_000; i++) {
      const next = {};
      root.m = next;
      root = next;
    }
    expect(() => JSON.stringify(top)).toThrow(RangeError);
    const text = stringifyDeep(top);
    expect(text.length).toBe(100_000 * 6 + 2);
    expect(JSON.parse(text)).toBeTypeOf('object');
  });
});

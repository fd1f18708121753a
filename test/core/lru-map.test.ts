import { describe, expect, it } from 'vitest';
import { LruMap } from '../../src/core/lru-map.js';

describe('LruMap', () => {
  it('never holds more than its capacity and forgets the least recently used', () => {
    const m = new LruMap<string, number>(3);
    for (const [i, k] of ['a', 'b', 'c'].entries()) m.set(k, i);
    expect(m.get('a')).toBe(0); // a is now the most recent
    m.set('d', 3);
    expect(m.size).toBe(3);
    expect(m.has('b')).toBe(false);
    expect([m.get('a'), m.get('c'), m.get('d')]).toEqual([0, 2, 3]);
    for (let i = 0; i < 10_000; i++) m.set(`k${i}`, i);
    expect(m.size).toBe(3);
  });

  it('refuses a capacity below one', () => {
    expect(() => new LruMap(0)).toThrow(/capacity/);
  });
});

import { describe, expect, it } from 'vitest';
import { parseVersionSelector } from '../../src/protocol/version-selector.js';

const h = (c: string) => c.repeat(64);

describe('version selectors (SPEC §3)', () => {
  it('parses each kind', () => {
    expect(parseVersionSelector({}, 10)).toEqual({ kind: 'current' });
    expect(parseVersionSelector({ seq: '12' }, 10)).toEqual({ kind: 'seq', seq: 12 });
    expect(parseVersionSelector({ epoch: '3' }, 10)).toEqual({ kind: 'epoch', epoch: 3 });
    expect(parseVersionSelector({ at: '1700000000000' }, 10)).toEqual({
      kind: 'at',
      ms: 1700000000000,
    });
    expect(parseVersionSelector({ at: '2023-11-14T22:13:20Z' }, 10)).toEqual({
      kind: 'at',
      ms: 1700000000000,
    });
    expect(parseVersionSelector({ heads: `${h('b')},${h('a')}` }, 10)).toEqual({
      kind: 'heads',
      heads: [h('a'), h('b')],
    });
  });

  it('refuses two selectors, bad numbers, bad instants and bad hashes', () => {
    for (const q of [
      { seq: '1', epoch: '2' },
      { seq: '-1' },
      { seq: '1.5' },
      { seq: '01' },
      { epoch: '99999999999999999999' },
      { at: 'yesterday' },
      { at: '2023-13-45T00:00:00Z' },
      { heads: 'abc' },
      { heads: `${h('a')},` },
    ]) {
      expect(() => parseVersionSelector(q, 10), JSON.stringify(q)).toThrow(
        expect.objectContaining({ code: 'ValidationError' }),
      );
    }
  });

  it('caps the number of heads with LimitExceeded', () => {
    expect(() => parseVersionSelector({ heads: [h('a'), h('b')].join(',') }, 1)).toThrow(
      expect.objectContaining({ code: 'LimitExceeded' }),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64Strict, encodeBase64 } from '../../src/protocol/base64.js';

describe('strict base64', () => {
  it('round-trips any bytes, padded or not', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(Buffer.from(decodeBase64Strict(text) as Uint8Array)).toEqual(Buffer.from(bytes));
        expect(Buffer.from(decodeBase64Strict(text.replace(/=+$/, '')) as Uint8Array)).toEqual(
          Buffer.from(bytes),
        );
      }),
    );
  });

  it('refuses anything with characters outside the alphabet instead of skipping them', () => {
    for (const bad of ['ab$d', 'ab d', 'a=bc', 'abc==d', 'a', 'abcde', '-_-_', 'YQ===']) {
      expect(decodeBase64Strict(bad)).toBeUndefined();
    }
  });

  it('never decodes a string it does not re-encode to (no silent garbage)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const bytes = decodeBase64Strict(text);
        if (bytes !== undefined)
          expect(encodeBase64(bytes).replace(/=+$/, '')).toBe(text.replace(/=+$/, ''));
      }),
    );
  });
});

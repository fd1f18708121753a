import { describe, expect, it } from 'vitest';
import { isBranchName, isDocId, isSpaceId, parseBranchName } from '../../src/core/ids.js';

describe('ids (SPEC §1)', () => {
  it('accepts DIDs of at most 128 characters', () => {
    expect(isSpaceId('did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK')).toBe(true);
    expect(isSpaceId('did:web:example.com%3A8080')).toBe(true);
    expect(isSpaceId(`did:key:${'z'.repeat(120)}`)).toBe(true);
    expect(isSpaceId(`did:key:${'z'.repeat(121)}`)).toBe(false);
  });

  it('refuses space ids with slashes, control characters or no method', () => {
    for (const bad of [
      'did:key:a/b',
      'did:key:../x',
      'did:key:a\u0000',
      'did:key:',
      'key:abc',
      'DID:key:a',
      'did:key:a b',
    ]) {
      expect(isSpaceId(bad)).toBe(false);
    }
  });

  it('accepts doc ids of 1-256 UTF-8 bytes without control characters', () => {
    expect(isDocId('a')).toBe(true);
    expect(isDocId('notes/2024/ü-🎉')).toBe(true);
    expect(isDocId('é'.repeat(128))).toBe(true);
    expect(isDocId('é'.repeat(129))).toBe(false);
    for (const bad of ['', 'a\nb', 'a\u007f', 'a\u0085', '\ud800x'])
      expect(isDocId(bad)).toBe(false);
  });

  it('checks branch names and defaults to main', () => {
    expect(isBranchName('feature/x-1.2_3')).toBe(true);
    expect(isBranchName('a b')).toBe(false);
    expect(isBranchName('x'.repeat(129))).toBe(false);
    expect(parseBranchName(undefined)).toBe('main');
    expect(() => parseBranchName('bad name')).toThrow(/branch/);
  });
});

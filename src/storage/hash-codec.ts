import { assert } from '../core/assert.js';

/** Hashes travel as lowercase hex and are stored as 32 raw bytes. */
export const HASH_BYTES = 32;

export function hexToBytes(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** A list of hashes packed into one blob (heads, deps). */
export function packHashes(hashes: readonly string[]): Buffer {
  return Buffer.from(hashes.join(''), 'hex');
}

export function unpackHashes(blob: Uint8Array): string[] {
  assert(blob.byteLength % HASH_BYTES === 0, 'packed hashes have a partial hash');
  const hex = bytesToHex(blob);
  const out: string[] = [];
  for (let i = 0; i < hex.length; i += HASH_BYTES * 2) out.push(hex.slice(i, i + HASH_BYTES * 2));
  return out;
}

/**
 * The first 6 bytes of a hash as an integer: the key of the hash index. A
 * third of a stored hash's size keeps the index small and its random inserts
 * cheap; lookups compare the full hash on the row.
 */
export function hashKey(hex: string): number {
  return Number.parseInt(hex.slice(0, 12), 16);
}

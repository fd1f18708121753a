import { createHash } from 'node:crypto';
import fc from 'fast-check';

/**
 * Mutations of real binary payloads (Automerge changes, Yjs updates, saved
 * docs): bit flips, truncation, splices of two payloads, duplicated chunks,
 * corrupted headers, inserted and zeroed runs. `fixChecksum` re-seals an
 * Automerge chunk after the damage, so the bytes get past the checksum into
 * the decoder proper.
 */

export interface ByteMutation {
  kind: 'flip' | 'truncate' | 'splice' | 'duplicate' | 'header' | 'insert' | 'zero' | 'append';
  /** Fractions of the length: where the mutation acts. */
  at: number[];
  bits: number[];
  /** Bytes for `insert`/`append`/`header`, and the payload spliced in. */
  bytes: Uint8Array;
  /** Re-seal an Automerge chunk's checksum afterwards. */
  fixChecksum: boolean;
}

const fraction = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.record({
  kind: fc.constantFrom(
    'flip',
    'truncate',
    'splice',
    'duplicate',
    'header',
    'insert',
    'zero',
    'append',
  ),
  at: fc.array(fraction, { minLength: 2, maxLength: 4 }),
  bits: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 4 }),
  bytes: fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 32 }),
    fc.constantFrom(
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
      Uint8Array.of(0x85, 0x6f, 0x4a, 0x83),
      Uint8Array.of(0, 0, 0, 0),
    ),
  ),
  fixChecksum: fc.boolean(),
});

/** `base` with `m` applied (never modifies `base`). */
export function mutateBytes(base: Uint8Array, m: ByteMutation): Uint8Array {
  const n = base.length;
  const pos = (i: number) => Math.floor((m.at[i % m.at.length] ?? 0) * Math.max(n, 1));
  const [a, b] = [pos(0), pos(1)].sort((x, y) => x - y) as [number, number];
  let out: Uint8Array;
  switch (m.kind) {
    case 'flip':
      out = Uint8Array.from(base);
      m.bits.forEach((bit, i) => {
        const p = pos(i);
        if (p < n) out[p] = out[p]! ^ (1 << bit);
      });
      break;
    case 'truncate':
      out = base.slice(0, a);
      break;
    case 'splice':
      out = concat(base.subarray(0, a), m.bytes, base.subarray(b));
      break;
    case 'duplicate':
      out = concat(base.subarray(0, b), base.subarray(a, b), base.subarray(b));
      break;
    case 'header': {
      out = Uint8Array.from(base);
      // Overwrite some of the first 12 bytes (magic, checksum, type, length).
      const at = Math.min(a % 12, Math.max(n - 1, 0));
      out.set(m.bytes.subarray(0, Math.max(0, Math.min(m.bytes.length, 12, n - at))), at);
      break;
    }
    case 'insert':
      out = concat(base.subarray(0, a), m.bytes, base.subarray(a));
      break;
    case 'zero':
      out = Uint8Array.from(base);
      out.fill(0, a, b);
      break;
    case 'append':
      out = concat(base, m.bytes);
      break;
  }
  return m.fixChecksum ? resealAutomerge(out) : out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

/**
 * An Automerge chunk is magic (4) + checksum (4) + type (1) + LEB128 length
 * + data; the checksum is the first 4 bytes of SHA-256 over type, length and
 * data. Recomputes it over whatever follows the magic (no-op when too short).
 */
export function resealAutomerge(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 10) return bytes;
  const out = Uint8Array.from(bytes);
  const sum = createHash('sha256').update(out.subarray(8)).digest();
  out.set(sum.subarray(0, 4), 4);
  return out;
}

import { decode, encode } from 'cborg';
import { encodeBase64 } from './base64.js';

/*
 * The live protocol's binary encoding (SPEC §6 `hello {encoding: "cbor"}`):
 * the same messages as CBOR, with change and snapshot bytes as byte strings
 * instead of base64 (a third less traffic). Browser-safe.
 */

/** One message as a CBOR frame. */
export function encodeCborFrame(message: unknown): Uint8Array {
  return encode(message);
}

/**
 * A client's CBOR frame as the JSON-shaped value the frame parser reads:
 * byte strings in a transaction's `changes` become base64, as in JSON.
 * Throws on bytes that are not one CBOR item.
 */
export function decodeCborFrame(bytes: Uint8Array): unknown {
  const value = decode(bytes) as unknown;
  const writes = (value as { args?: { writes?: unknown } } | null)?.args?.writes;
  if (Array.isArray(writes)) {
    for (const w of writes) {
      const changes = (w as { changes?: unknown } | null)?.changes;
      if (Array.isArray(changes)) {
        (w as { changes: unknown[] }).changes = changes.map((c) =>
          c instanceof Uint8Array ? encodeBase64(c) : c,
        );
      }
    }
  }
  return value;
}

/** The head of a CBOR item: major type and length/value (RFC 8949 §3). */
function head(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  if (n < 0x100000000) {
    return Uint8Array.of(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
  return encode(n); // beyond 32 bits: let the library write it
}

const PREFIX = [encode('type'), encode('deliver'), encode('epoch')];
const DOCS_KEY = encode('docs');

/**
 * A `deliver` frame from doc entries already encoded as CBOR items (each
 * encoded once and shared by every connection): `{type, epoch, docs: [...]}`.
 */
export function cborDeliverFrame(epoch: number, entries: readonly Uint8Array[]): Uint8Array {
  const parts = [
    head(5, 3),
    ...PREFIX,
    encode(epoch),
    DOCS_KEY,
    head(4, entries.length),
    ...entries,
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

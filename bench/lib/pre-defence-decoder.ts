import * as Automerge from '@automerge/automerge';
import { automergeKind } from '../../src/crdt/automerge/automerge-kind.js';
import type { KindChange } from '../../src/crdt/doc-kind.js';

/**
 * The commit-path decoder cairn used before issue "Integrity under hostile
 * input", kept only so the bench can measure what the defence costs:
 * `Automerge.decodeChange` (materializes every op as a JS object, checks no
 * checksum, recomputes no hash, counts no ops). Never used outside the bench.
 */
function preDefenceDecode(bytes: Uint8Array): KindChange {
  const decoded = Automerge.decodeChange(bytes);
  if (typeof decoded.hash !== 'string') throw new Error('change has no hash');
  return {
    hash: decoded.hash,
    actor: decoded.actor,
    seq: decoded.seq,
    time: decoded.time,
    message: decoded.message ?? null,
    deps: [...decoded.deps].sort(),
    bytes,
  };
}

/**
 * Runs `body` with the Automerge kind decoding changes the pre-defence way,
 * then puts the real decoder back (also when `body` throws).
 */
export async function withPreDefenceDecoder<T>(body: () => Promise<T>): Promise<T> {
  // The kind is a plain object shared by the whole engine: swapping its
  // method is the narrowest way to measure "before" in the same process.
  const kind = automergeKind as { decodeChange: typeof automergeKind.decodeChange };
  const real = kind.decodeChange;
  kind.decodeChange = (bytes) => preDefenceDecode(bytes);
  try {
    return await body();
  } finally {
    kind.decodeChange = real;
  }
}

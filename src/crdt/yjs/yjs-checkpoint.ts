import * as Y from 'yjs';
import { sha256 } from './yjs-update.js';

/** A checkpoint chunk is at most this many bytes (SPEC §11). */
export const CHECKPOINT_CHUNK_BYTES = 1024 * 1024;

/** What a stored checkpoint claims about its chunks. */
export interface CheckpointClaim {
  chunkCount: number;
  totalBytes: number;
  sha256: Uint8Array;
}

/** Splits a state into chunks of at most `chunkBytes` (at least one chunk, maybe empty). */
export function splitChunks(state: Uint8Array, chunkBytes = CHECKPOINT_CHUNK_BYTES): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < state.byteLength; at += chunkBytes) {
    chunks.push(state.subarray(at, Math.min(at + chunkBytes, state.byteLength)));
  }
  return chunks.length > 0 ? chunks : [new Uint8Array(0)];
}

/** What a checkpoint of `state` records about itself. */
export function claimOf(chunks: readonly Uint8Array[]): CheckpointClaim {
  return {
    chunkCount: chunks.length,
    totalBytes: chunks.reduce((n, c) => n + c.byteLength, 0),
    sha256: sha256(chunks),
  };
}

/**
 * The state of a checkpoint from its chunks, or a reason it cannot be
 * trusted (a missing chunk, a size or hash that does not match): a bad
 * checkpoint is never applied (SPEC §11: ignored, counted, rebuilt).
 */
export function assembleChunks(
  chunks: readonly Uint8Array[],
  claim: CheckpointClaim,
): { state: Uint8Array } | { problem: string } {
  if (chunks.length !== claim.chunkCount) {
    return { problem: `${chunks.length} of ${claim.chunkCount} chunks` };
  }
  const got = claimOf(chunks);
  if (got.totalBytes !== claim.totalBytes) {
    return { problem: `${got.totalBytes} bytes, ${claim.totalBytes} recorded` };
  }
  if (Buffer.compare(got.sha256, claim.sha256) !== 0) return { problem: 'sha256 does not match' };
  const state = new Uint8Array(got.totalBytes);
  let at = 0;
  for (const c of chunks) {
    state.set(c, at);
    at += c.byteLength;
  }
  return { state };
}

/**
 * What is wrong with a checkpoint's assembled state, or undefined: it must
 * be a Yjs update that loads, whose state vector is the recorded one.
 */
export function checkpointStateProblem(
  state: Uint8Array,
  stateVector: Uint8Array,
): string | undefined {
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, state);
    const got = Y.encodeStateVector(doc);
    return Buffer.compare(got, stateVector) === 0
      ? undefined
      : 'its state vector is not the recorded one';
  } catch {
    return 'its state is not a Yjs update';
  } finally {
    doc.destroy();
  }
}

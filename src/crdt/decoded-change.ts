import * as Automerge from '@automerge/automerge';
import { CairnError } from '../core/errors.js';

/** The header fields of one change that the server checks and stores. */
export interface DecodedChange {
  hash: string;
  actor: string;
  /** The actor's own sequence number (1, 2, 3 …). */
  seq: number;
  startOp: number;
  /** Client-supplied wall clock in seconds; advisory only. */
  time: number;
  message: string | null;
  deps: string[];
  bytes: Uint8Array;
}

/**
 * Decodes the header of one Automerge change. Garbage, a document chunk or a
 * change with trailing bytes is `InvalidChange`. The ops are not applied:
 * nothing on the commit path materializes a document.
 */
export function decodeChangeBytes(bytes: Uint8Array, changeIndex?: number): DecodedChange {
  let decoded: Automerge.DecodedChange;
  try {
    decoded = Automerge.decodeChange(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CairnError('InvalidChange', `not an Automerge change: ${reason}`, {
      ...(changeIndex !== undefined ? { changeIndex } : {}),
    });
  }
  if (typeof decoded.hash !== 'string') {
    throw new CairnError('InvalidChange', 'change has no hash');
  }
  return {
    hash: decoded.hash,
    actor: decoded.actor,
    seq: decoded.seq,
    startOp: decoded.startOp,
    time: decoded.time,
    message: decoded.message ?? null,
    deps: [...decoded.deps].sort(),
    bytes,
  };
}

import * as Automerge from '@automerge/automerge';
import { CairnError } from '../../core/errors.js';
import type { KindChange } from '../doc-kind.js';

/**
 * Decodes the header of one Automerge change. Garbage, a document chunk or a
 * change with trailing bytes is `InvalidChange`. The ops are not applied:
 * nothing on the commit path materializes a document.
 */
export function decodeAutomergeChange(bytes: Uint8Array, changeIndex?: number): KindChange {
  let decoded: Automerge.DecodedChange;
  try {
    decoded = Automerge.decodeChange(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CairnError(
      'InvalidChange',
      `not an Automerge change: ${reason}`,
      changeIndex !== undefined ? { changeIndex } : {},
      { cause: err },
    );
  }
  if (typeof decoded.hash !== 'string') {
    throw new CairnError('InvalidChange', 'change has no hash');
  }
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

import * as Y from 'yjs';
import { CairnError } from '../../core/errors.js';
import { docFromUpdates } from './yjs-update.js';

/**
 * Equality of Yjs states that does not depend on how they were encoded
 * (SPEC §11: an import is verified before it is kept). Two encodings of one
 * state can differ — Yjs merges and splits structs as it integrates them —
 * so bytes of `encodeStateAsUpdate` are never compared. What is compared:
 * the state vectors (byte-equal: Yjs writes them sorted by client), the
 * structs each doc would send the other (none, both ways), and the delete
 * sets (`Y.snapshot`, built from the struct store and merged, so canonical).
 * With the same struct ids and the same deletions, the content is the same:
 * a struct id names one insertion forever.
 */

/** Whether the doc holds structs or deletions it could not integrate (they need state it lacks). */
export function hasPending(doc: Y.Doc): boolean {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null;
}

/** Whether the doc holds nothing at all (the state of a new `Y.Doc`). */
export function isEmptyDoc(doc: Y.Doc): boolean {
  return doc.store.clients.size === 0 && !hasPending(doc);
}

/**
 * The doc one update describes on its own: `InvalidChange` when it holds
 * structs or deletions that depend on state it does not contain (an
 * incremental update, not a document's state).
 */
export function standaloneDoc(update: Uint8Array): Y.Doc {
  const doc = docFromUpdates([update]);
  if (hasPending(doc)) {
    doc.destroy();
    throw new CairnError(
      'InvalidChange',
      'the update depends on state it does not contain (not a whole document)',
    );
  }
  return doc;
}

/** Why two docs do not hold the same state, or undefined when they do. */
export function stateDifference(a: Y.Doc, b: Y.Doc): string | undefined {
  if (hasPending(a) || hasPending(b)) return 'a doc holds structs it could not integrate';
  const svA = Y.encodeStateVector(a);
  const svB = Y.encodeStateVector(b);
  if (Buffer.compare(svA, svB) !== 0) return 'the state vectors differ';
  if (structCount(Y.encodeStateAsUpdate(a, svB)) > 0)
    return 'the first doc has structs the second lacks';
  if (structCount(Y.encodeStateAsUpdate(b, svA)) > 0)
    return 'the second doc has structs the first lacks';
  if (!Y.equalSnapshots(Y.snapshot(a), Y.snapshot(b))) return 'the deletions differ';
  return undefined;
}

/**
 * Why `doc` does not already hold everything `update` describes, or
 * undefined when applying it would change nothing: a copy of the doc with
 * the update applied must hold the same state as the doc.
 */
export function missingFrom(doc: Y.Doc, update: Uint8Array): string | undefined {
  const probe = docFromUpdates([Y.encodeStateAsUpdate(doc), update]);
  try {
    if (hasPending(probe)) return 'the update depends on state the doc does not hold';
    const diff = stateDifference(doc, probe);
    return diff === undefined ? undefined : `the doc lacks part of the update (${diff})`;
  } finally {
    probe.destroy();
  }
}

const structCount = (update: Uint8Array) => Y.decodeUpdate(update).structs.length;

import * as Automerge from '@automerge/automerge';
import { CairnError } from '../../core/errors.js';

export type AutomergeDoc = Automerge.Doc<unknown>;

/**
 * Builds a document from a causally ordered list of change bytes in one batch.
 * Automerge 3 applies changes one call at a time in quadratic time, so callers
 * always hand over the whole tail at once (optionally on top of a snapshot).
 */
export function materialize(changes: readonly Uint8Array[], snapshot?: Uint8Array): AutomergeDoc {
  try {
    // From nothing, `load` of the concatenated change chunks is ~10% faster than applying them.
    if (!snapshot)
      return changes.length > 0 ? Automerge.load(concatBytes(changes)) : Automerge.init();
    const doc: AutomergeDoc = Automerge.load(snapshot);
    return changes.length > 0 ? Automerge.loadIncremental(doc, concatBytes(changes)) : doc;
  } catch (err) {
    throw unloadable(err);
  }
}

/** Applies more changes to a copy of `doc` (the original stays usable). */
export function extend(doc: AutomergeDoc, changes: readonly Uint8Array[]): AutomergeDoc {
  const copy = Automerge.clone(doc);
  if (changes.length === 0) return copy;
  try {
    return Automerge.loadIncremental(copy, concatBytes(changes));
  } catch (err) {
    throw unloadable(err);
  }
}

/** A change that decodes but whose ops contradict the document makes it unreadable. */
function unloadable(err: unknown): CairnError {
  const reason = err instanceof Error ? err.message : String(err);
  return new CairnError('Internal', `stored changes do not load: ${reason}`, {}, { cause: err });
}

/** Loads saved bytes (a snapshot); throws if they are not a document. */
export function loadDoc(bytes: Uint8Array): AutomergeDoc {
  return Automerge.load(bytes);
}

export function saveDoc(doc: AutomergeDoc): Uint8Array {
  return Automerge.save(doc);
}

export function docHeads(doc: AutomergeDoc): string[] {
  return [...Automerge.getHeads(doc)].sort();
}

/** Rough in-memory cost of a materialized doc, from Automerge's own counts. */
export function estimateDocBytes(doc: AutomergeDoc): number {
  const { numOps, numChanges } = Automerge.stats(doc);
  return 128 * numOps + 192 * numChanges + 1024;
}

/** The changes of saved bytes in causal order (every change after its deps). */
export function changesOfSaved(bytes: Uint8Array): Uint8Array[] {
  return Automerge.getAllChanges(Automerge.load(bytes));
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  return Buffer.concat(parts);
}

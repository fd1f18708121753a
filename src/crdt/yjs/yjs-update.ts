import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { CairnError } from '../../core/errors.js';

/**
 * Checks that bytes are one Yjs update (v1 encoding) before anything is
 * applied or stored: every struct and the delete set must decode. Bytes
 * that do not are `InvalidChange` (SPEC §11: 422, nothing stored).
 */
export function checkUpdate(bytes: Uint8Array): void {
  try {
    Y.decodeUpdate(bytes);
  } catch (err) {
    throw new CairnError('InvalidChange', 'the body is not a Yjs update', {}, { cause: err });
  }
}

/** SHA-256 of bytes (journal rows, checkpoints, tx record `updateHash`). */
export function sha256(bytes: Uint8Array | readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const part of bytes instanceof Uint8Array ? [bytes] : bytes) h.update(part);
  return new Uint8Array(h.digest());
}

export const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/**
 * Applies updates to a new doc, in order, inside one transaction (one
 * observer round, not one per update): loading is a checkpoint plus the
 * journal after it. Never `Y.mergeUpdates` over many updates (slow: see
 * docs/DECISIONS.md).
 */
export function docFromUpdates(updates: readonly Uint8Array[]): Y.Doc {
  const doc = new Y.Doc({ gc: true });
  Y.transact(doc, () => {
    for (const u of updates) Y.applyUpdate(doc, u);
  });
  return doc;
}

/** The full state of a doc as one update, and its state vector. */
export function stateOf(doc: Y.Doc): { state: Uint8Array; stateVector: Uint8Array } {
  return { state: Y.encodeStateAsUpdate(doc), stateVector: Y.encodeStateVector(doc) };
}

/**
 * Applies an update to a live doc and returns what it added — the update
 * Yjs emits for the transaction (only the new structs and deletions), or
 * undefined when it added nothing (already known, or waiting for missing
 * structs: Yjs keeps those pending and emits them once they integrate).
 */
export function applyAndDiff(
  doc: Y.Doc,
  update: Uint8Array,
  origin: unknown,
): Uint8Array | undefined {
  let added: Uint8Array | undefined;
  const listener = (u: Uint8Array, o: unknown) => {
    if (o === origin) added = added ? Y.mergeUpdates([added, u]) : u;
  };
  doc.on('update', listener);
  try {
    Y.applyUpdate(doc, update, origin);
  } finally {
    doc.off('update', listener);
  }
  return added;
}

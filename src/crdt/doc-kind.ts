import type { CairnError } from '../core/errors.js';
import type { DocKindName } from '../core/ids.js';
import type { JsonValue } from '../core/json.js';

/**
 * One unit of a document's history as the engine handles it, whatever the
 * kind: a content identity, an author with its own counter, causal
 * dependencies and the bytes. An Automerge change maps onto it one to one.
 */
export interface KindChange {
  /** Content identity, lowercase hex (an Automerge change hash). */
  hash: string;
  /** Author id, lowercase hex. */
  actor: string;
  /** The author's own counter (1, 2, 3 …). */
  seq: number;
  /** Hashes this change depends on, sorted. */
  deps: string[];
  /** Client-supplied wall clock in seconds; advisory only. */
  time: number;
  message: string | null;
  bytes: Uint8Array;
}

/** Bounds of one incoming change (default: none beyond the format's). */
export interface DecodeLimits {
  maxOps: number;
  maxBytes: number;
}

/** What a write's changes are checked against: the branch history before the write. */
export interface ChangeHistory {
  /** Whether a hash is in the branch history (the caller looked up every one the rules need). */
  isKnown(hash: string): boolean;
  /** The highest seq of an actor in the branch history (0: none). */
  lastSeq(actor: string): number;
}

/** Where an admitted write goes, for the errors the rules raise. */
export interface WriteLocation {
  docId: string;
  branch: string;
}

/**
 * Everything the engine needs from one kind of document. The pipeline,
 * storage, tx chain, read path and snapshot worker are written against this
 * interface; each kind (Automerge now, Yjs next) implements it once, and
 * only its implementation imports the CRDT library.
 */
export interface DocKind<Doc = unknown> {
  readonly name: DocKindName;
  /**
   * Decodes one incoming change and checks its integrity (its hash and
   * checksum against its bytes), without applying it. Bytes that are not a
   * change of this kind are `InvalidChange`; more operations than
   * `limits.maxOps` is `LimitExceeded`. The result's `bytes` are the
   * canonical bytes its hash names (what is stored).
   */
  decodeChange(bytes: Uint8Array, limits?: DecodeLimits): KindChange;
  /**
   * SPEC §2 step 5, in order, for the changes of one write: the kind's
   * identity rule (a known change is a duplicate, skipped), dependency rule
   * and author-counter rule. `decoded` holds the decode error of a change
   * that did not decode, reported at its position. Throws the first broken
   * rule as a `CairnError`.
   */
  admitChanges(
    decoded: readonly (KindChange | CairnError)[],
    history: ChangeHistory,
    where: WriteLocation,
  ): { added: KindChange[]; duplicates: number };
  /** Builds a document from change bytes in causal order, in one batch, optionally on a saved base. */
  materialize(changes: readonly Uint8Array[], base?: Uint8Array): Doc;
  /** A copy of `doc` with more changes applied (the original stays usable). */
  extend(doc: Doc, changes: readonly Uint8Array[]): Doc;
  /** Loads saved bytes; throws if they are not a document of this kind. */
  load(saved: Uint8Array): Doc;
  save(doc: Doc): Uint8Array;
  /** The document's heads, sorted. */
  heads(doc: Doc): string[];
  /** The document as JSON (SPEC §3 `value`). */
  toJson(doc: Doc): JsonValue;
  /** Rough memory held by a materialized doc, for the cache's byte bound. */
  estimateBytes(doc: Doc): number;
  /** The changes of a saved document, in causal order (import). Throws if it does not load. */
  changesOfSaved(saved: Uint8Array): Uint8Array[];
  /** Digest of the changes one write appended, committed to by its tx record (lowercase hex). */
  contentDigest(changes: readonly { hash: string }[]): string;
  /**
   * What would make a served version of this doc unusable, or undefined:
   * its JSON does not convert, or its saved bytes do not load back to its
   * heads. (Applying alone does not show it: Automerge applies some changes
   * whose saved document it then cannot load.)
   */
  verify(doc: Doc): string | undefined;
  /**
   * The module a worker thread runs for this kind: it handles the jobs of
   * crdt/kind-jobs.ts (building, checking and bisecting documents), so that
   * work that costs O(document) never runs on the event loop.
   */
  readonly workerModule: URL;
}

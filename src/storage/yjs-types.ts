/**
 * Storage of Yjs documents (SPEC §11), its own narrow interface beside the
 * Automerge log: a space's Yjs docs live in their own tables (their own doc
 * id namespace), share the space's epochs and tx chain (the caller appends
 * the tx records through SpaceWriteOps in the same database transaction),
 * and are reached as `ops.yjs` of a space's read or write ops.
 *
 * A doc is a journal (one row per committed update, keyed by its epoch) and
 * checkpoints (the full state at an epoch, in chunks of at most 1 MiB). A
 * checkpoint's chunks are written first (`putCheckpointChunks`, possibly in
 * earlier transactions) and become visible only by `publishCheckpoint`, one
 * small write; chunks without a published checkpoint are never read.
 */

/** One committed update of a doc's journal. */
export interface YjsJournalRow {
  epoch: number;
  committedAt: number;
  /** SHA-256 of `bytes`, 32 bytes. */
  hash: Uint8Array;
  bytes: Uint8Array;
}

/** A journal row without its bytes (history listings). */
export interface YjsJournalEntry {
  epoch: number;
  committedAt: number;
  size: number;
}

/** A published checkpoint: the doc's full state (`Y.encodeStateAsUpdate`) at `epoch`. */
export interface YjsCheckpointMeta {
  /** Per doc, increasing; names the chunks. */
  generation: number;
  epoch: number;
  chunkCount: number;
  totalBytes: number;
  /** SHA-256 of the chunks concatenated in order, 32 bytes. */
  sha256: Uint8Array;
  /** `Y.encodeStateVector` of the state. */
  stateVector: Uint8Array;
  createdAt: number;
}

export interface YjsDocRecord {
  docId: string;
  createdAt: number;
  /** Epoch of the doc's newest commit (a journal row or an oversized update's checkpoint). */
  lastEpoch: number;
  /** Generation of the newest published checkpoint (the pointer), if any. */
  checkpointGeneration?: number;
  /** The migration marker (JSON text `{from, sourceHash, at}`), if the doc was moved in. */
  migration?: string;
}

export interface YjsReadOps {
  getDoc(docId: string): Promise<YjsDocRecord | undefined>;
  /**
   * Doc ids starting with `prefix` (literally: no wildcards), after
   * `afterDocId` (exclusive; null: from the start), in the byte order of their
   * UTF-8, at most `limit`.
   */
  listDocIds(prefix: string, afterDocId: string | null, limit: number): Promise<string[]>;
  /** Journal rows with `afterEpoch < epoch <= upToEpoch`, oldest first, at most `limit`. */
  journal(
    docId: string,
    afterEpoch: number,
    upToEpoch: number,
    limit: number,
  ): Promise<YjsJournalRow[]>;
  /** Journal entries with `epoch < beforeEpoch`, newest first, at most `limit` (no bytes). */
  journalBefore(docId: string, beforeEpoch: number, limit: number): Promise<YjsJournalEntry[]>;
  /** How many journal rows, and how many bytes, have `epoch > afterEpoch` (compaction debt). */
  journalSizeAfter(docId: string, afterEpoch: number): Promise<{ rows: number; bytes: number }>;
  /** Published checkpoints, newest epoch first (ties: newest generation first). */
  checkpoints(docId: string): Promise<YjsCheckpointMeta[]>;
  /** The chunks of a generation, in order (empty if there are none). */
  readChunks(docId: string, generation: number): Promise<Uint8Array[]>;
  /** The highest generation that has chunks or a checkpoint (0: none); a new one is above it. */
  maxGeneration(docId: string): Promise<number>;
}

export interface YjsWriteOps extends YjsReadOps {
  /** Registers a doc (no-op if it exists). */
  createDoc(docId: string, createdAt: number): Promise<void>;
  /**
   * Appends journal rows (epochs increasing, above the doc's last; an epoch
   * already stored fails on the key) and raises the doc's lastEpoch to the
   * highest. The doc must have been created (`createDoc`): else this throws
   * `AssertionFailed` and writes nothing.
   */
  appendJournal(docId: string, rows: readonly YjsJournalRow[]): Promise<void>;
  /**
   * Writes chunks of a not yet published checkpoint (each at most 1 MiB).
   * They continue after the generation's chunks already written, so a big
   * checkpoint may be written over several calls and transactions.
   */
  putCheckpointChunks(
    docId: string,
    generation: number,
    chunks: readonly Uint8Array[],
  ): Promise<void>;
  /**
   * The pointer flip: records the checkpoint and points the doc at it;
   * lastEpoch becomes at least its epoch. Throws `AssertionFailed`, writing
   * nothing, unless the doc exists and exactly `meta.chunkCount` chunks of
   * `meta.totalBytes` bytes are written for the generation.
   */
  publishCheckpoint(docId: string, meta: YjsCheckpointMeta): Promise<void>;
  /**
   * Deletes the given checkpoints with their chunks (a given generation's
   * chunks go even if it was never published), and every chunk of an
   * unpublished generation below the doc's current checkpoint (leftovers of
   * a crash between chunks and flip; chunks above it may be a checkpoint
   * still being written, and stay). Returns how many checkpoints went.
   * Dropping the generation the doc points at is a bug: `AssertionFailed`,
   * nothing deleted.
   */
  dropCheckpoints(docId: string, generations: readonly number[]): Promise<number>;
  /** Deletes journal rows with `epoch <= upToEpoch` and `committedAt < beforeMs` (retention); returns how many. */
  pruneJournal(docId: string, upToEpoch: number, beforeMs: number): Promise<number>;
  /** Records the migration marker (JSON text) of a created doc (else `AssertionFailed`). */
  setMigration(docId: string, marker: string): Promise<void>;
}

import { assert } from '../core/assert.js';
import type { Row } from './row-mappers.js';
import type {
  YjsCheckpointMeta,
  YjsDocRecord,
  YjsJournalEntry,
  YjsJournalRow,
} from './yjs-types.js';

/*
 * What both backends' Yjs ops share: row mapping (both schemas use the same
 * column names), where a doc id listing starts, and the checks of what
 * callers hand in. A failed check is a bug of the caller (AssertionFailed),
 * never bad input: the Yjs write path validates updates before storage.
 */

/** The largest chunk of a checkpoint (SPEC §11: checkpoints are stored in chunks of at most 1 MiB). */
export const YJS_MAX_CHUNK_BYTES = 1024 * 1024;
const HASH_BYTES = 32;

/** A `yjs_docs` row; the optional fields are absent (not undefined-valued) when NULL. */
export function toYjsDoc(r: Row | undefined): YjsDocRecord | undefined {
  if (!r) return undefined;
  const doc: YjsDocRecord = {
    docId: r.doc_id as string,
    createdAt: r.created_at as number,
    lastEpoch: r.last_epoch as number,
  };
  if (r.checkpoint_gen !== null && r.checkpoint_gen !== undefined) {
    doc.checkpointGeneration = r.checkpoint_gen as number;
  }
  if (r.migration !== null && r.migration !== undefined) doc.migration = r.migration as string;
  return doc;
}

export function toYjsJournalRow(r: Row): YjsJournalRow {
  return {
    epoch: r.epoch as number,
    committedAt: r.committed_at as number,
    hash: r.hash as Uint8Array,
    bytes: r.bytes as Uint8Array,
  };
}

/** A journal row selected with `length(bytes) AS size` instead of its bytes. */
export function toYjsJournalEntry(r: Row): YjsJournalEntry {
  return {
    epoch: r.epoch as number,
    committedAt: r.committed_at as number,
    size: r.size as number,
  };
}

export function toYjsCheckpoint(r: Row): YjsCheckpointMeta {
  return {
    generation: r.generation as number,
    epoch: r.epoch as number,
    chunkCount: r.chunk_count as number,
    totalBytes: r.total_bytes as number,
    sha256: r.sha256 as Uint8Array,
    stateVector: r.state_vector as Uint8Array,
    createdAt: r.created_at as number,
  };
}

/**
 * Where a listing of doc ids with `prefix` after `afterDocId` starts: the ids
 * with a prefix are one run in byte order (both schemas sort doc ids by their
 * UTF-8 bytes), which starts at the prefix itself unless the cursor is
 * already inside or past it. Compared as UTF-8 bytes, as the database does
 * (JavaScript's `<` compares UTF-16 units, which orders some characters
 * differently). No LIKE anywhere, so `%` and `_` are ordinary characters.
 */
export function docIdListStart(
  prefix: string,
  afterDocId: string | null,
): { from: string; inclusive: boolean } {
  if (afterDocId !== null && Buffer.compare(utf8(afterDocId), utf8(prefix)) >= 0) {
    return { from: afterDocId, inclusive: false };
  }
  return { from: prefix, inclusive: true };
}

/** The leading ids of a sorted page that start with `prefix` (the run ends at the first that does not). */
export function takePrefixed(sortedIds: readonly string[], prefix: string): string[] {
  const end = sortedIds.findIndex((id) => !id.startsWith(prefix));
  return end < 0 ? [...sortedIds] : sortedIds.slice(0, end);
}

/** Journal rows as `appendJournal` needs them; returns the highest epoch. */
export function checkJournalRows(rows: readonly YjsJournalRow[]): number {
  let last = -Infinity;
  for (const row of rows) {
    assert(row.epoch > last, 'Yjs journal rows must have increasing epochs');
    assert(row.hash.byteLength === HASH_BYTES, 'a Yjs journal row hash has 32 bytes');
    last = row.epoch;
  }
  return last;
}

export function checkChunks(chunks: readonly Uint8Array[]): void {
  for (const chunk of chunks) {
    assert(chunk.byteLength <= YJS_MAX_CHUNK_BYTES, 'a Yjs checkpoint chunk is at most 1 MiB');
  }
}

export function checkMeta(meta: YjsCheckpointMeta): void {
  assert(meta.sha256.byteLength === HASH_BYTES, 'a Yjs checkpoint sha256 has 32 bytes');
}

/**
 * What a publish found must agree with the meta being published: the doc
 * exists, and the generation's chunks are all written (a pointer at a
 * partial checkpoint would make the doc unreadable).
 */
export function checkPublish(
  docId: string,
  meta: YjsCheckpointMeta,
  found: { docExists: boolean; chunks: number; bytes: number },
): void {
  checkMeta(meta);
  assert(found.docExists, `Yjs doc ${docId} must be created before its checkpoint is published`);
  assert(
    found.chunks === meta.chunkCount && found.bytes === meta.totalBytes,
    `Yjs doc ${docId} generation ${meta.generation}: ${found.chunks} chunks of ${found.bytes} bytes written, ` +
      `the checkpoint says ${meta.chunkCount} of ${meta.totalBytes}`,
  );
}

/** The pointer must never be left at a dropped checkpoint. */
export function checkDrop(
  docId: string,
  doc: YjsDocRecord | undefined,
  generations: readonly number[],
): void {
  const pointer = doc?.checkpointGeneration;
  assert(
    pointer === undefined || !generations.includes(pointer),
    `Yjs doc ${docId}: generation ${pointer} is the published checkpoint and cannot be dropped`,
  );
}

function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

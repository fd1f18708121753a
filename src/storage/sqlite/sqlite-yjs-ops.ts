import type Database from 'better-sqlite3';
import { assert } from '../../core/assert.js';
import type { Row } from '../row-mappers.js';
import {
  checkChunks,
  checkDrop,
  checkJournalRows,
  checkPublish,
  docIdListStart,
  takePrefixed,
  toYjsCheckpoint,
  toYjsDoc,
  toYjsJournalEntry,
  toYjsJournalRow,
} from '../yjs-rows.js';
import type {
  YjsCheckpointMeta,
  YjsDocRecord,
  YjsJournalEntry,
  YjsJournalRow,
  YjsWriteOps,
} from '../yjs-types.js';
import type { Statement } from './sqlite-statements.js';

const CHECKPOINT_COLUMNS =
  'generation, epoch, chunk_count, total_bytes, sha256, state_vector, created_at';

function prepareYjsStatements(db: Database.Database) {
  const p = (sql: string): Statement => db.prepare(sql);
  const one = (sql: string): Statement => db.prepare(sql).pluck();
  return {
    doc: p(`SELECT doc_id, created_at, last_epoch, checkpoint_gen, migration
      FROM yjs_docs WHERE doc_id = ?`),
    docIdsFrom: one('SELECT doc_id FROM yjs_docs WHERE doc_id >= ? ORDER BY doc_id LIMIT ?'),
    docIdsAfter: one('SELECT doc_id FROM yjs_docs WHERE doc_id > ? ORDER BY doc_id LIMIT ?'),
    journal: p(`SELECT epoch, committed_at, hash, bytes FROM yjs_journal
      WHERE doc_id = ? AND epoch > ? AND epoch <= ? ORDER BY epoch LIMIT ?`),
    // length() of a blob does not read its overflow pages.
    journalBefore: p(`SELECT epoch, committed_at, length(bytes) AS size FROM yjs_journal
      WHERE doc_id = ? AND epoch < ? ORDER BY epoch DESC LIMIT ?`),
    journalSizeAfter: p(`SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS bytes
      FROM yjs_journal WHERE doc_id = ? AND epoch > ?`),
    checkpoints: p(`SELECT ${CHECKPOINT_COLUMNS} FROM yjs_checkpoints
      WHERE doc_id = ? ORDER BY epoch DESC, generation DESC`),
    chunks: one('SELECT bytes FROM yjs_chunks WHERE doc_id = ? AND generation = ? ORDER BY idx'),
    chunkStats: p(`SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS bytes,
      coalesce(max(idx) + 1, 0) AS next FROM yjs_chunks WHERE doc_id = ? AND generation = ?`),
    maxGeneration: one(`SELECT max(
        coalesce((SELECT max(generation) FROM yjs_checkpoints WHERE doc_id = ?), 0),
        coalesce((SELECT max(generation) FROM yjs_chunks WHERE doc_id = ?), 0))`),
    createDoc: p(`INSERT INTO yjs_docs (doc_id, created_at) VALUES (?, ?)
      ON CONFLICT (doc_id) DO NOTHING`),
    raiseLastEpoch: p('UPDATE yjs_docs SET last_epoch = max(last_epoch, ?) WHERE doc_id = ?'),
    insertJournal: p(`INSERT INTO yjs_journal (doc_id, epoch, committed_at, hash, bytes)
      VALUES (?, ?, ?, ?, ?)`),
    insertChunk: p('INSERT INTO yjs_chunks (doc_id, generation, idx, bytes) VALUES (?, ?, ?, ?)'),
    insertCheckpoint: p(`INSERT INTO yjs_checkpoints (doc_id, ${CHECKPOINT_COLUMNS})
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    pointAt: p(`UPDATE yjs_docs SET checkpoint_gen = ?, last_epoch = max(last_epoch, ?)
      WHERE doc_id = ?`),
    deleteCheckpoint: p('DELETE FROM yjs_checkpoints WHERE doc_id = ? AND generation = ?'),
    deleteChunks: p('DELETE FROM yjs_chunks WHERE doc_id = ? AND generation = ?'),
    // Chunks of a generation that was never published and is older than the
    // pointer: a crash between writing them and the flip. Chunks above the
    // pointer may belong to a checkpoint still being written; they stay.
    deleteOrphanChunks: p(`DELETE FROM yjs_chunks WHERE doc_id = ? AND generation < ?
      AND generation NOT IN (SELECT generation FROM yjs_checkpoints WHERE doc_id = ?)`),
    pruneJournal: p('DELETE FROM yjs_journal WHERE doc_id = ? AND epoch <= ? AND committed_at < ?'),
    setMigration: p('UPDATE yjs_docs SET migration = ? WHERE doc_id = ?'),
  };
}

type YjsStatements = ReturnType<typeof prepareYjsStatements>;

/**
 * The writes of several statements, each in a savepoint (better-sqlite3 nests
 * `transaction()` inside the batch's transaction that way): one that fails
 * leaves nothing of itself, even if its caller catches the error and goes on.
 */
function prepareYjsWrites(db: Database.Database, s: YjsStatements) {
  return {
    append: db.transaction((docId: string, rows: readonly YjsJournalRow[], maxEpoch: number) => {
      // First, so that a doc never created fails before any row is written.
      const raised = s.raiseLastEpoch.run(maxEpoch, docId).changes;
      assert(raised === 1, `Yjs doc ${docId} must be created before its journal is appended`);
      for (const r of rows) s.insertJournal.run(docId, r.epoch, r.committedAt, r.hash, r.bytes);
    }),
    putChunks: db.transaction(
      (docId: string, generation: number, chunks: readonly Uint8Array[]) => {
        // A call continues after the chunks already written for the generation.
        const { next } = s.chunkStats.get(docId, generation) as { next: number };
        chunks.forEach((c, i) => s.insertChunk.run(docId, generation, next + i, c));
      },
    ),
    publish: db.transaction((docId: string, meta: YjsCheckpointMeta) => {
      const written = s.chunkStats.get(docId, meta.generation) as { n: number; bytes: number };
      const docExists = s.doc.get(docId) !== undefined;
      checkPublish(docId, meta, { docExists, chunks: written.n, bytes: written.bytes });
      s.insertCheckpoint.run(
        docId,
        meta.generation,
        meta.epoch,
        meta.chunkCount,
        meta.totalBytes,
        meta.sha256,
        meta.stateVector,
        meta.createdAt,
      );
      s.pointAt.run(meta.generation, meta.epoch, docId);
    }),
    drop: db.transaction(
      (docId: string, generations: readonly number[], pointer: number | undefined) => {
        let dropped = 0;
        for (const g of generations) {
          dropped += s.deleteCheckpoint.run(docId, g).changes;
          s.deleteChunks.run(docId, g);
        }
        if (pointer !== undefined) s.deleteOrphanChunks.run(docId, pointer, docId);
        return dropped;
      },
    ),
  };
}

/**
 * The Yjs docs of one space file (schema: migration 7 of space-migrations.ts),
 * on the connection of the `SqliteSpaceOps` that holds it: the writer's sees
 * its batch, the reader's committed data only.
 */
export class SqliteYjsOps implements YjsWriteOps {
  private readonly s: YjsStatements;
  private readonly w: ReturnType<typeof prepareYjsWrites>;

  constructor(db: Database.Database) {
    this.s = prepareYjsStatements(db);
    this.w = prepareYjsWrites(db, this.s);
  }

  async getDoc(docId: string): Promise<YjsDocRecord | undefined> {
    return toYjsDoc(this.s.doc.get(docId) as Row | undefined);
  }

  async listDocIds(prefix: string, afterDocId: string | null, limit: number): Promise<string[]> {
    const { from, inclusive } = docIdListStart(prefix, afterDocId);
    const page = (inclusive ? this.s.docIdsFrom : this.s.docIdsAfter).all(from, limit) as string[];
    return takePrefixed(page, prefix);
  }

  async journal(
    docId: string,
    afterEpoch: number,
    upToEpoch: number,
    limit: number,
  ): Promise<YjsJournalRow[]> {
    const rows = this.s.journal.all(docId, afterEpoch, upToEpoch, limit) as Row[];
    return rows.map(toYjsJournalRow);
  }

  async journalBefore(
    docId: string,
    beforeEpoch: number,
    limit: number,
  ): Promise<YjsJournalEntry[]> {
    return (this.s.journalBefore.all(docId, beforeEpoch, limit) as Row[]).map(toYjsJournalEntry);
  }

  async journalSizeAfter(
    docId: string,
    afterEpoch: number,
  ): Promise<{ rows: number; bytes: number }> {
    const r = this.s.journalSizeAfter.get(docId, afterEpoch) as { n: number; bytes: number };
    return { rows: r.n, bytes: r.bytes };
  }

  async checkpoints(docId: string): Promise<YjsCheckpointMeta[]> {
    return (this.s.checkpoints.all(docId) as Row[]).map(toYjsCheckpoint);
  }

  async readChunks(docId: string, generation: number): Promise<Uint8Array[]> {
    return this.s.chunks.all(docId, generation) as Buffer[];
  }

  async maxGeneration(docId: string): Promise<number> {
    return this.s.maxGeneration.get(docId, docId) as number;
  }

  async createDoc(docId: string, createdAt: number): Promise<void> {
    this.s.createDoc.run(docId, createdAt);
  }

  async appendJournal(docId: string, rows: readonly YjsJournalRow[]): Promise<void> {
    if (rows.length === 0) return;
    this.w.append(docId, rows, checkJournalRows(rows));
  }

  async putCheckpointChunks(
    docId: string,
    generation: number,
    chunks: readonly Uint8Array[],
  ): Promise<void> {
    checkChunks(chunks);
    if (chunks.length > 0) this.w.putChunks(docId, generation, chunks);
  }

  async publishCheckpoint(docId: string, meta: YjsCheckpointMeta): Promise<void> {
    this.w.publish(docId, meta);
  }

  async dropCheckpoints(docId: string, generations: readonly number[]): Promise<number> {
    const doc = await this.getDoc(docId);
    checkDrop(docId, doc, generations);
    return this.w.drop(docId, [...new Set(generations)], doc?.checkpointGeneration);
  }

  async pruneJournal(docId: string, upToEpoch: number, beforeMs: number): Promise<number> {
    return this.s.pruneJournal.run(docId, upToEpoch, beforeMs).changes;
  }

  async setMigration(docId: string, marker: string): Promise<void> {
    const changed = this.s.setMigration.run(marker, docId).changes;
    assert(changed === 1, `Yjs doc ${docId} must be created before its migration is recorded`);
  }
}

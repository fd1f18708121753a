import type pg from 'pg';
import { assert } from '../../core/assert.js';
import type { Row } from '../row-mappers.js';
import {
  checkChunks,
  checkDrop,
  checkJournalRows,
  checkMeta,
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
import { mapPgError } from './pg-errors.js';
import type { Queryable } from './pg-space-ops.js';
import { YJS_SQL, type YjsStatementName } from './pg-yjs-statements.js';

/**
 * The Yjs docs of one space on PostgreSQL, through the pool (reads of
 * committed data) or the client of a write batch (the `PgSpaceOps` that holds
 * it passes its own), so a batch's Yjs reads see its Yjs writes.
 *
 * These statements do not flush the batch's `PgWriteQueue`: it holds only log
 * rows and tx records, which no Yjs statement reads or writes, and the store
 * flushes it before COMMIT, so all of them commit together or not at all.
 * Flushing here would cost each Yjs transaction of a batch one more round
 * trip (the tx record of the one before it) for nothing anyone can observe.
 * A write that takes several statements checks everything it can before its
 * first one; a statement that fails aborts the whole transaction anyway.
 */
export class PgYjsOps implements YjsWriteOps {
  constructor(
    private readonly db: Queryable,
    private readonly spaceId: string,
  ) {}

  private async run(name: YjsStatementName, values: unknown[]): Promise<pg.QueryResult<Row>> {
    try {
      return await this.db.query<Row>({
        name: `cairn_${name}`,
        text: YJS_SQL[name],
        values: [this.spaceId, ...values],
      });
    } catch (err) {
      throw mapPgError(err);
    }
  }

  private async rows(name: YjsStatementName, values: unknown[]): Promise<Row[]> {
    return (await this.run(name, values)).rows;
  }

  async getDoc(docId: string): Promise<YjsDocRecord | undefined> {
    return toYjsDoc((await this.rows('yjsDoc', [docId]))[0]);
  }

  async listDocIds(prefix: string, afterDocId: string | null, limit: number): Promise<string[]> {
    const { from, inclusive } = docIdListStart(prefix, afterDocId);
    const page = await this.rows(inclusive ? 'yjsDocIdsFrom' : 'yjsDocIdsAfter', [from, limit]);
    return takePrefixed(
      page.map((r) => r.doc_id as string),
      prefix,
    );
  }

  async journal(
    docId: string,
    afterEpoch: number,
    upToEpoch: number,
    limit: number,
  ): Promise<YjsJournalRow[]> {
    const rows = await this.rows('yjsJournal', [docId, afterEpoch, upToEpoch, limit]);
    return rows.map(toYjsJournalRow);
  }

  async journalBefore(
    docId: string,
    beforeEpoch: number,
    limit: number,
  ): Promise<YjsJournalEntry[]> {
    return (await this.rows('yjsJournalBefore', [docId, beforeEpoch, limit])).map(
      toYjsJournalEntry,
    );
  }

  async journalSizeAfter(
    docId: string,
    afterEpoch: number,
  ): Promise<{ rows: number; bytes: number }> {
    const [r] = await this.rows('yjsJournalSizeAfter', [docId, afterEpoch]);
    return { rows: (r?.n as number) ?? 0, bytes: (r?.bytes as number) ?? 0 };
  }

  async checkpoints(docId: string): Promise<YjsCheckpointMeta[]> {
    return (await this.rows('yjsCheckpoints', [docId])).map(toYjsCheckpoint);
  }

  async readChunks(docId: string, generation: number): Promise<Uint8Array[]> {
    return (await this.rows('yjsChunks', [docId, generation])).map((r) => r.bytes as Buffer);
  }

  async maxGeneration(docId: string): Promise<number> {
    return (await this.rows('yjsMaxGeneration', [docId]))[0]?.generation as number;
  }

  async createDoc(docId: string, createdAt: number): Promise<void> {
    await this.run('yjsCreateDoc', [docId, createdAt]);
  }

  async appendJournal(docId: string, rows: readonly YjsJournalRow[]): Promise<void> {
    if (rows.length === 0) return;
    const maxEpoch = checkJournalRows(rows);
    const { rowCount } = await this.run('yjsAppendJournal', [
      docId,
      maxEpoch,
      rows.map((r) => r.epoch),
      rows.map((r) => r.committedAt),
      rows.map((r) => buffer(r.hash)),
      rows.map((r) => buffer(r.bytes)),
    ]);
    assert(rowCount !== 0, `Yjs doc ${docId} must be created before its journal is appended`);
  }

  async putCheckpointChunks(
    docId: string,
    generation: number,
    chunks: readonly Uint8Array[],
  ): Promise<void> {
    checkChunks(chunks);
    if (chunks.length === 0) return;
    // A call continues after the chunks already written for the generation.
    const next = (await this.rows('yjsNextChunk', [docId, generation]))[0]?.idx as number;
    for (const [i, chunk] of chunks.entries()) {
      await this.run('yjsPutChunk', [docId, generation, next + i, buffer(chunk)]);
    }
  }

  async publishCheckpoint(docId: string, meta: YjsCheckpointMeta): Promise<void> {
    checkMeta(meta);
    const [r] = await this.rows('yjsPublish', [
      docId,
      meta.generation,
      meta.epoch,
      meta.chunkCount,
      meta.totalBytes,
      buffer(meta.sha256),
      buffer(meta.stateVector),
      meta.createdAt,
    ]);
    if (r?.published === 1) return;
    // Nothing was written: tell which check failed.
    const docExists = (await this.getDoc(docId)) !== undefined;
    checkPublish(docId, meta, {
      docExists,
      chunks: r?.chunks as number,
      bytes: r?.bytes as number,
    });
    assert(false, `Yjs doc ${docId}: checkpoint ${meta.generation} was not published`);
  }

  async dropCheckpoints(docId: string, generations: readonly number[]): Promise<number> {
    const doc = await this.getDoc(docId);
    checkDrop(docId, doc, generations);
    const pointer = doc?.checkpointGeneration ?? null;
    const [r] = await this.rows('yjsDropCheckpoints', [docId, [...generations], pointer]);
    return (r?.dropped as number) ?? 0;
  }

  async pruneJournal(docId: string, upToEpoch: number, beforeMs: number): Promise<number> {
    return (await this.run('yjsPruneJournal', [docId, upToEpoch, beforeMs])).rowCount ?? 0;
  }

  async setMigration(docId: string, marker: string): Promise<void> {
    const { rowCount } = await this.run('yjsSetMigration', [docId, marker]);
    assert(rowCount === 1, `Yjs doc ${docId} must be created before its migration is recorded`);
  }
}

/** Bytes as node-postgres sends them in binary (a Buffer view, no copy). */
function buffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

import * as Y from 'yjs';
import { CairnError } from '../core/errors.js';
import { parseSpaceId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { LruMap } from '../core/lru-map.js';
import { splitChunks, claimOf } from '../crdt/yjs/yjs-checkpoint.js';
import { isEmptyDoc, standaloneDoc, stateDifference } from '../crdt/yjs/yjs-compare.js';
import { checkUpdate, sha256, toHex } from '../crdt/yjs/yjs-update.js';
import type { RecordSlot } from '../pipeline/chained-write.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import type { StorageBackend } from '../storage/types.js';
import type { LegacySource } from './legacy-source.js';
import { markerOf, readRecord, readStored } from './yjs-import.js';

/** Lazy migration of SPEC §11: the legacy store, and the one space its docs move into. */
export interface YjsLegacyConfig {
  source: LegacySource;
  space: string;
}

export interface LegacyMigrationOptions extends YjsLegacyConfig {
  backend: StorageBackend;
  pipeline: CommitPipeline;
  /** A state larger than this goes in as a checkpoint at its epoch, not a journal row. */
  oversizedUpdateBytes: number;
  logger: Logger;
  /** Hears each migration's commit (compaction debt): its bytes, and whether it is a checkpoint. */
  onCommitted?: (spaceId: string, docId: string, bytes: number, checkpointed: boolean) => void;
  now?: () => number;
}

/** Doc ids known to have state in cairn (nothing to migrate), per process. */
const KNOWN_PRESENT = 10_000;

/**
 * Lazy migration (SPEC §11): the first time a doc of the legacy space is
 * opened and cairn has no state for it, its legacy state (if any) is
 * imported at that moment. One write — under the space's write lock, so
 * one process of several wins — checks that the doc still does not exist,
 * commits the state as the doc's first update (its epoch, its tx record;
 * the legacy bytes unchanged) and records the migration marker; so a doc is
 * migrated once or not at all, and a doc with state is never touched. The
 * state is verified before (it decodes, integrates fully, is not empty) and
 * after (what storage holds has the same state vector, structs and
 * deletions). Docs of other spaces never look at the source.
 */
export class LegacyMigrator {
  /** Docs moved in by this process. */
  migrated = 0;
  private readonly running = new Map<string, Promise<boolean>>();
  private readonly present = new LruMap<string, true>(KNOWN_PRESENT);

  /** `ValidationError` when the space is not a space DID. */
  constructor(private readonly options: LegacyMigrationOptions) {
    parseSpaceId(options.space);
  }

  /** The legacy store, as /debug shows it. */
  get description(): string {
    return this.options.source.description;
  }

  /**
   * Makes sure a doc the legacy store has is in cairn: whether cairn holds
   * state for the doc now (false: not the legacy space, or neither has it).
   * Throws when the legacy state cannot be moved in (`InvalidChange`, or
   * `Internal` when it did not verify).
   */
  ensure(spaceId: string, docId: string): Promise<boolean> {
    if (spaceId !== this.options.space) return Promise.resolve(false);
    if (this.present.has(docId)) return Promise.resolve(true);
    let run = this.running.get(docId);
    if (!run) {
      run = this.run(docId).finally(() => this.running.delete(docId));
      this.running.set(docId, run);
    }
    return run;
  }

  /** Waits for migrations under way, then lets go of the legacy store. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
    await this.options.source.close();
  }

  private async run(docId: string): Promise<boolean> {
    if (await this.existsInCairn(docId)) {
      this.present.set(docId, true);
      return true;
    }
    const bytes = await this.options.source.read(docId);
    if (!bytes) return false;
    const source = this.checked(docId, bytes);
    try {
      if (isEmptyDoc(source)) return false;
      await this.moveIn(docId, bytes, source);
      this.present.set(docId, true);
      return true;
    } finally {
      source.destroy();
    }
  }

  private async moveIn(docId: string, bytes: Uint8Array, source: Y.Doc): Promise<void> {
    const { space, pipeline, logger } = this.options;
    const marker = JSON.stringify(
      markerOf(this.description, bytes, (this.options.now ?? Date.now)()),
    );
    const oversized = bytes.byteLength > this.options.oversizedUpdateBytes;
    const { value: slot } = await pipeline.commitRecords(space, async (ops, record) => {
      // Someone moved it in (or wrote it) first: another process, or a write of this one.
      if (await ops.yjs.getDoc(docId)) return undefined;
      const hash = sha256(bytes);
      const slot: RecordSlot = record([
        { docId, kind: 'yjs', updateHash: toHex(hash), bytes: bytes.byteLength },
      ]);
      await ops.yjs.createDoc(docId, slot.committedAt);
      if (oversized) {
        // As any oversized update (SPEC §11): never one journal row, a checkpoint at its epoch.
        const chunks = splitChunks(bytes);
        const generation = (await ops.yjs.maxGeneration(docId)) + 1;
        await ops.yjs.putCheckpointChunks(docId, generation, chunks);
        await ops.yjs.publishCheckpoint(docId, {
          generation,
          epoch: slot.epoch,
          ...claimOf(chunks),
          stateVector: Y.encodeStateVector(source),
          createdAt: slot.committedAt,
        });
      } else {
        await ops.yjs.appendJournal(docId, [
          { epoch: slot.epoch, committedAt: slot.committedAt, hash, bytes },
        ]);
      }
      await ops.yjs.setMigration(docId, marker);
      return slot;
    });
    if (!slot) return;
    this.migrated++;
    this.options.onCommitted?.(space, docId, bytes.byteLength, oversized);
    const stored = await readStored(this.options.backend, space, docId);
    const problem = stored ? stateDifference(source, stored.doc) : 'no doc was stored';
    stored?.doc.destroy();
    if (problem !== undefined) {
      logger.error({ space, docId, problem }, 'a migrated legacy Yjs doc did not verify');
      throw new CairnError('Internal', `legacy doc ${docId} did not verify: ${problem}`, { docId });
    }
    logger.info(
      { space, docId, from: this.description, epoch: slot.epoch },
      'legacy Yjs doc moved in',
    );
  }

  /** The doc the legacy state describes; `Internal` (a server-side problem) when it is not one. */
  private checked(docId: string, bytes: Uint8Array): Y.Doc {
    try {
      checkUpdate(bytes);
      return standaloneDoc(bytes);
    } catch (err) {
      this.options.logger.error({ err, docId }, 'a legacy Yjs doc is not a Yjs document state');
      throw new CairnError(
        'Internal',
        `legacy doc ${docId} of ${this.description} is not a Yjs document state`,
        { docId },
        { cause: err },
      );
    }
  }

  private async existsInCairn(docId: string): Promise<boolean> {
    return (await readRecord(this.options.backend, this.options.space, docId)) !== undefined;
  }
}

import * as Y from 'yjs';
import { CairnError } from '../core/errors.js';
import type { JsonValue } from '../core/json.js';
import { assembleChunks } from '../crdt/yjs/yjs-checkpoint.js';
import { rootsToJson, type RootType } from '../crdt/yjs/yjs-json.js';
import { withSpaceReader } from '../storage/space-access.js';
import type { SpaceReadOps, StorageBackend } from '../storage/types.js';
import { loadYjsDoc } from '../read/yjs-loader.js';

/** Which version of a Yjs doc: its newest, the one at an epoch, or the one at an instant. */
export type YjsVersion = { epoch?: number; atMs?: number };

/** One item of the journal feed: an update, or a checkpoint standing for a span with no rows. */
export interface YjsFeedItem {
  epoch: number;
  committedAt: number;
  kind: 'update' | 'checkpoint';
  bytes: Uint8Array;
}

export interface YjsHistoryItem {
  epoch: number;
  committedAt: number;
  size: number;
  kind: 'update' | 'checkpoint';
}

/** What a reader asks of the rest of the server before it reads. */
export interface YjsReaderHooks {
  /** Lazy migration (SPEC §11: "any HTTP read"): moves the doc in from a legacy store first, if it is there. */
  ensureMigrated?: (spaceId: string, docId: string) => Promise<void>;
}

/**
 * The read side of Yjs docs over HTTP (SPEC §11): state at a version, JSON
 * of named roots, the journal feed after an epoch, and the history. Reads
 * come from storage (committed state only), never from a doc in memory.
 */
export class YjsReader {
  constructor(
    private readonly backend: StorageBackend,
    private readonly hooks: YjsReaderHooks = {},
  ) {}

  /** The state at a version as one update, with the epoch of the doc's last commit at or before it. */
  async state(
    spaceId: string,
    docId: string,
    version: YjsVersion,
  ): Promise<{ update: Uint8Array; stateVector: Uint8Array; epoch: number }> {
    return this.at(spaceId, docId, version, (doc, epoch) => ({
      update: Y.encodeStateAsUpdate(doc),
      stateVector: Y.encodeStateVector(doc),
      epoch,
    }));
  }

  /** The named roots as JSON at a version. */
  async json(
    spaceId: string,
    docId: string,
    roots: { name: string; type: RootType }[],
    version: YjsVersion,
  ): Promise<{ docId: string; epoch: number; value: Record<string, JsonValue> }> {
    return this.at(spaceId, docId, version, (doc, epoch) => ({
      docId,
      epoch,
      value: rootsToJson(doc, roots),
    }));
  }

  /** Journal items after `fromEpoch`, oldest first, at most `limit`; `more` when there are more. */
  async feed(
    spaceId: string,
    docId: string,
    fromEpoch: number,
    limit: number,
  ): Promise<{ items: YjsFeedItem[]; more: boolean }> {
    await this.hooks.ensureMigrated?.(spaceId, docId);
    return withSpaceReader(this.backend, spaceId, async (ops) => {
      await requireDoc(ops, docId);
      const rows = await ops.yjs.journal(docId, fromEpoch, Number.MAX_SAFE_INTEGER, limit + 1);
      const items: YjsFeedItem[] = rows.map((r) => ({ ...r, kind: 'update' as const }));
      const rowEpochs = new Set(rows.map((r) => r.epoch));
      const last = rows.length > limit ? (rows[limit - 1] as { epoch: number }).epoch : Infinity;
      for (const cp of await ops.yjs.checkpoints(docId)) {
        // A checkpoint at an epoch with no row holds an oversized update: it is that epoch's item.
        if (cp.epoch <= fromEpoch || cp.epoch > last || rowEpochs.has(cp.epoch)) continue;
        const got = assembleChunks(await ops.yjs.readChunks(docId, cp.generation), cp);
        if ('problem' in got) continue;
        items.push({
          epoch: cp.epoch,
          committedAt: cp.createdAt,
          kind: 'checkpoint',
          bytes: got.state,
        });
      }
      items.sort((a, b) => a.epoch - b.epoch);
      return { items: items.slice(0, limit), more: items.length > limit };
    });
  }

  /** History newest first, before `beforeEpoch`, at most `limit`. */
  async history(
    spaceId: string,
    docId: string,
    beforeEpoch: number,
    limit: number,
  ): Promise<YjsHistoryItem[]> {
    await this.hooks.ensureMigrated?.(spaceId, docId);
    return withSpaceReader(this.backend, spaceId, async (ops) => {
      await requireDoc(ops, docId);
      const rows = await ops.yjs.journalBefore(docId, beforeEpoch, limit);
      const items: YjsHistoryItem[] = rows.map((r) => ({ ...r, kind: 'update' as const }));
      const floor = rows.length === limit ? (rows.at(-1) as { epoch: number }).epoch : 0;
      const rowEpochs = new Set(rows.map((r) => r.epoch));
      for (const cp of await ops.yjs.checkpoints(docId)) {
        if (cp.epoch >= beforeEpoch || cp.epoch < floor || rowEpochs.has(cp.epoch)) continue;
        const hasRow = (await ops.yjs.journal(docId, cp.epoch - 1, cp.epoch, 1)).length > 0;
        if (!hasRow) {
          items.push({
            epoch: cp.epoch,
            committedAt: cp.createdAt,
            size: cp.totalBytes,
            kind: 'checkpoint',
          });
        }
      }
      return items.sort((a, b) => b.epoch - a.epoch).slice(0, limit);
    });
  }

  private async at<T>(
    spaceId: string,
    docId: string,
    version: YjsVersion,
    fn: (doc: Y.Doc, epoch: number) => T,
  ): Promise<T> {
    await this.hooks.ensureMigrated?.(spaceId, docId);
    return withSpaceReader(this.backend, spaceId, async (ops) => {
      let atEpoch = version.epoch ?? Number.MAX_SAFE_INTEGER;
      if (version.atMs !== undefined)
        atEpoch = Math.min(atEpoch, await ops.epochAtTime(version.atMs));
      const loaded = await loadYjsDoc(ops, docId, atEpoch);
      try {
        return fn(loaded.doc, loaded.epoch);
      } finally {
        loaded.doc.destroy();
      }
    });
  }
}

async function requireDoc(ops: SpaceReadOps, docId: string): Promise<void> {
  if (!(await ops.yjs.getDoc(docId))) {
    throw new CairnError('DocNotFound', `no Yjs doc ${docId}`, { docId });
  }
}

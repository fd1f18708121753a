import { CairnError } from '../core/errors.js';
import { assembleChunks } from '../crdt/yjs/yjs-checkpoint.js';
import { withSpaceReader } from '../storage/space-access.js';
import type { StorageBackend } from '../storage/types.js';
import type { OpenYjsDoc } from './open-doc.js';

/** Journal rows one catch-up applies at most (the next notification takes the rest). */
const CATCH_UP_ROWS = 10_000;

/**
 * SPEC §11 `GET …/yjs/:docId/debug`: one doc's storage facts — journal
 * size, newest checkpoint, oversized updates (checkpoints at an epoch with
 * no journal row), its migration marker, and whether it is in relay mode.
 */
export async function yjsDocDebug(
  backend: StorageBackend,
  spaceId: string,
  docId: string,
  open: OpenYjsDoc | undefined,
  compaction: { failures: number; breakerOpenUntil?: number },
): Promise<Record<string, unknown>> {
  return withSpaceReader(backend, spaceId, async (ops) => {
    const record = await ops.yjs.getDoc(docId);
    if (!record) throw new CairnError('DocNotFound', `no Yjs doc ${docId}`, { docId });
    const journal = await ops.yjs.journalSizeAfter(docId, 0);
    const checkpoints = await ops.yjs.checkpoints(docId);
    let oversized = 0;
    for (const cp of checkpoints) {
      if ((await ops.yjs.journal(docId, cp.epoch - 1, cp.epoch, 1)).length === 0) oversized++;
    }
    return {
      storageMode: open?.relayOnly ? 'degraded' : 'journal',
      migration: record.migration ? (JSON.parse(record.migration) as unknown) : null,
      journalRows: journal.rows,
      journalBytes: journal.bytes,
      checkpointEpoch: checkpoints[0]?.epoch ?? null,
      checkpointChunks: checkpoints[0]?.chunkCount ?? 0,
      coldLoadMs: open?.loadMs ?? null,
      oversizedUpdates: oversized,
      compaction,
    };
  });
}

/**
 * What another process committed to a doc after `after` (PostgreSQL): its
 * journal rows, and — when its newest checkpoint is later than them (an
 * oversized update has no row) — that checkpoint's state.
 */
export async function committedAfter(
  backend: StorageBackend,
  spaceId: string,
  docId: string,
  after: number,
): Promise<{ updates: Uint8Array[]; upTo: number }> {
  return withSpaceReader(backend, spaceId, async (ops) => {
    const rows = await ops.yjs.journal(docId, after, Number.MAX_SAFE_INTEGER, CATCH_UP_ROWS);
    const updates = rows.map((r) => r.bytes);
    let upTo = rows.at(-1)?.epoch ?? after;
    const newest = (await ops.yjs.checkpoints(docId))[0];
    if (newest && newest.epoch > upTo && rows.length < CATCH_UP_ROWS) {
      const got = assembleChunks(await ops.yjs.readChunks(docId, newest.generation), newest);
      if ('state' in got) {
        updates.push(got.state);
        upTo = newest.epoch;
      }
    }
    return { updates, upTo };
  });
}

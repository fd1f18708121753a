import type * as Y from 'yjs';
import { CairnError } from '../core/errors.js';
import { assembleChunks } from '../crdt/yjs/yjs-checkpoint.js';
import { docFromUpdates } from '../crdt/yjs/yjs-update.js';
import type { SpaceReadOps } from '../storage/types.js';
import type { YjsCheckpointMeta } from '../storage/yjs-types.js';

/** Journal rows read per round trip while loading. */
const JOURNAL_PAGE = 5000;

export interface LoadedYjsDoc {
  doc: Y.Doc;
  /** Epoch of the doc's last commit at or before the version asked for. */
  epoch: number;
  /** The checkpoint the load started from, if any. */
  checkpoint?: YjsCheckpointMeta;
  /** Checkpoints that failed verification and were skipped. */
  badCheckpoints: number;
  journalRows: number;
  loadMs: number;
}

/**
 * A Yjs doc at `atEpoch` (default: now): the newest checkpoint at or
 * before it that verifies (a bad one is skipped and counted), plus the
 * journal after it up to `atEpoch`, applied to one new `Y.Doc`.
 * `DocNotFound` when the doc does not exist; `VersionNotFound` when it did
 * not exist yet at `atEpoch`, or that version was removed by retention.
 */
export async function loadYjsDoc(
  ops: SpaceReadOps,
  docId: string,
  atEpoch = Number.MAX_SAFE_INTEGER,
): Promise<LoadedYjsDoc> {
  const startMs = performance.now();
  const record = await ops.yjs.getDoc(docId);
  if (!record) throw new CairnError('DocNotFound', `no Yjs doc ${docId}`, { docId });
  let badCheckpoints = 0;
  let base: { meta: YjsCheckpointMeta; state: Uint8Array } | undefined;
  for (const meta of await ops.yjs.checkpoints(docId)) {
    if (meta.epoch > atEpoch) continue;
    const got = assembleChunks(await ops.yjs.readChunks(docId, meta.generation), meta);
    if ('problem' in got) {
      badCheckpoints++;
      continue;
    }
    base = { meta, state: got.state };
    break;
  }
  const updates: Uint8Array[] = base ? [base.state] : [];
  let from = base?.meta.epoch ?? 0;
  let epoch = from;
  let journalRows = 0;
  for (;;) {
    const rows = await ops.yjs.journal(docId, from, atEpoch, JOURNAL_PAGE);
    for (const r of rows) updates.push(r.bytes);
    journalRows += rows.length;
    if (rows.length > 0) epoch = from = (rows.at(-1) as { epoch: number }).epoch;
    if (rows.length < JOURNAL_PAGE) break;
  }
  if (updates.length === 0 && atEpoch < Number.MAX_SAFE_INTEGER) {
    throw new CairnError('VersionNotFound', `Yjs doc ${docId} has no state at epoch ${atEpoch}`, {
      docId,
    });
  }
  const loaded: LoadedYjsDoc = {
    doc: docFromUpdates(updates),
    epoch,
    badCheckpoints,
    journalRows,
    loadMs: performance.now() - startMs,
  };
  if (base) loaded.checkpoint = base.meta;
  return loaded;
}

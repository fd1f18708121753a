import * as Y from 'yjs';
import { CairnError, isCairnError } from '../core/errors.js';
import { hasPending, isEmptyDoc, missingFrom, stateDifference } from '../crdt/yjs/yjs-compare.js';
import { checkUpdate, docFromUpdates, sha256, toHex } from '../crdt/yjs/yjs-update.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import { withSpaceReader } from '../storage/space-access.js';
import type { SpaceReadOps, StorageBackend } from '../storage/types.js';
import type { YjsDocRecord } from '../storage/yjs-types.js';
import type { YjsHub } from './yjs-hub.js';
import { loadYjsDoc } from '../read/yjs-loader.js';

/**
 * The migration marker of a doc that moved in from another Yjs store
 * (SPEC §11), kept as JSON text on the doc (`YjsDocRecord.migration`). A doc
 * with a marker is never migrated again by the automatic paths (lazy
 * migration, `cairn import hocuspocus`).
 */
export interface MigrationMarker {
  /** Where the state came from: `yjs-file:<basename>`, `hocuspocus:<basename>`. */
  from: string;
  /** Lowercase hex SHA-256 of the imported bytes. */
  sourceHash: string;
  /** When it was imported (ms since the epoch). */
  at: number;
}

/** The marker of `bytes` imported from `from` at `at`. */
export function markerOf(from: string, bytes: Uint8Array, at: number): MigrationMarker {
  return { from, sourceHash: toHex(sha256(bytes)), at };
}

/** A stored marker's fields; undefined when there is none or it is not JSON of a marker. */
export function parseMarker(text: string | undefined): MigrationMarker | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Partial<MigrationMarker> | null;
    if (v && typeof v.from === 'string' && typeof v.sourceHash === 'string') {
      return { from: v.from, sourceHash: v.sourceHash, at: Number(v.at) };
    }
  } catch {
    // Not JSON: no fields to show (the doc still counts as migrated).
  }
  return undefined;
}

export interface YjsImportDeps {
  hub: YjsHub;
  backend: StorageBackend;
  pipeline: CommitPipeline;
  now?: () => number;
}

/** What an import did. */
export interface YjsImportResult {
  docId: string;
  /** 1: an update was committed; 0: the doc already held all of it (nothing committed). */
  applied: 0 | 1;
  /** The epoch of the commit, or the space's current epoch when nothing was committed. */
  epoch: number;
  /**
   * `equal`: the doc was new and now holds exactly the source's state;
   * `contains`: it held state before, and now holds all of the source too.
   */
  verified: 'equal' | 'contains';
  /** The doc's migration marker after the import. */
  marker: MigrationMarker;
}

/**
 * Imports one Yjs update (a document's state) as doc `docId` through the
 * hub's write path (`postUpdate`: an epoch and a tx record, group commit),
 * then records a migration marker. Checked before anything is stored: the
 * bytes decode (`InvalidChange`), and applied to the doc's current state
 * (none for a new doc) they leave nothing that cannot be integrated
 * (`InvalidChange`) and not an empty doc (`ValidationError`). Verified after
 * the commit, from storage: a new doc holds exactly the source's state (same
 * state vector, structs and deletions), an existing one all of it — else
 * `Internal`, and no marker. Idempotent: importing the same bytes again
 * commits nothing and keeps the marker.
 */
export async function importYjsUpdate(
  deps: YjsImportDeps,
  spaceId: string,
  docId: string,
  bytes: Uint8Array,
  from: string,
): Promise<YjsImportResult> {
  checkUpdate(bytes);
  const before = await readStored(deps.backend, spaceId, docId);
  const base = before ? [Y.encodeStateAsUpdate(before.doc)] : [];
  const expected = docFromUpdates([...base, bytes]);
  try {
    if (hasPending(expected)) {
      throw new CairnError(
        'InvalidChange',
        'the update depends on state it does not contain (not a whole document)',
      );
    }
    if (isEmptyDoc(expected)) {
      throw new CairnError('ValidationError', 'nothing to import: the update holds an empty doc');
    }
    const out = await deps.hub.postUpdate(spaceId, docId, bytes);
    const after = await readStored(deps.backend, spaceId, docId);
    if (!after) throw new CairnError('Internal', `the import of ${docId} left no doc`);
    let verified: YjsImportResult['verified'];
    try {
      verified = verify(after.doc, bytes, before ? undefined : expected);
    } catch (err) {
      throw new CairnError(
        'Internal',
        `the import of ${docId} did not verify: ${(err as Error).message}`,
      );
    } finally {
      after.doc.destroy();
    }
    let marker = markerOf(from, bytes, (deps.now ?? Date.now)());
    const kept = parseMarker(after.record.migration);
    if (kept?.sourceHash === marker.sourceHash) marker = kept;
    else {
      const text = JSON.stringify(marker);
      await deps.pipeline.runWrite(spaceId, (ops) => ops.yjs.setMigration(docId, text));
    }
    return {
      docId,
      applied: out.applied,
      epoch: out.epoch,
      verified,
      marker,
    };
  } finally {
    expected.destroy();
    before?.doc.destroy();
  }
}

/**
 * `equal` when the stored doc holds exactly the source's state, else
 * `contains` when it holds all of it; throws why not. `newDoc`: the doc
 * built from the source, when the doc was new (then only `equal` will do).
 */
function verify(stored: Y.Doc, bytes: Uint8Array, newDoc: Y.Doc | undefined): 'equal' | 'contains' {
  const source = newDoc ?? docFromUpdates([bytes]);
  try {
    const difference = stateDifference(source, stored);
    if (difference === undefined) return 'equal';
    if (newDoc) throw new Error(difference);
    const missing = missingFrom(stored, bytes);
    if (missing !== undefined) throw new Error(missing);
    return 'contains';
  } finally {
    if (!newDoc) source.destroy();
  }
}

/** The doc's record and its state from storage, or undefined when it does not exist. */
export async function readStored(
  backend: StorageBackend,
  spaceId: string,
  docId: string,
): Promise<{ record: YjsDocRecord; doc: Y.Doc } | undefined> {
  return inSpace(backend, spaceId, async (ops) => {
    const record = await ops.yjs.getDoc(docId);
    if (!record) return undefined;
    return { record, doc: (await loadYjsDoc(ops, docId)).doc };
  });
}

/** The doc's record (its migration marker, …), or undefined when it does not exist. */
export async function readRecord(
  backend: StorageBackend,
  spaceId: string,
  docId: string,
): Promise<YjsDocRecord | undefined> {
  return inSpace(backend, spaceId, (ops) => ops.yjs.getDoc(docId));
}

/** Reads a space; a space that does not exist yet holds no doc (undefined). */
async function inSpace<T>(
  backend: StorageBackend,
  spaceId: string,
  fn: (ops: SpaceReadOps) => Promise<T | undefined>,
): Promise<T | undefined> {
  try {
    return await withSpaceReader(backend, spaceId, fn);
  } catch (err) {
    if (isCairnError(err) && err.code === 'DocNotFound') return undefined;
    throw err;
  }
}

import path from 'node:path';
import { CairnError, isCairnError } from '../core/errors.js';
import { isDocId, parseSpaceId } from '../core/ids.js';
import { checkUpdate } from '../crdt/yjs/yjs-update.js';
import { openLegacySource, type LegacySource } from '../yjs/legacy-source.js';
import {
  importYjsUpdate,
  parseMarker,
  readRecord,
  type YjsImportResult,
} from '../yjs/yjs-import.js';
import type { Cairn } from './create-cairn.js';

export { openLegacySource, type LegacySource };
export type { YjsImportResult };

/** A legacy document that was not imported, and why. */
export interface SkippedDoc {
  name: string;
  reason: string;
}

/** What `cairn import hocuspocus` did. */
export interface LegacyImportReport {
  space: string;
  /** The source, as its markers name it (`hocuspocus:<basename>`). */
  from: string;
  imported: YjsImportResult[];
  skipped: SkippedDoc[];
}

/** Per-document failures a bulk import reports and goes on after (anything else stops it). */
const PER_DOC_CODES = new Set(['InvalidChange', 'ValidationError', 'Internal', 'LimitExceeded']);

const depsOf = (cairn: Cairn) => ({
  hub: cairn.yjs,
  backend: cairn.backend,
  pipeline: cairn.pipeline,
});

/**
 * `cairn import yjs` (SPEC §11): the bytes of a Yjs update/state file as doc
 * `docId` of `space`, verified and marked `yjs-file:<basename>` (see
 * `importYjsUpdate`). A bad space or doc id is `ValidationError`.
 */
export async function importYjsFile(
  cairn: Cairn,
  space: string,
  docId: string,
  file: string,
  bytes: Uint8Array,
): Promise<YjsImportResult> {
  parseSpaceId(space);
  if (!isDocId(docId)) throw new CairnError('ValidationError', `"${docId}" is not a valid doc id`);
  try {
    checkUpdate(bytes);
  } catch (err) {
    const what = `${path.basename(file)} is not a Yjs update (v1 encoding)`;
    throw new CairnError('InvalidChange', what, {}, { cause: err });
  }
  return importYjsUpdate(depsOf(cairn), space, docId, bytes, `yjs-file:${path.basename(file)}`);
}

/**
 * `cairn import hocuspocus` (SPEC §11): every document of a legacy store as
 * one doc of `space` (doc id = the document's name), each verified and
 * marked as `importYjsFile` does. Skipped, and reported, not fatal: a name
 * that is not a valid doc id, a doc that already has a migration marker
 * (never migrated twice), an empty document, state that does not decode or
 * verify. The source is only read.
 */
export async function importLegacyStore(
  cairn: Cairn,
  space: string,
  source: LegacySource,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<LegacyImportReport> {
  parseSpaceId(space);
  const report: LegacyImportReport = {
    space,
    from: source.description,
    imported: [],
    skipped: [],
  };
  const names = await source.names();
  onProgress(0, names.length);
  for (const [i, name] of names.entries()) {
    const reason = await importOne(cairn, space, source, name, report);
    if (reason !== undefined) report.skipped.push({ name, reason });
    onProgress(i + 1, names.length);
  }
  return report;
}

/** Imports one legacy document into the report; the reason it was skipped, if it was. */
async function importOne(
  cairn: Cairn,
  space: string,
  source: LegacySource,
  name: string,
  report: LegacyImportReport,
): Promise<string | undefined> {
  if (!isDocId(name)) return 'not a valid doc id';
  const record = await readRecord(cairn.backend, space, name);
  if (record?.migration !== undefined) {
    const from = parseMarker(record.migration)?.from;
    return `already migrated${from ? ` (from ${from})` : ''}`;
  }
  const bytes = await source.read(name);
  if (!bytes) return 'no longer in the source';
  try {
    report.imported.push(
      await importYjsUpdate(depsOf(cairn), space, name, bytes, source.description),
    );
    return undefined;
  } catch (err) {
    if (isCairnError(err) && PER_DOC_CODES.has(err.code)) return `${err.code}: ${err.message}`;
    throw err;
  }
}

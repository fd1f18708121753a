import { reclaimSpace, type ReclaimReport } from '../storage/reclaim-space.js';
import type { SchemaTarget } from '../storage/schema-admin.js';
import type { Cairn } from './create-cairn.js';

/** Docs listed per storage round trip. */
const DOC_PAGE = 500;

/** What `cairn compact` did to one space. */
export interface CompactReport extends ReclaimReport {
  space: string;
  /** Branches looked at. */
  branches: number;
  /** Snapshots made at a branch head that owed changes since its last one. */
  snapshotsMade: number;
  /** Automatic snapshots the retention policy no longer keeps, deleted. */
  snapshotsDropped: number;
}

/** `(done, total)` branches, as compaction goes. */
export type CompactProgress = (done: number, total: number) => void;

/**
 * `cairn compact`, the part that needs the engine: every branch of the
 * space (or of one doc) gets a snapshot of its head when it owes changes,
 * and retention drops the snapshots the policy no longer keeps. Storage
 * space is given back afterwards by `reclaimCompactedSpace`, once the
 * engine is closed.
 */
export async function compactSpace(
  cairn: Cairn,
  spaceId: string,
  options: { docId?: string; onProgress?: CompactProgress } = {},
): Promise<Omit<CompactReport, keyof ReclaimReport>> {
  const branches: { docId: string; name: string }[] = [];
  for (const docId of options.docId ? [options.docId] : await allDocIds(cairn, spaceId)) {
    for (const b of await cairn.read.branches(spaceId, docId))
      branches.push({ docId, name: b.name });
  }
  const report = {
    space: spaceId,
    branches: branches.length,
    snapshotsMade: 0,
    snapshotsDropped: 0,
  };
  options.onProgress?.(0, branches.length);
  for (const [i, b] of branches.entries()) {
    const done = await cairn.snapshots.compactBranch(spaceId, b.docId, b.name);
    if (done.made) report.snapshotsMade++;
    report.snapshotsDropped += done.dropped;
    options.onProgress?.(i + 1, branches.length);
  }
  return report;
}

/** The second half of `cairn compact`: free pages back to the file system (SQLite). */
export const reclaimCompactedSpace = (target: SchemaTarget, spaceId: string) =>
  reclaimSpace(target, spaceId);

/** Every doc id of a space, in pages. */
export async function allDocIds(cairn: Cairn, spaceId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await cairn.read.docs(spaceId, '', cursor, DOC_PAGE);
    ids.push(...page.items.map((d) => d.docId));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return ids;
}

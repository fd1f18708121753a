import { lineageOf, type Lineage } from './lineage.js';
import type { BranchRecord, CommitRecord, SpaceReadOps } from './types.js';

/** One commit of a branch's history, for a time-travel UI (SPEC §3 history). */
export interface HistoryItem {
  epoch: number;
  committedAt: number;
  seqFrom: number;
  seqTo: number;
  changes: number;
  heads: string[];
}

/**
 * Commits of this history that start below `beforeSeq`, newest first: the
 * branch's own, then its ancestors' up to each fork point (a commit that
 * straddles a fork point shows only the shared part, with the fork heads).
 * The cursor of the next page is the `seqFrom` of the last item.
 */
export async function historyPage(
  ops: SpaceReadOps,
  branch: BranchRecord,
  beforeSeq: number,
  limit: number,
): Promise<{ items: HistoryItem[]; nextBeforeSeq?: number }> {
  const lineage: Lineage = await lineageOf(ops, branch);
  const items: HistoryItem[] = [];
  for (let i = lineage.length - 1; i >= 0 && items.length < limit; i--) {
    const seg = lineage[i] as Lineage[number];
    const upper = Math.min(seg.toSeq, beforeSeq - 1);
    if (upper < seg.fromSeq) continue;
    const newest = await ops.commitCovering(seg.branchId, upper);
    if (!newest) continue;
    const commits = [
      newest,
      ...(await ops.commitsBefore(seg.branchId, newest.seqFrom, limit - items.length - 1)),
    ];
    for (const c of commits) {
      if (c.seqTo < seg.fromSeq || items.length >= limit) break;
      items.push(toItem(clipTo(c, seg.toSeq, seg.endHeads)));
    }
  }
  const last = items[items.length - 1];
  return last && last.seqFrom > 1 && items.length >= limit
    ? { items, nextBeforeSeq: last.seqFrom }
    : { items };
}

function clipTo(c: CommitRecord, toSeq: number, endHeads: string[] | undefined): CommitRecord {
  if (c.seqTo <= toSeq || !endHeads) return c;
  return { ...c, seqTo: toSeq, heads: endHeads };
}

function toItem(c: CommitRecord): HistoryItem {
  return {
    epoch: c.epoch,
    committedAt: c.committedAt,
    seqFrom: c.seqFrom,
    seqTo: c.seqTo,
    changes: c.seqTo - c.seqFrom + 1,
    heads: c.heads,
  };
}

/** SPEC §3 doc listing item. */
export interface DocListItem {
  docId: string;
  branches: string[];
  lastEpoch: number;
}

export async function docsPage(
  ops: SpaceReadOps,
  prefix: string,
  afterDocId: string | null,
  limit: number,
): Promise<{ items: DocListItem[]; nextAfter?: string }> {
  const ids = await ops.listDocIds(prefix, afterDocId, limit + 1);
  const page = ids.slice(0, limit);
  const items: DocListItem[] = [];
  for (const docId of page) {
    const branches = await ops.listBranches(docId);
    items.push({
      docId,
      branches: branches.map((b) => b.name),
      lastEpoch: Math.max(0, ...branches.map((b) => b.lastEpoch)),
    });
  }
  return ids.length > limit ? { items, nextAfter: page[page.length - 1] as string } : { items };
}

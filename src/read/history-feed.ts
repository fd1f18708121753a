import type { HistoryItem, DocListItem } from '../protocol/views.js';
import { readHistory } from '../storage/lineage.js';
import type { SpaceReadOps } from '../storage/types.js';
import { withCommitInfo, type OpenBranch } from './doc-reader.js';

/**
 * SPEC §3 history, the feed of a time-travel UI: one item per change of the
 * branch's history (its ancestors' below each fork point included), newest
 * first, starting below `beforeSeq`. The change's own `time` and `message`
 * come from its header. The next page starts below the last item's seq.
 */
export async function historyPage(
  ops: SpaceReadOps,
  { branch, lineage, kind }: OpenBranch,
  beforeSeq: number,
  limit: number,
): Promise<{ items: HistoryItem[]; nextBeforeSeq?: number }> {
  const top = Math.min(branch.seq, beforeSeq - 1);
  if (top < 1) return { items: [] };
  const from = Math.max(1, top - limit + 1);
  const entries = await readHistory(ops, lineage, from, top, limit, true);
  const changes = await withCommitInfo(ops, lineage, entries);
  const items = changes.reverse().map((c): HistoryItem => {
    const header = kind.decodeChange(c.bytes as Uint8Array);
    const item: HistoryItem = {
      seq: c.seq,
      epoch: c.epoch,
      committedAt: c.committedAt,
      hash: c.hash,
      actor: c.actor,
      actorSeq: c.actorSeq,
      deps: c.deps,
      time: header.time,
    };
    if (header.message !== null) item.message = header.message;
    return item;
  });
  return from > 1 ? { items, nextBeforeSeq: from } : { items };
}

/** SPEC §3 doc listing: docs whose id starts with `prefix`, after `afterDocId`, in byte order. */
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

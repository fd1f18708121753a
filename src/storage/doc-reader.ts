import { CairnError } from '../core/errors.js';
import { rootRef } from '../crdt/heads.js';
import { docHeads, materialize, type AutomergeDoc } from '../crdt/materialize.js';
import type { VersionSelector } from '../protocol/version-selector.js';
import { assert } from '../core/assert.js';
import {
  commitCovering,
  commitsOverlapping,
  findInHistory,
  lastCommitUpTo,
  lineageOf,
  readHistory,
  readHistoryBytes,
  type Lineage,
} from './lineage.js';
import type {
  BranchRecord,
  CommitRecord,
  LogEntry,
  SpaceReadOps,
  StorageBackend,
  TxRecordRow,
} from './types.js';

/** A document at one version of one branch. */
export interface DocVersion {
  docId: string;
  branch: string;
  seq: number;
  /** Epoch of the commit that produced this version. */
  epoch: number;
  heads: string[];
  rootRef: string;
  doc: AutomergeDoc;
}

export interface ChangeItem extends LogEntry {
  epoch: number;
  committedAt: number;
}

/** A resolved version: a log prefix, or (heads selector) the ancestors of some heads within it. */
interface Resolved {
  seq: number;
  epoch: number;
  onlyAncestorsOf?: string[];
}

/**
 * The read path: committed state only, materialized lazily in one batch from
 * the log. Unknown space or doc is `DocNotFound`, unknown branch
 * `BranchNotFound`, unknown version `VersionNotFound`; reads never create
 * anything.
 */
export class DocReader {
  constructor(private readonly backend: StorageBackend) {}

  async withSpace<T>(spaceId: string, fn: (ops: SpaceReadOps) => Promise<T>): Promise<T> {
    const lease = await this.backend.acquireSpace(spaceId, { create: false });
    if (!lease) throw new CairnError('DocNotFound', 'no such space');
    try {
      return await fn(lease.store.reader);
    } finally {
      lease.release();
    }
  }

  async openBranch(
    ops: SpaceReadOps,
    docId: string,
    name: string,
  ): Promise<{ branch: BranchRecord; lineage: Lineage }> {
    const branch = await ops.getBranch(docId, name);
    if (!branch) {
      const any = await ops.listBranches(docId);
      if (any.length === 0) throw new CairnError('DocNotFound', `no doc ${docId}`, { docId });
      throw new CairnError('BranchNotFound', `doc ${docId} has no branch ${name}`, {
        docId,
        branch: name,
      });
    }
    return { branch, lineage: await lineageOf(ops, branch) };
  }

  async readDoc(
    spaceId: string,
    docId: string,
    name: string,
    selector: VersionSelector,
  ): Promise<DocVersion> {
    return this.withSpace(spaceId, async (ops) => {
      const { branch, lineage } = await this.openBranch(ops, docId, name);
      const v = await resolveVersion(ops, branch, lineage, selector);
      let changes: Uint8Array[];
      if (v.onlyAncestorsOf) {
        const log = await readHistory(ops, lineage, 1, v.seq, Number.MAX_SAFE_INTEGER, true);
        changes = ancestorsInLogOrder(log, v.onlyAncestorsOf).map((e) => e.bytes as Uint8Array);
      } else {
        changes = await readHistoryBytes(ops, lineage, 1, v.seq);
      }
      const doc = materialize(changes);
      const heads = docHeads(doc);
      return {
        docId,
        branch: name,
        seq: v.seq,
        epoch: v.epoch,
        heads,
        rootRef: rootRef(heads),
        doc,
      };
    });
  }

  async changes(
    spaceId: string,
    docId: string,
    name: string,
    range: { fromSeq: number; toSeq?: number; limit: number },
  ): Promise<{ items: ChangeItem[]; nextSeq?: number }> {
    return this.withSpace(spaceId, async (ops) => {
      const { branch, lineage } = await this.openBranch(ops, docId, name);
      const toSeq = Math.min(range.toSeq ?? branch.seq, branch.seq);
      const entries = await readHistory(
        ops,
        lineage,
        Math.max(1, range.fromSeq),
        toSeq,
        range.limit,
        true,
      );
      const items = await withCommitInfo(ops, lineage, entries);
      const last = items[items.length - 1];
      const nextSeq = last && last.seq < toSeq ? last.seq + 1 : undefined;
      return nextSeq === undefined ? { items } : { items, nextSeq };
    });
  }

  async txRecord(spaceId: string, epoch: number): Promise<TxRecordRow> {
    return this.withSpace(spaceId, async (ops) => {
      const row = await ops.getTxRecord(epoch);
      if (!row) throw new CairnError('VersionNotFound', `no tx record for epoch ${epoch}`);
      return row;
    });
  }
}

async function resolveVersion(
  ops: SpaceReadOps,
  branch: BranchRecord,
  lineage: Lineage,
  sel: VersionSelector,
): Promise<Resolved> {
  const notFound = (what: string) =>
    new CairnError('VersionNotFound', what, { docId: branch.docId, branch: branch.name });
  const epochOf = async (seq: number) => (await commitCovering(ops, lineage, seq))?.epoch ?? 0;
  switch (sel.kind) {
    case 'current':
      if (branch.seq === 0) throw notFound('branch is empty');
      return { seq: branch.seq, epoch: await epochOf(branch.seq) };
    case 'seq':
      if (sel.seq < 1 || sel.seq > branch.seq)
        throw notFound(`no seq ${sel.seq} (branch has ${branch.seq})`);
      return { seq: sel.seq, epoch: await epochOf(sel.seq) };
    case 'epoch':
    case 'at': {
      const epoch = sel.kind === 'epoch' ? sel.epoch : await ops.epochAtTime(sel.ms);
      const tip = await ops.chainTip();
      if (epoch < 1 || epoch > tip.epoch) throw notFound(`no epoch ${epoch} in this space`);
      const c = await lastCommitUpTo(ops, lineage, epoch);
      if (!c) throw notFound('the doc did not exist at that version');
      return { seq: c.seqTo, epoch: c.epoch };
    }
    case 'heads': {
      const found = await findInHistory(ops, lineage, sel.heads);
      const missing = sel.heads.find((h) => !found.has(h));
      if (missing !== undefined) throw notFound(`head ${missing} is not in this branch`);
      const seq = Math.max(...found.values());
      return { seq, epoch: await epochOf(seq), onlyAncestorsOf: sel.heads };
    }
  }
}

/** The entries that are `heads` or their ancestors, in log order (causal order). */
function ancestorsInLogOrder(log: LogEntry[], heads: readonly string[]): LogEntry[] {
  const byHash = new Map(log.map((e) => [e.hash, e]));
  const keep = new Set<string>();
  const stack = [...heads];
  while (stack.length > 0) {
    const h = stack.pop() as string;
    if (keep.has(h)) continue;
    keep.add(h);
    for (const d of byHash.get(h)?.deps ?? []) stack.push(d);
  }
  return log.filter((e) => keep.has(e.hash));
}

/** Adds the epoch and commit time of each entry from the commits that appended them. */
async function withCommitInfo(
  ops: SpaceReadOps,
  lineage: Lineage,
  entries: LogEntry[],
): Promise<ChangeItem[]> {
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (!first || !last) return [];
  const commits = await commitsOverlapping(ops, lineage, first.seq, last.seq);
  let i = 0;
  return entries.map((e) => {
    while (i < commits.length - 1 && (commits[i] as CommitRecord).seqTo < e.seq) i++;
    const c = commits[i];
    assert(c && c.seqFrom <= e.seq && e.seq <= c.seqTo, `no commit covers seq ${e.seq}`);
    return { ...e, epoch: c.epoch, committedAt: c.committedAt };
  });
}

import { CairnError } from '../core/errors.js';
import type { VersionSelector } from '../protocol/version-selector.js';
import { commitCovering, findInHistory, lastCommitUpTo, type Lineage } from '../storage/lineage.js';
import type { BranchRecord, LogEntry, SpaceReadOps } from '../storage/types.js';

/** A resolved version: a log prefix, or (heads selector) the ancestors of some heads within it. */
export interface Resolved {
  seq: number;
  epoch: number;
  onlyAncestorsOf?: string[];
}

/** Turns a version selector into a log prefix of the branch (SPEC §3), or `VersionNotFound`. */
export async function resolveVersion(
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
export function ancestorsInLogOrder(log: LogEntry[], heads: readonly string[]): LogEntry[] {
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

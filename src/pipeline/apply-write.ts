import { CairnError } from '../core/errors.js';
import type { DecodedChange } from '../crdt/decoded-change.js';
import { advanceHeads, sameHeadSet } from '../crdt/heads.js';
import { findInHistory, lineageOf, type Lineage } from '../storage/lineage.js';
import type { BranchRecord, SpaceWriteOps } from '../storage/types.js';
import type { PreparedWrite } from './prepared-tx.js';

/** What one write did, before the transaction commits. */
export interface AppliedWrite {
  docId: string;
  branch: string;
  branchId: number;
  /** The branch history after the write. */
  lineage: Lineage;
  seqFrom: number;
  seq: number;
  newHeads: string[];
  added: DecodedChange[];
  duplicates: number;
}

/**
 * SPEC §2 steps 4-6 for one write, then appends it: branch open, base heads
 * (or the merge rules), every change in order, new heads. Throws the first
 * rule broken as a `CairnError`; the caller rolls the transaction back.
 */
export async function applyWrite(
  ops: SpaceWriteOps,
  prepared: PreparedWrite,
  epoch: number,
  committedAt: number,
): Promise<AppliedWrite> {
  const { write, decoded } = prepared;
  const where = { docId: write.docId, branch: write.branch };
  const existing = await ops.getBranch(write.docId, write.branch);
  if (existing?.closed)
    throw new CairnError('BranchClosed', `branch ${write.branch} is closed`, where);
  const lineage = existing ? await lineageOf(ops, existing) : [];
  const current = existing?.heads ?? [];
  const changes = decoded.filter((d): d is DecodedChange => !(d instanceof CairnError));
  const known = await findInHistory(ops, lineage, [
    ...changes.map((c) => c.hash),
    ...changes.flatMap((c) => c.deps),
    ...write.baseHeads,
  ]);

  // A retry of data already stored is never refused, whatever its base heads.
  const allKnown = changes.length === decoded.length && changes.every((c) => known.has(c.hash));
  if (allKnown && existing) return noop(existing, lineage, decoded.length);

  if (!write.merge) {
    if (!sameHeadSet(write.baseHeads, current)) {
      throw new CairnError('StaleBaseHeads', 'baseHeads are not the current heads', {
        ...where,
        currentHeads: current,
      });
    }
  } else {
    await checkMergeRefs(ops, prepared, known);
  }

  const { added, duplicates } = await checkChanges(ops, prepared, existing, known);
  if (added.length === 0 && existing) return noop(existing, lineage, duplicates);

  const branch =
    existing ??
    (await ops.createBranch({
      docId: write.docId,
      name: write.branch,
      parentId: null,
      forkSeq: 0,
      forkHeads: [],
      createdAt: committedAt,
    }));
  const seqFrom = branch.seq + 1;
  const seq = branch.seq + added.length;
  const newHeads = advanceHeads(current, added);
  await ops.appendCommit(
    { branchId: branch.id, epoch, seqFrom, seqTo: seq, heads: newHeads, committedAt },
    added,
  );
  if (write.closeMerged) {
    for (const source of write.mergeOf) {
      const src = await ops.getBranch(write.docId, source.branch);
      if (src && !src.closed) await ops.closeBranch(src.id, write.branch);
    }
  }
  return {
    ...where,
    branchId: branch.id,
    lineage: extendTip(lineage, branch.id, seq),
    seqFrom,
    seq,
    newHeads,
    added,
    duplicates,
  };
}

/** The lineage after the branch's own log grew to `seq`. */
function extendTip(lineage: Lineage, branchId: number, seq: number): Lineage {
  if (lineage.length === 0) return [{ branchId, fromSeq: 1, toSeq: seq }];
  return lineage.map((s, i) => (i === lineage.length - 1 ? { ...s, toSeq: seq } : s));
}

function noop(branch: BranchRecord, lineage: Lineage, duplicates: number): AppliedWrite {
  return {
    docId: branch.docId,
    branch: branch.name,
    branchId: branch.id,
    lineage,
    seqFrom: branch.seq + 1,
    seq: branch.seq,
    newHeads: branch.heads,
    added: [],
    duplicates,
  };
}

/** Merge writes: base heads must exist in this branch, mergeOf heads in their source branch. */
async function checkMergeRefs(
  ops: SpaceWriteOps,
  prepared: PreparedWrite,
  known: Map<string, number>,
) {
  const { write } = prepared;
  const where = { docId: write.docId, branch: write.branch };
  const missingBase = write.baseHeads.find((h) => !known.has(h));
  if (missingBase) {
    throw new CairnError(
      'MissingDependency',
      `base head ${missingBase} is not in the branch history`,
      {
        ...where,
        hash: missingBase,
      },
    );
  }
  for (const source of write.mergeOf) {
    const src = await ops.getBranch(write.docId, source.branch);
    if (!src) {
      throw new CairnError('BranchNotFound', `merge source ${source.branch} does not exist`, {
        docId: write.docId,
        branch: source.branch,
      });
    }
    const found = await findInHistory(ops, await lineageOf(ops, src), source.heads);
    const missing = source.heads.find((h) => !found.has(h));
    if (missing) {
      throw new CairnError(
        'MissingDependency',
        `head ${missing} is not in branch ${source.branch}`,
        {
          docId: write.docId,
          branch: source.branch,
          hash: missing,
        },
      );
    }
  }
}

/** SPEC §2 step 5, in order: decodable, duplicate, deps known, actor seq exactly +1. */
async function checkChanges(
  ops: SpaceWriteOps,
  prepared: PreparedWrite,
  branch: BranchRecord | undefined,
  known: Map<string, number>,
): Promise<{ added: DecodedChange[]; duplicates: number }> {
  const { write, decoded } = prepared;
  const where = { docId: write.docId, branch: write.branch };
  const decodedOk = decoded.filter((d): d is DecodedChange => !(d instanceof CairnError));
  const actors = [...new Set(decodedOk.map((c) => c.actor))];
  const lastSeq = branch ? await ops.actorSeqs(branch.id, actors) : new Map<string, number>();
  const inWrite = new Set<string>();
  const added: DecodedChange[] = [];
  let duplicates = 0;
  decoded.forEach((c, i) => {
    if (c instanceof CairnError) {
      throw new CairnError('InvalidChange', `changes[${i}]: ${c.message}`, {
        ...where,
        changeIndex: i,
      });
    }
    if (known.has(c.hash) || inWrite.has(c.hash)) {
      duplicates++;
      return;
    }
    const missing = c.deps.find((d) => !known.has(d) && !inWrite.has(d));
    if (missing !== undefined) {
      throw new CairnError('MissingDependency', `changes[${i}]: dependency ${missing} is unknown`, {
        ...where,
        changeIndex: i,
        hash: missing,
      });
    }
    const expected = (lastSeq.get(c.actor) ?? 0) + 1;
    if (c.seq !== expected) {
      throw new CairnError(
        'NonMonotonicSeq',
        `changes[${i}]: actor ${c.actor} seq ${c.seq}, expected ${expected}`,
        { ...where, changeIndex: i },
      );
    }
    lastSeq.set(c.actor, c.seq);
    inWrite.add(c.hash);
    added.push(c);
  });
  return { added, duplicates };
}

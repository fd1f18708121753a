import { assert } from '../core/assert.js';
import { advanceHeads } from '../crdt/heads.js';
import type { BranchRecord, CommitRecord, LogEntry, SnapshotMeta, SpaceReadOps } from './types.js';

/**
 * A branch's history is its ancestors' logs up to each fork point followed by
 * its own log. A segment is one branch's part of it, seqs inclusive.
 */
export interface LineageSegment {
  branchId: number;
  fromSeq: number;
  toSeq: number;
  /** Heads at `toSeq` for an ancestor segment (the child's fork heads). */
  endHeads?: string[];
}

/** Segments root first; the last one is the branch itself (possibly empty). */
export type Lineage = readonly LineageSegment[];

/** Forks nest at most this deep (a branch of a branch of …). */
export const MAX_LINEAGE_DEPTH = 64;

export async function lineageOf(ops: SpaceReadOps, branch: BranchRecord): Promise<Lineage> {
  const segments: LineageSegment[] = [];
  let cur: BranchRecord | undefined = branch;
  let toSeq = branch.seq;
  let endHeads: string[] | undefined;
  while (cur) {
    segments.unshift({
      branchId: cur.id,
      fromSeq: cur.forkSeq + 1,
      toSeq,
      ...(endHeads ? { endHeads } : {}),
    });
    if (cur.parentId === null) break;
    assert(segments.length < MAX_LINEAGE_DEPTH, 'branch lineage too deep');
    // A branch forked below its parent's own log sees only the grandparent up to its fork point.
    if (cur.forkSeq <= toSeq) {
      toSeq = cur.forkSeq;
      endHeads = cur.forkHeads;
    }
    cur = await ops.getBranchById(cur.parentId);
    assert(cur, `branch ${branch.id} has a missing ancestor`);
  }
  return segments;
}

/** Segments clipped to seqs in [fromSeq, toSeq]. */
function clip(lineage: Lineage, fromSeq: number, toSeq: number): LineageSegment[] {
  return lineage
    .map((s) => ({
      branchId: s.branchId,
      fromSeq: Math.max(s.fromSeq, fromSeq),
      toSeq: Math.min(s.toSeq, toSeq),
    }))
    .filter((s) => s.fromSeq <= s.toSeq);
}

/** Which of `hashes` are in the branch history, with their seq. */
export async function findInHistory(
  ops: SpaceReadOps,
  lineage: Lineage,
  hashes: readonly string[],
): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  let wanted = [...new Set(hashes)];
  for (let i = lineage.length - 1; i >= 0 && wanted.length > 0; i--) {
    const seg = lineage[i] as LineageSegment;
    const here = await ops.findInBranch(seg.branchId, wanted, seg.toSeq);
    for (const [h, seq] of here) if (seq >= seg.fromSeq) found.set(h, seq);
    wanted = wanted.filter((h) => !found.has(h));
  }
  return found;
}

export async function readHistory(
  ops: SpaceReadOps,
  lineage: Lineage,
  fromSeq: number,
  toSeq: number,
  limit: number,
  withBytes: boolean,
): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for (const seg of clip(lineage, fromSeq, toSeq)) {
    if (out.length >= limit) break;
    const rows = await ops.readBranchLog(
      seg.branchId,
      seg.fromSeq,
      seg.toSeq,
      limit - out.length,
      withBytes,
    );
    out.push(...rows);
  }
  return out;
}

/** Change bytes of seqs 1..toSeq (or fromSeq..toSeq), in log order: the input of one batched load. */
export async function readHistoryBytes(
  ops: SpaceReadOps,
  lineage: Lineage,
  fromSeq: number,
  toSeq: number,
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const seg of clip(lineage, fromSeq, toSeq)) {
    const rows = await ops.readBranchBytes(seg.branchId, seg.fromSeq, seg.toSeq);
    for (const r of rows) out.push(r);
  }
  return out;
}

function segmentOf(lineage: Lineage, seq: number): LineageSegment | undefined {
  return lineage.find((s) => s.fromSeq <= seq && seq <= s.toSeq);
}

/** The commit that appended `seq` to this history. */
export async function commitCovering(
  ops: SpaceReadOps,
  lineage: Lineage,
  seq: number,
): Promise<CommitRecord | undefined> {
  const seg = segmentOf(lineage, seq);
  return seg ? ops.commitCovering(seg.branchId, seq) : undefined;
}

/**
 * The newest commit of this history with epoch ≤ `epoch`. In an ancestor
 * segment only the part at or below the fork point counts: a commit that
 * straddles it is clipped to the fork point and carries the fork heads.
 */
export async function lastCommitUpTo(
  ops: SpaceReadOps,
  lineage: Lineage,
  epoch: number,
): Promise<CommitRecord | undefined> {
  for (let i = lineage.length - 1; i >= 0; i--) {
    const seg = lineage[i] as LineageSegment;
    if (seg.fromSeq > seg.toSeq) continue;
    let c = await ops.lastCommitUpTo(seg.branchId, epoch);
    if (!c) continue;
    // Epochs grow with seq, so the commit covering the fork point is older than c.
    if (c.seqFrom > seg.toSeq) c = await ops.commitCovering(seg.branchId, seg.toSeq);
    assert(c, `no commit covers seq ${seg.toSeq} of branch ${seg.branchId}`);
    if (c.seqTo <= seg.toSeq) return c;
    assert(seg.endHeads, 'only an ancestor segment can clip a commit');
    return { ...c, seqTo: seg.toSeq, heads: seg.endHeads };
  }
  return undefined;
}

/**
 * Commits that appended seqs fromSeq..toSeq of this history, in seq order. An
 * ancestor's commit that runs past a fork point is cut at it, with the fork heads.
 */
export async function commitsOverlapping(
  ops: SpaceReadOps,
  lineage: Lineage,
  fromSeq: number,
  toSeq: number,
): Promise<CommitRecord[]> {
  const out: CommitRecord[] = [];
  for (const seg of lineage) {
    const from = Math.max(seg.fromSeq, fromSeq);
    const to = Math.min(seg.toSeq, toSeq);
    if (from > to) continue;
    const commits = await ops.commitsEndingIn(seg.branchId, from, to);
    const last = commits[commits.length - 1];
    if (!last || last.seqTo < to) {
      // The commit holding `to` ends after the range (or past the fork point).
      const tail = await ops.commitCovering(seg.branchId, to);
      if (tail && tail.seqTo > (last?.seqTo ?? 0)) commits.push(tail);
    }
    for (const c of commits) {
      const clipped = c.seqTo > seg.toSeq && seg.endHeads;
      out.push(clipped ? { ...c, seqTo: seg.toSeq, heads: seg.endHeads as string[] } : c);
    }
  }
  return out;
}

/**
 * For each branch of this history, its newest snapshot in (aboveSeq, seq]
 * within its segment, newest first. A snapshot of any branch of the lineage
 * at or below its segment's end shows the same prefix of history.
 */
export async function snapshotsBelow(
  ops: SpaceReadOps,
  lineage: Lineage,
  seq: number,
  aboveSeq: number,
): Promise<SnapshotMeta[]> {
  const found: SnapshotMeta[] = [];
  for (const seg of lineage) {
    const s = await ops.nearestSnapshot(seg.branchId, Math.min(seg.toSeq, seq));
    if (s && s.seq > aboveSeq) found.push(s);
  }
  return found.sort((a, b) => b.seq - a.seq);
}

/** Heads of this history after `seq` changes (0: none). */
export async function headsAt(ops: SpaceReadOps, lineage: Lineage, seq: number): Promise<string[]> {
  if (seq === 0) return [];
  const seg = lineage.find((s) => s.fromSeq <= seq && seq <= s.toSeq);
  assert(seg, `seq ${seq} is outside this history`);
  if (seq === seg.toSeq && seg.endHeads) return seg.endHeads;
  const c = await ops.commitCovering(seg.branchId, seq);
  assert(c, `no commit covers seq ${seq}`);
  if (c.seqTo === seq) return c.heads;
  // Inside a commit: the heads before it, advanced by its entries up to seq.
  const start = Math.max(c.seqFrom, seg.fromSeq);
  const before = await headsAt(ops, lineage, start - 1);
  const entries = await ops.readBranchLog(seg.branchId, start, seq, seq - start + 1, false);
  return advanceHeads(before, entries);
}

/** Highest seq per actor over this history's seqs 1..seq (what a fork at seq inherits). */
export async function actorSeqsAt(
  ops: SpaceReadOps,
  lineage: Lineage,
  seq: number,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const seg of clip(lineage, 1, seq)) {
    for (const [actor, s] of await ops.actorMaxima(seg.branchId, seg.fromSeq, seg.toSeq)) {
      out.set(actor, Math.max(out.get(actor) ?? 0, s));
    }
  }
  return out;
}

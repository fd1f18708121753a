import type { BranchRecord, ChainTip, ChangeRecord, CommitRecord } from './types.js';

/** Entries per map before it is simply emptied (a bound, not an LRU: misses only cost a query). */
export const WRITER_CACHE_MAX_ENTRIES = 4096;

/** An interned actor: its row id and the highest seq of it stored anywhere in the space. */
export interface ActorRow {
  id: number;
  maxSeq: number;
}

/**
 * What the writer of one space has read or written, kept so that the commit
 * path does not ask the database again: the chain tip, branch rows by name,
 * interned actors and per-branch actor seqs. Write-through: the backend's
 * write ops update it as they write.
 *
 * A backend must only use it while nobody else writes the space: SQLite
 * because one writer connection per space file is the only writer (one
 * process per data dir); PostgreSQL because the space's row lock is held
 * and the space's write generation shows no other process wrote since the
 * cache was filled. Anything a rolled-back batch may have left here is
 * wrong, so the stores `clear()` it on every rollback. Reads outside write
 * batches never use it (they must see committed data only).
 */
export class WriterCache {
  tip: ChainTip | undefined;
  private readonly branches = new Map<string, BranchRecord>();
  /** Branch id → its key in `branches`, to update or drop a branch known by id. */
  private readonly branchKeys = new Map<number, string>();
  private readonly actors = new Map<string, ActorRow>();
  /** `${branchId}:${actorHex}` → highest seq of that actor in the branch (0: none). */
  private readonly actorSeqs = new Map<string, number>();

  clear(): void {
    this.tip = undefined;
    this.branches.clear();
    this.branchKeys.clear();
    this.actors.clear();
    this.actorSeqs.clear();
  }

  /** After a tx record was appended: it is the new tip. */
  recordTx(record: ChainTip): void {
    this.tip = { epoch: record.epoch, txHash: record.txHash, committedAt: record.committedAt };
  }

  getBranch(docId: string, name: string): BranchRecord | undefined {
    return this.branches.get(branchKey(docId, name));
  }

  putBranch(branch: BranchRecord): void {
    if (this.branches.size >= WRITER_CACHE_MAX_ENTRIES) {
      this.branches.clear();
      this.branchKeys.clear();
    }
    const key = branchKey(branch.docId, branch.name);
    // Frozen: a record handed out twice must not be changed by either caller.
    Object.freeze(branch.heads);
    Object.freeze(branch.forkHeads);
    this.branches.set(key, Object.freeze(branch));
    this.branchKeys.set(branch.id, key);
  }

  /** After a commit appended seqs up to `seq` with these heads to the branch. */
  advanceBranch(branchId: number, seq: number, heads: string[], epoch: number): void {
    const key = this.branchKeys.get(branchId);
    const cached = key === undefined ? undefined : this.branches.get(key);
    if (!cached) return;
    // Spelled out: spreading a frozen record costs several µs on the commit path.
    this.putBranch({
      id: cached.id,
      docId: cached.docId,
      name: cached.name,
      kind: cached.kind,
      parentId: cached.parentId,
      forkSeq: cached.forkSeq,
      forkHeads: cached.forkHeads,
      closed: cached.closed,
      mergedInto: cached.mergedInto,
      createdAt: cached.createdAt,
      seq,
      heads: [...heads],
      lastEpoch: epoch,
    });
  }

  dropBranch(branchId: number): void {
    const key = this.branchKeys.get(branchId);
    if (key !== undefined) this.branches.delete(key);
    this.branchKeys.delete(branchId);
    // Its actor seqs are deleted or rewritten with it; cheaper to forget them all.
    this.actorSeqs.clear();
  }

  getActor(actorHex: string): ActorRow | undefined {
    return this.actors.get(actorHex);
  }

  putActor(actorHex: string, row: ActorRow): void {
    if (this.actors.size >= WRITER_CACHE_MAX_ENTRIES) this.actors.clear();
    this.actors.set(actorHex, row);
  }

  /** After `changes` were appended as `commit`, with `actors` their interned rows before it. */
  recordCommit(
    commit: CommitRecord,
    changes: readonly ChangeRecord[],
    actors: ReadonlyMap<string, ActorRow>,
  ): void {
    const maxSeq = new Map<string, number>();
    for (const c of changes) maxSeq.set(c.actor, Math.max(maxSeq.get(c.actor) ?? 0, c.seq));
    for (const [actor, seq] of maxSeq) {
      const row = actors.get(actor);
      if (row) this.putActor(actor, { id: row.id, maxSeq: Math.max(row.maxSeq, seq) });
      this.raiseActorSeq(commit.branchId, actor, seq);
    }
    this.advanceBranch(commit.branchId, commit.seqTo, commit.heads, commit.epoch);
  }

  /** The stored seq becomes max(stored, seq), as the backends' upserts do. */
  raiseActorSeq(branchId: number, actorHex: string, seq: number): void {
    const before = this.getActorSeq(branchId, actorHex);
    if (before !== undefined) this.putActorSeq(branchId, actorHex, Math.max(before, seq));
  }

  getActorSeq(branchId: number, actorHex: string): number | undefined {
    return this.actorSeqs.get(`${branchId}:${actorHex}`);
  }

  putActorSeq(branchId: number, actorHex: string, seq: number): void {
    if (this.actorSeqs.size >= WRITER_CACHE_MAX_ENTRIES) this.actorSeqs.clear();
    this.actorSeqs.set(`${branchId}:${actorHex}`, seq);
  }
}

/** Doc ids and branch names cannot contain NUL (SPEC §1), so the key is unambiguous. */
function branchKey(docId: string, name: string): string {
  return `${docId}\u0000${name}`;
}

/*
 * Read-through lookups for a backend's write ops, with or without a cache
 * (the reader connection has none): the cache answers what it holds, `load`
 * asks the database for the rest, and the answer is remembered.
 */

export async function readChainTip(
  cache: WriterCache | undefined,
  load: () => Promise<ChainTip>,
): Promise<ChainTip> {
  if (cache?.tip) return cache.tip;
  const tip = await load();
  if (cache) cache.tip = tip;
  return tip;
}

export async function readBranch(
  cache: WriterCache | undefined,
  docId: string,
  name: string,
  load: () => Promise<BranchRecord | undefined>,
): Promise<BranchRecord | undefined> {
  const cached = cache?.getBranch(docId, name);
  if (cached) return cached;
  const branch = await load();
  if (branch) cache?.putBranch(branch);
  return branch;
}

/** Highest seq per actor in the branch; actors without a change there are left out. */
export async function readActorSeqs(
  cache: WriterCache | undefined,
  branchId: number,
  actors: readonly string[],
  load: (missing: string[]) => Promise<Map<string, number>>,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const missing: string[] = [];
  for (const actor of actors) {
    const seq = cache?.getActorSeq(branchId, actor);
    if (seq === undefined) missing.push(actor);
    else if (seq > 0) out.set(actor, seq);
  }
  if (missing.length === 0) return out;
  for (const [actor, seq] of await load(missing)) out.set(actor, seq);
  // 0 records "no change of this actor in the branch", also worth remembering.
  for (const actor of missing) cache?.putActorSeq(branchId, actor, out.get(actor) ?? 0);
  return out;
}

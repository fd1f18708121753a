import { CairnError } from '../core/errors.js';
import { rootRef, sameHeadSet } from '../crdt/heads.js';
import type {
  FailedWriteResult,
  TxFailure,
  TxOutcome,
  TxReceipt,
  WriteResult,
} from '../protocol/receipt.js';
import { excludedAt, readTail } from '../storage/exclusion.js';
import type { ChainTip, SpaceReadOps, SpaceWriteOps } from '../storage/types.js';
import type { ServerIdentity } from '../auth/server-identity.js';
import type { KindWorkers } from '../crdt/kind-workers.js';
import { executeWrite, planWrite, type AppliedWrite, type WritePlan } from './apply-write.js';
import { invariantContext, type InvariantRegistry } from './invariants.js';
import type { PreparedTx } from './prepared-tx.js';
import type { TxRecordBody } from '../protocol/tx-record.js';
import { chainTx, type UnsignedTxRecord } from './tx-chain.js';

export interface TxContext {
  spaceId: string;
  /** Worker threads for what invariants need built (never the event loop: see read/materializer). */
  workers: KindWorkers;
  identity: ServerIdentity;
  invariants: InvariantRegistry;
  idempotencyRetentionMs: number;
  now: () => number;
}

/** A transaction's outcome plus what it committed (for publishing). */
export interface TxResult {
  outcome: TxOutcome;
  /**
   * Set when the transaction committed something: its writes, and its tx
   * record, which the caller signs and appends before the batch commits.
   */
  committed?: { epoch: number; writes: AppliedWrite[]; record: UnsignedTxRecord };
  tip: ChainTip;
}

/**
 * Raised inside a transaction with where it failed: the read set (no write
 * checked), a write (index), or an invariant after every write was checked.
 */
class WriteFailed extends Error {
  constructor(
    readonly error: CairnError,
    readonly writeIndex: number | null,
    readonly allChecked = false,
  ) {
    super(error.message);
  }
}

/**
 * SPEC §2 steps 2-9 for one transaction inside a write batch. All checks
 * come before the first write, so a refused transaction (a thrown
 * `WriteFailed`) has written nothing and needs no rollback. The tx record is
 * chained here but signed and appended by the caller (the whole batch's
 * signatures are made together, see ChainSigner).
 */
export async function applyTransaction(
  ops: SpaceWriteOps,
  tx: PreparedTx,
  tip: ChainTip,
  ctx: TxContext,
): Promise<TxResult> {
  const { request } = tx;
  if (request.clientTxId !== undefined) {
    const stored = await ops.getReceipt(request.clientTxId);
    if (stored && stored.createdAt >= ctx.now() - ctx.idempotencyRetentionMs) {
      return { outcome: JSON.parse(stored.receiptJson) as TxReceipt, tip };
    }
  }
  await checkReads(ops, tx);

  // Check every write and the invariants first: a refusal leaves nothing to undo.
  const plans: WritePlan[] = [];
  for (const [i, w] of tx.writes.entries()) {
    try {
      plans.push(await planWrite(ops, w));
    } catch (err) {
      if (err instanceof CairnError) throw new WriteFailed(err, i);
      throw err;
    }
  }
  await checkInvariants(ops, plans, ctx);

  const results: WriteResult[] = plans.map((a) => ({
    docId: a.docId,
    branch: a.branch,
    status: 'ok',
    seq: a.seq,
    newHeads: a.newHeads,
    rootRef: rootRef(a.newHeads),
    applied: a.added.length,
    duplicates: a.duplicates,
  }));
  if (plans.every((p) => p.added.length === 0)) {
    // Only duplicates (or no writes): nothing commits and no epoch is used.
    const receipt: TxReceipt = {
      ok: true,
      epoch: tip.epoch,
      committedAt: tip.committedAt,
      txHash: Buffer.from(tip.txHash).toString('hex'),
      results,
    };
    return { outcome: receipt, tip };
  }

  const epoch = tip.epoch + 1;
  const committedAt = Math.max(ctx.now(), tip.committedAt);
  const changed: AppliedWrite[] = [];
  for (const plan of plans) {
    if (plan.added.length > 0) changed.push(await executeWrite(ops, plan, epoch, committedAt));
  }
  const body: TxRecordBody = {
    v: 1,
    space: ctx.spaceId,
    epoch,
    committedAt,
    writes: changed.map((a) => ({
      docId: a.docId,
      branch: a.branch,
      seqFrom: a.seqFrom,
      seqTo: a.seq,
      newHeads: a.newHeads,
      changesHash: a.kind.contentDigest(a.added),
    })),
  };
  if (tx.clientDid) body.clientDid = tx.clientDid;
  const record = chainTx(body, tip, ctx.identity.did);
  const receipt: TxReceipt = {
    ok: true,
    epoch,
    committedAt,
    txHash: Buffer.from(record.txHash).toString('hex'),
    results,
  };
  if (request.clientTxId !== undefined) {
    await ops.putReceipt(request.clientTxId, {
      epoch,
      receiptJson: JSON.stringify(receipt),
      createdAt: ctx.now(),
    });
  }
  return {
    outcome: receipt,
    committed: { epoch, writes: changed, record },
    tip: { epoch, txHash: record.txHash, committedAt },
  };
}

/** SPEC §2 step 3: each read's heads must be the branch's current heads. */
async function checkReads(ops: SpaceWriteOps, tx: PreparedTx): Promise<void> {
  for (const read of tx.request.reads) {
    const branch = await ops.getBranch(read.docId, read.branch);
    const current = branch?.heads ?? [];
    if (!sameHeadSet(read.heads, current)) {
      throw new WriteFailed(
        new CairnError('ReadConflict', `read of ${read.docId}@${read.branch} is stale`, {
          docId: read.docId,
          branch: read.branch,
          currentHeads: current,
        }),
        null,
      );
    }
  }
}

/** SPEC §2 step 7: registered invariants on the post-state, failing closed. */
async function checkInvariants(
  ops: SpaceReadOps,
  plans: WritePlan[],
  ctx: TxContext,
): Promise<void> {
  for (const [i, a] of plans.entries()) {
    if (a.added.length === 0) continue;
    const invariants = ctx.invariants.forDoc(ctx.spaceId, a.docId, a.branch);
    if (invariants.length === 0) continue;
    let doc;
    try {
      const seq = a.existing?.seq ?? 0;
      const excluded = await excludedAt(ops, a.lineage, seq, await ops.quarantined());
      const before = await readTail(ops, a.lineage, 1, seq, excluded);
      const all = [...before.bytes, ...a.added.map((c) => c.bytes)];
      // Spaces with invariants pay for a full check, on a worker: the post-state must be
      // servable (JSON, saved bytes that load back) before the CRDT library sees it here.
      await ctx.workers.run(a.kind, {
        op: 'build',
        tail: all,
        want: { json: true, verify: true },
        cacheBytes: 0,
      });
      doc = a.kind.materialize(all);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new WriteFailed(
        new CairnError(
          'InvalidChange',
          `changes do not apply to the document: ${reason}`,
          { docId: a.docId, branch: a.branch },
          { cause: err },
        ),
        i,
        true,
      );
    }
    for (const inv of invariants) {
      let verdict: boolean | string | void;
      try {
        verdict = await inv.check(
          invariantContext(ctx.spaceId, a.docId, a.branch, a.kind.name, doc, a.newHeads),
        );
      } catch (err) {
        verdict = err instanceof Error ? err.message : 'invariant threw';
      }
      if (verdict === false || typeof verdict === 'string') {
        const why = typeof verdict === 'string' ? `: ${verdict}` : '';
        throw new WriteFailed(
          new CairnError('InvariantFailed', `invariant ${inv.name} failed${why}`, {
            docId: a.docId,
            branch: a.branch,
            name: inv.name,
          }),
          i,
          true,
        );
      }
    }
  }
}

/** The failure answer, with the per-write statuses of SPEC §2. */
export function failureOf(tx: PreparedTx, err: unknown): TxFailure | undefined {
  if (!(err instanceof WriteFailed)) return undefined;
  const results: FailedWriteResult[] = tx.request.writes.map((w, i) => {
    const base = { docId: w.docId, branch: w.branch };
    if (err.writeIndex === null) return { ...base, status: 'notChecked' };
    if (i === err.writeIndex) return { ...base, status: 'error', code: err.error.code };
    if (i < err.writeIndex || err.allChecked) return { ...base, status: 'aborted' };
    return { ...base, status: 'notChecked' };
  });
  return { ok: false, error: err.error.toJSON(), results };
}

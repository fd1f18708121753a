import { rootRef } from '../crdt/heads.js';
import * as Y from 'yjs';
import { assembleChunks } from '../crdt/yjs/yjs-checkpoint.js';
import { decodeTxBody, isYjsWrite } from '../protocol/tx-record.js';
import { loadYjsDoc } from './yjs-loader.js';
import type { BranchRecord, SpaceReadOps, StorageBackend } from '../storage/types.js';

/** A live client's acknowledgement of one branch (kept by storage, used by resume). */
export type { ClientAck } from '../storage/types.js';

/** What one write of a committed transaction appended to one branch. */
/**
 * The branch key under which the live feed carries a Yjs doc (SPEC §11: one
 * line of history, its own doc id namespace). No branch name can be this
 * (it is not a valid name), so a Yjs doc never meets an Automerge doc of the
 * same id; on the wire its entries say `kind: "yjs"` and `branch: "main"`.
 */
export const YJS_FEED_BRANCH = '#yjs';

export interface CommittedWrite {
  docId: string;
  branch: string;
  /** A Yjs update (`changes` holds the one committed update; seqs are its epoch). */
  yjs?: true;
  seqFrom: number;
  seqTo: number;
  /** The branch's heads after the write, sorted. */
  heads: string[];
  rootRef: string;
  /** The appended changes' bytes, in seq order. */
  changes: Uint8Array[];
}

/** A branch's changes after a point, to bring a resuming client up to date. */
export interface CatchUp {
  /** The first seq of `changes` (the client holds everything before it). */
  seqFrom: number;
  /** The branch's seq now (the last of `changes`). */
  seq: number;
  heads: string[];
  rootRef: string;
  changes: Uint8Array[];
}

/** What one epoch of a space committed (writes that appended nothing are left out). */
export interface CommittedEpoch {
  epoch: number;
  writes: CommittedWrite[];
}

/**
 * The live feed's read side (SPEC §6): the space's current epoch, and what
 * each epoch after a point committed, read from the tx chain (each record's
 * body lists its writes) and the branch logs. Fan-out, resume and catch-up
 * all read through here, so a delivery is always what is durably stored.
 */
export class EpochFeed {
  constructor(private readonly backend: StorageBackend) {}

  /** A Yjs doc's whole state as one update, and the epoch of its last commit; undefined: no such doc. */
  async yjsState(
    spaceId: string,
    docId: string,
  ): Promise<{ state: Uint8Array; epoch: number } | undefined> {
    return this.withSpace(spaceId, async (ops) => {
      if (!(await ops.yjs.getDoc(docId))) return undefined;
      const loaded = await loadYjsDoc(ops, docId);
      try {
        return { state: Y.encodeStateAsUpdate(loaded.doc), epoch: loaded.epoch };
      } finally {
        loaded.doc.destroy();
      }
    });
  }

  /** The space's newest epoch; 0 for a space with no commit (none is created). */
  async currentEpoch(spaceId: string): Promise<number> {
    return (await this.withSpace(spaceId, async (ops) => (await ops.chainTip()).epoch)) ?? 0;
  }

  /**
   * The epochs `afterEpoch` < e ≤ `upToEpoch`, in order, at most `limit`,
   * with the change bytes of the writes `wanted` selects (the others keep
   * their place with no bytes read: `changes` is empty).
   */
  async committedAfter(
    spaceId: string,
    afterEpoch: number,
    upToEpoch: number,
    limit: number,
    wanted: (docId: string, branch: string) => boolean,
  ): Promise<CommittedEpoch[]> {
    const out = await this.withSpace(spaceId, async (ops) => {
      const records = await ops.txRecordsAfter(afterEpoch, upToEpoch, limit);
      const epochs: CommittedEpoch[] = [];
      for (const record of records) {
        const body = decodeTxBody(record.body);
        const writes: CommittedWrite[] = [];
        for (const w of body.writes) {
          if (isYjsWrite(w)) {
            const changes = wanted(w.docId, YJS_FEED_BRANCH)
              ? await yjsUpdateAt(ops, w.docId, record.epoch)
              : [];
            writes.push({
              docId: w.docId,
              branch: YJS_FEED_BRANCH,
              yjs: true,
              seqFrom: record.epoch,
              seqTo: record.epoch,
              heads: [],
              rootRef: '',
              changes,
            });
            continue;
          }
          const heads = [...w.newHeads].sort();
          const changes = wanted(w.docId, w.branch) ? await bytesOf(ops, w) : [];
          writes.push({ ...pick(w), heads, rootRef: rootRef(heads), changes });
        }
        epochs.push({ epoch: record.epoch, writes });
      }
      return epochs;
    });
    return out ?? [];
  }

  /**
   * What a client that holds the branch as of `sinceEpoch` misses: the
   * branch's changes after its last own commit at or before that epoch, up
   * to now. Undefined when that cannot be said in at most `maxChanges`
   * changes (no own commit by then, the doc does not exist, or the gap is
   * larger): the caller sends the whole state instead.
   */
  async changesSince(
    spaceId: string,
    docId: string,
    branchName: string,
    sinceEpoch: number,
    maxChanges: number,
  ): Promise<CatchUp | undefined> {
    return this.withSpace(spaceId, async (ops) => {
      const branch = await ops.getBranch(docId, branchName);
      if (!branch) return undefined;
      const held = await ops.lastCommitUpTo(branch.id, sinceEpoch);
      return held ? catchUpAfter(ops, branch, held.seqTo, maxChanges) : undefined;
    });
  }

  /**
   * The branch's changes after seq `heldSeq` (which the client holds), up
   * to now; undefined when the branch does not exist or more than
   * `maxChanges` are missing (the caller sends the whole state instead).
   */
  async changesAfterSeq(
    spaceId: string,
    docId: string,
    branchName: string,
    heldSeq: number,
    maxChanges: number,
  ): Promise<CatchUp | undefined> {
    return this.withSpace(spaceId, async (ops) => {
      const branch = await ops.getBranch(docId, branchName);
      return branch ? catchUpAfter(ops, branch, heldSeq, maxChanges) : undefined;
    });
  }

  /** The epoch up to which a live client acknowledged holding the branch, if recorded. */
  async clientAck(
    spaceId: string,
    clientId: string,
    docId: string,
    branch: string,
  ): Promise<number | undefined> {
    return this.withSpace(spaceId, (ops) => ops.clientAck(clientId, docId, branch));
  }

  /** Runs `fn` on an existing space's committed state; undefined if the space does not exist. */
  private async withSpace<T>(
    spaceId: string,
    fn: (ops: SpaceReadOps) => Promise<T>,
  ): Promise<T | undefined> {
    const lease = await this.backend.acquireSpace(spaceId, { create: false });
    if (!lease) return undefined;
    try {
      return await fn(lease.store.reader);
    } finally {
      lease.release();
    }
  }
}

const pick = (w: { docId: string; branch: string; seqFrom: number; seqTo: number }) => ({
  docId: w.docId,
  branch: w.branch,
  seqFrom: w.seqFrom,
  seqTo: w.seqTo,
});

/** The branch's changes after `heldSeq`, if at most `maxChanges` (and `heldSeq` is its). */
async function catchUpAfter(
  ops: SpaceReadOps,
  branch: BranchRecord,
  heldSeq: number,
  maxChanges: number,
): Promise<CatchUp | undefined> {
  if (branch.seq - heldSeq > maxChanges || heldSeq > branch.seq) return undefined;
  const heads = [...branch.heads].sort();
  const changes =
    branch.seq > heldSeq ? await ops.readBranchBytes(branch.id, heldSeq + 1, branch.seq) : [];
  return { seqFrom: heldSeq + 1, seq: branch.seq, heads, rootRef: rootRef(heads), changes };
}

/** The update a Yjs doc committed at `epoch`: its journal row, or (oversized) the checkpoint there. */
async function yjsUpdateAt(ops: SpaceReadOps, docId: string, epoch: number): Promise<Uint8Array[]> {
  const [row] = await ops.yjs.journal(docId, epoch - 1, epoch, 1);
  if (row) return [row.bytes];
  const cp = (await ops.yjs.checkpoints(docId)).find((c) => c.epoch === epoch);
  if (!cp) return [];
  const got = assembleChunks(await ops.yjs.readChunks(docId, cp.generation), cp);
  return 'state' in got ? [got.state] : [];
}

async function bytesOf(
  ops: SpaceReadOps,
  w: { docId: string; branch: string; seqFrom: number; seqTo: number },
): Promise<Uint8Array[]> {
  const branch = await ops.getBranch(w.docId, w.branch);
  // A write names the branch it appended to; the branch is never deleted
  // while it has log entries, so it is always found.
  if (!branch) throw new Error(`tx record names a missing branch ${w.docId}/${w.branch}`);
  return ops.readBranchBytes(branch.id, w.seqFrom, w.seqTo);
}

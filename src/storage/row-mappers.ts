import type { DocKindName } from '../core/ids.js';
import { bytesToHex, unpackHashes } from './hash-codec.js';
import {
  EMPTY_CHAIN_TIP,
  type BranchRecord,
  type ChainTip,
  type CommitRecord,
  type LogEntry,
  type SnapshotMeta,
  type StoredReceipt,
  type TxRecordRow,
} from './types.js';

/** Rows as both SQL backends return them (same column names in both schemas). */
export type Row = Record<string, unknown>;

/** A branch row joined with its last log row (`tip_*`), or undefined. */
export function toBranch(r: Row | undefined): BranchRecord | undefined {
  if (!r) return undefined;
  const forkSeq = r.fork_seq as number;
  const forkHeads = unpackHashes(r.fork_heads as Uint8Array);
  const hasOwn = r.tip_seq !== null && r.tip_seq !== undefined;
  return {
    id: r.id as number,
    docId: r.doc_id as string,
    name: r.name as string,
    kind: r.kind as DocKindName,
    parentId: (r.parent_id as number | null) ?? null,
    forkSeq,
    forkHeads,
    // SQLite stores booleans as 0/1.
    closed: r.closed === true || r.closed === 1,
    mergedInto: (r.merged_into as string | null) ?? null,
    createdAt: r.created_at as number,
    seq: hasOwn ? (r.tip_seq as number) : forkSeq,
    heads: hasOwn ? unpackHashes(r.tip_heads as Uint8Array) : forkHeads,
    lastEpoch: hasOwn ? (r.tip_epoch as number) : 0,
  };
}

/** The chain tip from its tx row (`epoch, tx_hash, committed_at`); the empty chain's if none. */
export function toChainTip(r: Row | undefined): ChainTip {
  if (!r) return EMPTY_CHAIN_TIP;
  return {
    epoch: r.epoch as number,
    txHash: r.tx_hash as Uint8Array,
    committedAt: r.committed_at as number,
  };
}

/** A commit from the log row that ends it. */
export function toCommit(branchId: number, r: Row | undefined): CommitRecord | undefined {
  if (!r) return undefined;
  return {
    branchId,
    epoch: r.epoch as number,
    seqFrom: r.commit_from as number,
    seqTo: r.seq as number,
    heads: unpackHashes(r.commit_heads as Uint8Array),
    committedAt: r.committed_at as number,
  };
}

export function toSnapshot(r: Row | undefined): SnapshotMeta | undefined {
  if (!r) return undefined;
  return {
    id: r.id as number,
    branchId: r.branch_id as number,
    seq: r.seq as number,
    heads: unpackHashes(r.heads as Uint8Array),
    rootRef: r.root_ref as string,
    pinned: r.pinned === true || r.pinned === 1,
    createdAt: r.created_at as number,
    size: r.size as number,
  };
}

export function toTxRecord(r: Row | undefined): TxRecordRow | undefined {
  if (!r) return undefined;
  return {
    epoch: r.epoch as number,
    committedAt: r.committed_at as number,
    txHash: r.tx_hash as Uint8Array,
    prevTxHash: r.prev_tx_hash as Uint8Array,
    bodyHash: r.body_hash as Uint8Array,
    serverSig: r.server_sig as Uint8Array,
    serverDid: r.server_did as string,
    body: r.body as Uint8Array,
  };
}

export function toReceipt(r: Row | undefined): StoredReceipt | undefined {
  if (!r) return undefined;
  return {
    epoch: r.epoch as number,
    receiptJson: r.receipt as string,
    createdAt: r.created_at as number,
  };
}

/** A log row (with its actor joined in); `bytes` only when the query selected them. */
export function toLogEntry(r: Row, withBytes: boolean): LogEntry {
  const e: LogEntry = {
    seq: r.seq as number,
    hash: bytesToHex(r.hash as Uint8Array),
    actor: bytesToHex(r.actor as Uint8Array),
    actorSeq: r.actor_seq as number,
    deps: unpackHashes(r.deps as Uint8Array),
  };
  if (withBytes) e.bytes = r.bytes as Uint8Array;
  return e;
}

import { z } from 'zod';
import {
  base64,
  branchName,
  docId,
  epochMs,
  heads,
  hex256,
  jsonValue,
  uint,
} from './primitives.js';
import { txReceipt } from './receipt.js';

/*
 * The answers of the read routes (SPEC §3-§5), declared once: routes build
 * them, clients import their types, and /openapi.json is generated from them.
 */

/** `GET /v1/:space/docs/:docId` as JSON: the doc at a version. */
export const docView = z
  .object({
    docId,
    branch: branchName,
    seq: uint,
    epoch: uint.meta({ description: 'epoch of the commit that produced this version' }),
    heads,
    rootRef: hex256,
    value: jsonValue,
    quarantined: z.array(z.string()).optional().meta({
      description:
        'changes of this version left out: accepted, but their ops do not apply (and changes depending on them)',
    }),
  })
  .meta({ id: 'DocView' });
export type DocView = z.infer<typeof docView>;

/** `GET …/heads`: a branch's current state. */
export const headsView = z
  .object({
    heads,
    seq: uint,
    epoch: uint.meta({ description: 'epoch of the last commit that touched the branch' }),
    rootRef: hex256,
    closed: z.boolean(),
    parent: branchName.optional(),
    forkSeq: uint.optional(),
    mergedInto: branchName.optional(),
  })
  .meta({ id: 'HeadsView' });
export type HeadsView = z.infer<typeof headsView>;

/** One entry of `GET …/changes`: a change of the branch log, with its bytes. */
export const changeItem = z
  .object({
    seq: uint,
    epoch: uint,
    hash: z.string(),
    actor: z.string(),
    actorSeq: uint,
    deps: heads,
    committedAt: epochMs,
    bytes: base64,
  })
  .meta({ id: 'ChangeItem' });
export type ChangeItem = z.infer<typeof changeItem>;

/** One entry of `GET …/history`, newest first: a change of the branch log, without bytes. */
export const historyItem = z
  .object({
    seq: uint,
    epoch: uint,
    committedAt: epochMs,
    hash: z.string(),
    actor: z.string(),
    actorSeq: uint,
    deps: heads,
    time: z.number().meta({ description: 'the change’s own (client) time, seconds; advisory' }),
    message: z.string().optional(),
  })
  .meta({ id: 'HistoryItem' });
export type HistoryItem = z.infer<typeof historyItem>;

/** One entry of `GET /v1/:space/docs`. */
export const docListItem = z
  .object({ docId, branches: z.array(branchName), lastEpoch: uint })
  .meta({ id: 'DocListItem' });
export type DocListItem = z.infer<typeof docListItem>;

/** A branch as `GET …/branches` lists it (SPEC §4). */
export const branchView = z
  .object({
    name: branchName,
    parent: branchName.nullable(),
    forkSeq: uint.nullable(),
    forkHeads: heads.nullable(),
    heads,
    seq: uint,
    closed: z.boolean(),
    mergedInto: branchName.nullable(),
    createdAt: epochMs,
  })
  .meta({ id: 'BranchView' });
export type BranchView = z.infer<typeof branchView>;

/** `POST …/snapshots` (SPEC §5). */
export const snapshotCreated = z
  .object({
    snapshotId: z.string(),
    seq: uint,
    heads,
    rootRef: hex256,
    bytes: uint.meta({ description: 'size of the saved document' }),
  })
  .meta({ id: 'SnapshotCreated' });
export type SnapshotCreated = z.infer<typeof snapshotCreated>;

/** A key both sides of a server merge set differently: `values[0]` is kept. */
export const mergeConflict = z
  .object({ path: z.array(z.union([z.string(), z.number()])), values: z.array(jsonValue) })
  .meta({ id: 'MergeConflict' });
export type MergeConflict = z.infer<typeof mergeConflict>;

/** `POST …/branches/:name/merge`: the receipt plus the conflicts. */
export const mergeResult = txReceipt
  .extend({ conflicts: z.array(mergeConflict) })
  .meta({ id: 'MergeResult' });
export type MergeResult = z.infer<typeof mergeResult>;

/** One write of a tx chain record. */
export const txRecordWrite = z
  .object({
    docId,
    branch: branchName,
    seqFrom: uint,
    seqTo: uint,
    newHeads: heads,
    changesHash: hex256.meta({ description: 'sha256 over the raw bytes of each change hash' }),
  })
  .meta({ id: 'TxRecordWrite' });

/** A Yjs update as committed to the tx chain (SPEC §11). */
export const txRecordYjsWrite = z
  .object({
    docId,
    kind: z.literal('yjs'),
    updateHash: hex256.meta({ description: 'sha256 of the committed update bytes' }),
    bytes: uint.meta({ description: 'length of the committed update' }),
  })
  .meta({ id: 'TxRecordYjsWrite' });

/** `GET /v1/:space/tx/:epoch` (SPEC §3): one record of a space's tx chain. */
export const txRecordView = z
  .object({
    epoch: uint,
    committedAt: epochMs,
    txHash: hex256.meta({ description: 'sha256(prevTxHash ‖ bodyHash) over raw bytes' }),
    prevTxHash: hex256,
    bodyHash: hex256,
    serverSig: z.string().meta({ description: 'base64url Ed25519 signature of the raw txHash' }),
    serverDid: z.string(),
    clientDid: z.string().optional(),
    space: z.string(),
    writes: z.array(z.union([txRecordWrite, txRecordYjsWrite])),
  })
  .meta({ id: 'TxRecordView' });
export type TxRecordView = z.infer<typeof txRecordView>;

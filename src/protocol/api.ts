import { z } from 'zod';
import type { ErrorCode } from '../core/errors.js';
import {
  closeBranchSchema,
  createBranchSchema,
  makeSnapshotSchema,
  mergeBranchSchema,
} from './branch-request.js';
import { branchName, docId, page, spaceId } from './primitives.js';
import { txFailure, txReceipt } from './receipt.js';
import { OPS_ROUTES } from './ops-routes.js';
import { YJS_ROUTES } from './yjs-routes.js';
import { KV_ROUTES } from './kv-routes.js';
import type { RouteSpec } from './route-spec.js';
import { txBodySchema } from './tx-request.js';
import {
  branchView,
  changeItem,
  docListItem,
  docView,
  headsView,
  historyItem,
  mergeResult,
  snapshotCreated,
  txRecordView,
} from './views.js';

/*
 * Every HTTP route, declared once: its path, parameters, body and answers.
 * The server mounts its handlers through these (request parts are validated
 * with, and handlers see only, what is declared here), and /openapi.json is
 * generated from them — so the reference cannot drift from the code.
 */

export type { BodySpec, RouteSpec } from './route-spec.js';

const text = (description: string) => z.string().optional().meta({ description });
const uintText = (description: string) =>
  z.string().optional().meta({ description, pattern: '^[0-9]+$' });

const spaceParams = z.object({ space: spaceId });
const docParams = z.object({ space: spaceId, docId });
const branchParams = z.object({ space: spaceId, docId, name: branchName });

const branchQuery = { branch: text('branch name (default main)') };
const versionQuery = {
  seq: uintText('after that many changes of the branch log'),
  epoch: uintText("after the space's commit number"),
  at: text('ISO-8601 or epoch ms: the last commit at or before that instant'),
  heads: text('comma-separated exact heads (must exist)'),
};
const pageQuery = {
  cursor: text('`nextCursor` of the previous page'),
  limit: uintText('items per page, 1-maxPageItems (default defaultPageItems)'),
};

/** Codes every /v1 route can answer besides its own. */
const COMMON: readonly ErrorCode[] = ['ValidationError', 'StorageUnavailable', 'Internal'];
const READ_ERRORS: readonly ErrorCode[] = [...COMMON, 'DocNotFound', 'BranchNotFound'];
const TX_ERRORS: readonly ErrorCode[] = [
  ...COMMON,
  'LimitExceeded',
  'ReadConflict',
  'StaleBaseHeads',
  'BranchClosed',
  'BranchNotFound',
  'InvalidChange',
  'MissingDependency',
  'NonMonotonicSeq',
  'InvariantFailed',
  'RateLimited',
];

export const AUTOMERGE_MEDIA_TYPE = 'application/automerge';

export const ROUTES: readonly RouteSpec[] = [
  ...OPS_ROUTES,
  ...YJS_ROUTES,
  ...KV_ROUTES,
  {
    id: 'commitTx',
    can: 'storage/write',
    method: 'post',
    path: '/v1/:space/tx',
    tag: 'transactions',
    summary: 'Commit a transaction',
    description:
      'Reads (heads assertions) and writes of Automerge changes, all or nothing (SPEC §2). ' +
      'A refused transaction answers the failure with every write’s status.',
    params: spaceParams,
    body: { json: txBodySchema },
    ok: { 200: { description: 'committed (or a no-op)', body: { json: txReceipt } } },
    errors: TX_ERRORS,
    refusal: txFailure,
  },
  {
    id: 'getTxRecord',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/tx/:epoch',
    tag: 'transactions',
    summary: 'The signed tx chain record of a commit',
    params: spaceParams.extend({ epoch: z.string().meta({ pattern: '^[0-9]+$' }) }),
    ok: { 200: { description: 'the record', body: { json: txRecordView } } },
    errors: [...COMMON, 'DocNotFound', 'VersionNotFound'],
  },
  {
    id: 'readDoc',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/docs/:docId',
    tag: 'documents',
    summary: 'A doc at a version, as JSON or Automerge bytes',
    description:
      'At most one of seq, epoch, at, heads (default: the current state). With ' +
      '`Accept: application/automerge` the answer is the saved document.',
    params: docParams,
    query: z.object({
      ...branchQuery,
      ...versionQuery,
      paths: text(
        'comma-separated slash paths of subtrees to keep (`~1` for `/` and `~0` for `~` in a key)',
      ),
    }),
    ok: {
      200: {
        description: 'the doc (JSON), or its bytes with `Accept: application/automerge`',
        body: { json: docView },
        headers: {
          'X-Cairn-Seq': 'seq of the version (byte answers)',
          'X-Cairn-Epoch': 'epoch of the commit that produced it (byte answers)',
          'X-Cairn-Heads': 'comma-separated heads (byte answers)',
          'X-Cairn-Root-Ref': 'rootRef of the heads (byte answers)',
        },
      },
    },
    errors: [...READ_ERRORS, 'VersionNotFound', 'LimitExceeded'],
  },
  {
    id: 'getHeads',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/docs/:docId/heads',
    tag: 'documents',
    summary: "A branch's heads, seq, epoch and lineage",
    params: docParams,
    query: z.object(branchQuery),
    ok: { 200: { description: 'the branch state', body: { json: headsView } } },
    errors: READ_ERRORS,
  },
  {
    id: 'listChanges',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/docs/:docId/changes',
    tag: 'documents',
    summary: 'The change log of a branch, with bytes (paged)',
    description:
      "Includes the parent's changes below the fork point: the items rebuild the branch.",
    params: docParams,
    query: z.object({
      ...branchQuery,
      fromSeq: uintText('first seq (inclusive, default 1)'),
      toSeq: uintText('last seq (inclusive)'),
      ...pageQuery,
    }),
    ok: { 200: { description: 'a page of changes', body: { json: page(changeItem) } } },
    errors: READ_ERRORS,
  },
  {
    id: 'listHistory',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/docs/:docId/history',
    tag: 'documents',
    summary: 'One item per change of a branch, newest first (paged)',
    params: docParams,
    query: z.object({ ...branchQuery, ...pageQuery }),
    ok: { 200: { description: 'a page of history', body: { json: page(historyItem) } } },
    errors: READ_ERRORS,
  },
  {
    id: 'listDocs',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/docs',
    tag: 'documents',
    summary: 'The docs of a space (paged, by id)',
    params: spaceParams,
    query: z.object({ prefix: text('only doc ids starting with this'), ...pageQuery }),
    ok: { 200: { description: 'a page of docs', body: { json: page(docListItem) } } },
    errors: COMMON,
  },
  {
    id: 'createBranch',
    can: 'storage/write',
    method: 'post',
    path: '/v1/:space/docs/:docId/branches',
    tag: 'branches',
    summary: 'Create a branch from any point of another',
    params: docParams,
    body: { json: createBranchSchema },
    ok: { 201: { description: 'created', body: { json: branchView } } },
    // From heads that are not a point of the log, the rest is a transaction of its own.
    errors: [...TX_ERRORS, 'DocNotFound', 'VersionNotFound', 'BranchExists'],
  },
  {
    id: 'listBranches',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/docs/:docId/branches',
    tag: 'branches',
    summary: 'The branches of a doc',
    params: docParams,
    ok: {
      200: {
        description: 'every branch',
        body: { json: z.object({ items: z.array(branchView) }) },
      },
    },
    errors: [...COMMON, 'DocNotFound'],
  },
  {
    id: 'closeBranch',
    can: 'storage/write',
    method: 'post',
    path: '/v1/:space/docs/:docId/branches/:name/close',
    tag: 'branches',
    summary: 'Close a branch (later writes get BranchClosed)',
    params: branchParams,
    body: { json: closeBranchSchema, mayBeEmpty: true },
    ok: { 200: { description: 'the closed branch', body: { json: branchView } } },
    errors: [...READ_ERRORS, 'RateLimited'],
  },
  {
    id: 'mergeBranch',
    can: 'storage/write',
    method: 'post',
    path: '/v1/:space/docs/:docId/branches/:name/merge',
    tag: 'branches',
    summary: 'Server merge of a branch into another (ENABLE_SERVER_MERGE=1)',
    params: branchParams,
    body: { json: mergeBranchSchema },
    ok: { 200: { description: 'the receipt and the conflicts', body: { json: mergeResult } } },
    errors: [...TX_ERRORS, 'DocNotFound', 'FeatureDisabled'],
  },
  {
    id: 'makeSnapshot',
    can: 'storage/write',
    method: 'post',
    path: '/v1/:space/docs/:docId/snapshots',
    tag: 'snapshots',
    summary: 'Make a snapshot of a branch now (kept beyond retention)',
    params: docParams,
    body: { json: makeSnapshotSchema, mayBeEmpty: true },
    ok: { 201: { description: 'made', body: { json: snapshotCreated } } },
    errors: [...READ_ERRORS, 'VersionNotFound', 'RateLimited'],
  },
  {
    id: 'getSnapshot',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/snapshots/:snapshotId',
    tag: 'snapshots',
    summary: "A snapshot's saved bytes",
    params: spaceParams.extend({ snapshotId: z.string() }),
    ok: { 200: { description: 'the saved document', body: { binary: AUTOMERGE_MEDIA_TYPE } } },
    errors: [...COMMON, 'SnapshotNotFound'],
  },
  {
    id: 'subscribeSse',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/subscribe',
    tag: 'live',
    summary: 'Server-Sent Events: the deliveries of some docs, or of the whole space',
    description:
      'An `event: deliver` per epoch (`id:` the epoch, `data:` a deliver frame as on the ' +
      'WebSocket), after the durable commit. `docs=*` follows every doc of the space (all ' +
      'branches). Resume with the `Last-Event-ID` header: every commit after that epoch comes ' +
      'first, none missed, none twice; without it, named docs start with their current state.',
    params: spaceParams,
    query: z.object({
      docs: z.string().meta({ description: 'comma-separated doc ids, or * for every doc' }),
      branch: text('branch of the named docs (default main)'),
      token: text('the UCAN, for clients that cannot set an Authorization header (EventSource)'),
    }),
    ok: { 200: { description: 'an event stream', body: { binary: 'text/event-stream' } } },
    errors: [...COMMON, 'LimitExceeded'],
  },
  {
    id: 'importDoc',
    can: 'storage/write',
    method: 'post',
    path: '/v1/:space/docs/:docId/import',
    tag: 'snapshots',
    summary: 'Import an Automerge file into a branch',
    description: 'Its new changes are appended as one transaction; known ones are duplicates.',
    params: docParams,
    query: z.object(branchQuery),
    body: { binary: AUTOMERGE_MEDIA_TYPE },
    ok: { 200: { description: 'the receipt', body: { json: txReceipt } } },
    errors: TX_ERRORS,
  },
];

/** The route of an id (for handlers and tests). */
export function routeSpec(id: string): RouteSpec {
  const spec = ROUTES.find((r) => r.id === id);
  if (!spec) throw new Error(`no route ${id}`);
  return spec;
}

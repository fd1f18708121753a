import { z } from 'zod';
import type { ErrorCode } from '../core/errors.js';
import { docId, epochMs, hex256, page, spaceId, uint } from './primitives.js';
import type { RouteSpec } from './route-spec.js';

/*
 * The HTTP routes of Yjs documents (SPEC §11), part of the route table
 * (protocol/api.ts). The y-websocket endpoint on `GET /v1/:space/yjs/:docId`
 * with an Upgrade header is not an HTTP route: see server/yjs-upgrade.ts.
 */

export const YJS_MEDIA_TYPE = 'application/octet-stream';

const COMMON: readonly ErrorCode[] = ['ValidationError', 'StorageUnavailable', 'Internal'];
const params = z.object({ space: spaceId, docId });
const text = (description: string) => z.string().optional().meta({ description });
const uintText = (description: string) =>
  z.string().optional().meta({ description, pattern: '^[0-9]+$' });
const versionQuery = {
  epoch: uintText("the space's commit number: the doc as of then"),
  at: text('ISO-8601 or epoch ms: the doc as of its last commit at or before that instant'),
};
const base64 = z.string().meta({ description: 'standard base64' });

export const yjsUpdateAnswer = z
  .object({
    ok: z.literal(true),
    docId,
    applied: z.union([z.literal(0), z.literal(1)]),
    epoch: uint.meta({ description: "the update's epoch (applied 0: the space's current epoch)" }),
    committedAt: epochMs.optional(),
    txHash: hex256.optional(),
    stateVector: base64,
  })
  .meta({ id: 'YjsUpdateAnswer' });

export const yjsJsonView = z
  .object({ docId, epoch: uint, value: z.record(z.string(), z.unknown()) })
  .meta({ id: 'YjsJson' });

export const yjsFeedItem = z
  .object({
    epoch: uint,
    committedAt: epochMs,
    kind: z.enum(['update', 'checkpoint']).optional(),
    bytes: base64,
  })
  .meta({ id: 'YjsFeedItem' });

export const yjsHistoryItem = z
  .object({ epoch: uint, committedAt: epochMs, size: uint, kind: z.enum(['update', 'checkpoint']) })
  .meta({ id: 'YjsHistoryItem' });

export const yjsDocDebug = z
  .object({
    storageMode: z.enum(['journal', 'degraded']),
    migration: z.unknown().nullable(),
    journalRows: uint,
    journalBytes: uint,
    checkpointEpoch: uint.nullable(),
    checkpointChunks: uint,
    coldLoadMs: z.number().nullable(),
    oversizedUpdates: uint,
    compaction: z.object({ failures: uint, breakerOpenUntil: epochMs.optional() }),
  })
  .meta({ id: 'YjsDocDebug' });

export const YJS_ROUTES: readonly RouteSpec[] = [
  {
    id: 'getYjsDebug',
    can: 'storage/admin',
    method: 'get',
    path: '/v1/:space/yjs/:docId/debug',
    tag: 'yjs',
    summary: "A Yjs doc's storage facts: journal, checkpoint, compaction, migration",
    params,
    ok: { 200: { description: 'the facts', body: { json: yjsDocDebug } } },
    errors: [...COMMON, 'DocNotFound'],
  },
  {
    id: 'postYjsUpdate',
    can: 'storage/write',
    method: 'post',
    path: '/v1/:space/yjs/:docId/updates',
    tag: 'yjs',
    summary: 'Commit one Yjs update',
    description:
      'Answered after the durable commit. An update that adds nothing commits nothing ' +
      '(`applied: 0`). Bytes that are not a Yjs update are `422 InvalidChange`, nothing stored.',
    params,
    body: { binary: YJS_MEDIA_TYPE },
    ok: {
      200: { description: 'committed (or nothing to commit)', body: { json: yjsUpdateAnswer } },
    },
    errors: [...COMMON, 'InvalidChange', 'LimitExceeded', 'RateLimited'],
  },
  {
    id: 'getYjsState',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/yjs/:docId',
    tag: 'yjs',
    summary: 'The state of a Yjs doc at a version, as one update',
    params,
    query: z.object(versionQuery),
    ok: {
      200: {
        description: 'the state as one Yjs update',
        body: { binary: YJS_MEDIA_TYPE },
        headers: {
          'X-Cairn-Epoch': "the epoch of the doc's last commit at or before the version",
          'X-Cairn-State-Vector': 'the state vector, base64',
        },
      },
    },
    errors: [...COMMON, 'DocNotFound', 'VersionNotFound'],
  },
  {
    id: 'getYjsJson',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/yjs/:docId/json',
    tag: 'yjs',
    summary: 'Named root types of a Yjs doc as JSON',
    params,
    query: z.object({
      roots: z.string().meta({ description: 'name:type,… with type text, map, array or xml' }),
      ...versionQuery,
    }),
    ok: { 200: { description: 'the roots', body: { json: yjsJsonView } } },
    errors: [...COMMON, 'DocNotFound', 'VersionNotFound'],
  },
  {
    id: 'getYjsUpdates',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/yjs/:docId/updates',
    tag: 'yjs',
    summary: 'The journal after an epoch (catch-up, replication)',
    params,
    query: z.object({
      fromEpoch: uintText('items after this epoch (default 0)'),
      cursor: text('`nextCursor` of the previous page'),
      limit: uintText('items per page (default defaultPageItems)'),
    }),
    ok: { 200: { description: 'a page of the journal', body: { json: page(yjsFeedItem) } } },
    errors: [...COMMON, 'DocNotFound'],
  },
  {
    id: 'getYjsHistory',
    can: 'storage/read',
    method: 'get',
    path: '/v1/:space/yjs/:docId/history',
    tag: 'yjs',
    summary: 'The history of a Yjs doc, newest first',
    params,
    query: z.object({
      cursor: text('`nextCursor` of the previous page'),
      limit: uintText('items per page (default defaultPageItems)'),
    }),
    ok: { 200: { description: 'a page of history', body: { json: page(yjsHistoryItem) } } },
    errors: [...COMMON, 'DocNotFound'],
  },
];

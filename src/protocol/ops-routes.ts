import { z } from 'zod';
import { branchName, docId, jsonValue, spaceId } from './primitives.js';
import type { RouteSpec } from './route-spec.js';
import { snapshotCreated } from './views.js';

/*
 * The routes of an operator rather than of an app (SPEC §8): health,
 * readiness, metrics, facts, the OpenAPI document, and the admin routes
 * (mounted only when enabled). Part of the one route table (protocol/api.ts).
 */

/** The body of an admin route acting on one space. */
export const adminSpaceBody = z.strictObject({ space: spaceId });
/** The body of an admin route acting on one doc branch. */
export const adminDocBody = z.strictObject({
  space: spaceId,
  docId,
  branch: branchName.optional(),
  kind: z
    .enum(['automerge', 'yjs'])
    .optional()
    .meta({ description: 'default: the Automerge doc, else the Yjs doc of that id' }),
});

/** `POST /admin/compact` of a Yjs doc: the checkpoint made (SPEC §11). */
export const yjsCheckpointMade = z
  .object({ kind: z.literal('yjs'), docId, epoch: z.number().int(), generation: z.number().int() })
  .meta({ id: 'YjsCheckpointMade' });

/** The answer of `GET /readyz`. */
export const readiness = z
  .object({ ready: z.boolean(), reasons: z.array(z.string()) })
  .meta({ id: 'Readiness' });

export const OPS_ROUTES: readonly RouteSpec[] = [
  {
    id: 'healthz',
    can: null,
    method: 'get',
    path: '/healthz',
    tag: 'operations',
    summary: 'The process is up',
    ok: { 200: { description: 'up', body: { json: z.object({ ok: z.literal(true) }) } } },
    errors: [],
  },
  {
    id: 'readyz',
    can: null,
    method: 'get',
    path: '/readyz',
    tag: 'operations',
    summary: 'Storage takes writes',
    description:
      'Fails (503) while storage refuses writes (disk full, database unreachable) or the server is shutting down; the reasons name no tenant data.',
    ok: {
      200: { description: 'ready', body: { json: readiness } },
      503: { description: 'not ready, with the reasons', body: { json: readiness } },
    },
    errors: [],
  },
  {
    id: 'metrics',
    can: null,
    method: 'get',
    path: '/metrics',
    tag: 'operations',
    summary: 'Prometheus metrics (text format 0.0.4)',
    description:
      'Labels are bounded (result codes, read paths, event kinds): no space, doc or client id.',
    ok: { 200: { description: 'the metrics', body: { binary: 'text/plain' } } },
    errors: [],
  },
  {
    id: 'debug',
    can: null,
    method: 'get',
    path: '/debug',
    tag: 'operations',
    summary: 'Storage, migration and runtime facts (no tenant data)',
    ok: { 200: { description: 'the facts', body: { json: z.record(z.string(), jsonValue) } } },
    errors: [],
  },
  {
    id: 'adminCompact',
    can: 'storage/admin',
    method: 'post',
    path: '/admin/compact',
    tag: 'admin',
    summary:
      "Compacts a doc now: a snapshot of a branch's current state, or a Yjs doc's checkpoint (admin routes only)",
    description:
      'Only with CAIRN_ENABLE_ADMIN_ROUTES=1 (else 404, no work); needs storage/admin over `space`.',
    body: { json: adminDocBody },
    ok: {
      200: {
        description: 'the snapshot (or Yjs checkpoint) made',
        body: { json: z.union([snapshotCreated, yjsCheckpointMade]) },
      },
    },
    errors: ['ValidationError', 'NotFound', 'DocNotFound', 'BranchNotFound', 'StorageUnavailable'],
  },
  {
    id: 'adminRebuildCaches',
    can: 'storage/admin',
    method: 'post',
    path: '/admin/rebuild-caches',
    tag: 'admin',
    summary: "Drops a space's cached docs (rebuilt on the next read) (admin routes only)",
    body: { json: adminSpaceBody },
    ok: { 200: { description: 'done', body: { json: z.object({ ok: z.literal(true) }) } } },
    errors: ['ValidationError', 'NotFound'],
  },
  {
    id: 'adminCloseConnections',
    can: 'storage/admin',
    method: 'post',
    path: '/admin/connections/close',
    tag: 'admin',
    summary: "Closes a space's live connections with 1012 (clients reconnect) (admin routes only)",
    body: { json: adminSpaceBody },
    ok: {
      200: {
        description: 'how many were closed',
        body: { json: z.object({ closed: z.number() }) },
      },
    },
    errors: ['ValidationError', 'NotFound'],
  },
  {
    id: 'openapi',
    can: null,
    method: 'get',
    path: '/openapi.json',
    tag: 'operations',
    summary: 'This API as an OpenAPI 3.1 document',
    ok: { 200: { description: 'the document', body: { json: z.record(z.string(), jsonValue) } } },
    errors: [],
  },
];

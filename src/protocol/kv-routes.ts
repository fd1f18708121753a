import { z } from 'zod';
import type { ErrorCode } from '../core/errors.js';
import { epochMs, page, spaceId, uint } from './primitives.js';
import type { RouteSpec } from './route-spec.js';

/*
 * The HTTP routes of extension KV storage (SPEC §12), part of the route
 * table (protocol/api.ts). Identifiers are checked by the KV layer
 * (src/kv/kv-rules.ts) so their errors say which rule a value broke.
 */

const COMMON: readonly ErrorCode[] = ['ValidationError', 'StorageUnavailable', 'Internal'];
const WRITE: readonly ErrorCode[] = [
  ...COMMON,
  'RevisionMismatch',
  'QuotaExceeded',
  'LimitExceeded',
  'RateLimited',
];
const installParams = z.object({ space: spaceId, install: z.string() });
const nsParams = installParams.extend({ namespace: z.string() });
const keyParams = nsParams.extend({ key: z.string() });
const uintText = (description: string) =>
  z.string().optional().meta({ description, pattern: '^[0-9]+$' });
const json = z.unknown().meta({ description: 'any JSON' });

export const kvPutBody = z
  .strictObject({
    value: json,
    metadata: z.record(z.string(), z.unknown()).optional(),
    ttlSeconds: z.number().int().optional().meta({ description: '60 s - 30 days' }),
    ifRevision: z.number().int().min(1).optional(),
    ifAbsent: z.boolean().optional(),
    schemaVersion: z.number().int().min(1).optional(),
  })
  .meta({ id: 'KvPut' });

export const kvBulkBody = z
  .strictObject({ items: z.array(kvPutBody.extend({ key: z.string() })) })
  .meta({ id: 'KvBulkPut' });

export const kvWritten = z
  .object({
    key: z.string(),
    revision: uint,
    ttlExpiresAt: epochMs.optional(),
    createdAt: epochMs,
    updatedAt: epochMs,
  })
  .meta({ id: 'KvWritten' });

export const kvRecord = kvWritten
  .extend({ value: json.optional(), metadata: z.record(z.string(), z.unknown()).optional() })
  .meta({ id: 'KvRecord' });

export const kvSchemaBody = z
  .strictObject({ schema: json, status: z.enum(['draft', 'active', 'deprecated']) })
  .meta({ id: 'KvSchemaPut' });

const kvUsage = z
  .object({
    bytesUsed: uint,
    keys: uint,
    namespaces: uint,
    limits: z.object({
      valueBytes: uint,
      metadataBytes: uint,
      keysPerNamespace: uint,
      namespacesPerInstall: uint,
      bytesPerInstall: uint,
    }),
  })
  .meta({ id: 'KvUsage' });

const base = '/v1/:space/kv/:install/:namespace';

export const KV_ROUTES: readonly RouteSpec[] = [
  {
    id: 'kvGet',
    can: 'kv/read',
    method: 'get',
    path: `${base}/records/:key`,
    tag: 'kv',
    summary: 'A record',
    params: keyParams,
    query: z.object({
      ifRevision: uintText('409 RevisionMismatch unless the record is at this revision'),
    }),
    ok: { 200: { description: 'the record', body: { json: kvRecord } } },
    errors: [...COMMON, 'KeyNotFound', 'RevisionMismatch', 'RateLimited'],
  },
  {
    id: 'kvPut',
    can: 'kv/write',
    method: 'put',
    path: `${base}/records/:key`,
    tag: 'kv',
    summary: 'Create (201) or update (200) a record',
    params: keyParams,
    body: { json: kvPutBody },
    ok: {
      200: { description: 'updated', body: { json: kvWritten } },
      201: { description: 'created', body: { json: kvWritten } },
    },
    errors: WRITE,
  },
  {
    id: 'kvDelete',
    can: 'kv/write',
    method: 'delete',
    path: `${base}/records/:key`,
    tag: 'kv',
    summary: 'Delete a record',
    params: keyParams,
    query: z.object({
      ifRevision: uintText('409 RevisionMismatch unless the record is at this revision'),
    }),
    ok: {
      200: {
        description: 'whether a live record was deleted',
        body: { json: z.object({ deleted: z.boolean() }) },
      },
    },
    errors: [...COMMON, 'RevisionMismatch', 'RateLimited'],
  },
  {
    id: 'kvBulkPut',
    can: 'kv/write',
    method: 'post',
    path: `${base}/records`,
    tag: 'kv',
    summary: 'Put up to 20 records (512 KiB), all or nothing',
    params: nsParams,
    body: { json: kvBulkBody },
    ok: {
      200: {
        description: 'every record written',
        body: { json: z.object({ items: z.array(kvWritten) }) },
      },
    },
    errors: WRITE,
  },
  {
    id: 'kvList',
    can: 'kv/read',
    method: 'get',
    path: `${base}/records`,
    tag: 'kv',
    summary: 'Records in key order (UTF-8 bytes), by literal prefix',
    params: nsParams,
    query: z.object({
      prefix: z
        .string()
        .optional()
        .meta({ description: 'literal: %, _ and \\ are plain characters' }),
      cursor: z.string().optional().meta({ description: '`nextCursor` of the previous page' }),
      limit: uintText('1-100, default 25'),
      includeValues: z.enum(['true', 'false']).optional(),
      includeMetadata: z.enum(['true', 'false']).optional(),
    }),
    ok: { 200: { description: 'a page', body: { json: page(kvRecord) } } },
    errors: [...COMMON, 'RateLimited'],
  },
  {
    id: 'kvPutSchema',
    can: 'kv/write',
    method: 'put',
    path: `${base}/schemas/:version`,
    tag: 'kv',
    summary: "A namespace's JSON Schema version (at most one active)",
    params: nsParams.extend({ version: z.string() }),
    body: { json: kvSchemaBody },
    ok: {
      200: {
        description: 'stored',
        body: { json: z.object({ version: uint, status: z.string() }) },
      },
    },
    errors: [...COMMON, 'RateLimited'],
  },
  {
    id: 'kvSchemas',
    can: 'kv/read',
    method: 'get',
    path: `${base}/schemas`,
    tag: 'kv',
    summary: "A namespace's schemas",
    params: nsParams,
    ok: {
      200: {
        description: 'by version',
        body: {
          json: z.object({
            items: z.array(
              z.object({ version: uint, status: z.string(), schema: json, createdAt: epochMs }),
            ),
          }),
        },
      },
    },
    errors: COMMON,
  },
  {
    id: 'kvUsage',
    can: 'kv/read',
    method: 'get',
    path: '/v1/:space/kv/:install/usage',
    tag: 'kv',
    summary: "An install's usage and limits",
    params: installParams,
    ok: { 200: { description: 'usage', body: { json: kvUsage } } },
    errors: COMMON,
  },
];

import type { JsonValue } from '../core/json.js';
import type { KvSchemaStatus } from '../storage/kv-types.js';
import type { KvPut } from './kv-rules.js';
import type { KvService } from './kv-service.js';

/**
 * `cairn.kv(space)`: the KV operations of SPEC §12 for an embedding app,
 * bound to one space — the same rules, limits and durability as the HTTP
 * routes (no auth: the app is the operator of its own process).
 */
export function kvOfSpace(kv: KvService, space: string) {
  return {
    get: (install: string, ns: string, key: string, ifRevision?: number) =>
      kv.get(space, install, ns, key, ifRevision),
    put: (install: string, ns: string, put: KvPut) => kv.put(space, install, ns, put),
    putMany: (install: string, ns: string, puts: KvPut[]) => kv.putMany(space, install, ns, puts),
    delete: (install: string, ns: string, key: string, ifRevision?: number) =>
      kv.delete(space, install, ns, key, ifRevision),
    list: (
      install: string,
      ns: string,
      q: {
        prefix?: string;
        cursor?: string;
        limit?: number;
        values?: boolean;
        metadata?: boolean;
      } = {},
    ) =>
      kv.list(space, install, ns, {
        prefix: q.prefix ?? '',
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        limit: q.limit ?? 25,
        values: q.values ?? false,
        metadata: q.metadata ?? false,
      }),
    putSchema: (
      install: string,
      ns: string,
      version: number,
      schema: JsonValue,
      status: KvSchemaStatus,
    ) => kv.putSchema(space, install, ns, version, schema, status),
    schemas: (install: string, ns: string) => kv.schemas(space, install, ns),
    usage: (install: string) => kv.usage(space, install),
  };
}

export type KvSpace = ReturnType<typeof kvOfSpace>;

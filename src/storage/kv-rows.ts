import type {
  KvNamespaceRow,
  KvRecordRow,
  KvRemoved,
  KvSchemaRow,
  KvSchemaStatus,
  KvUsageRow,
} from './kv-types.js';
import type { Row } from './row-mappers.js';

/*
 * What both backends' KV ops share: row mapping (both schemas use the same
 * column names) and where a listing's key range starts and ends. Integers go
 * through Number(): PostgreSQL's BIGINT and count(*) arrive as numbers from
 * the backend's pool, but as strings on a client without its type parser.
 */

export function toKvRecord(r: Row): KvRecordRow {
  return {
    namespace: r.namespace as string,
    key: r.key as string,
    value: r.value as string,
    metadata: r.metadata as string,
    revision: Number(r.revision),
    ttlExpiresAt:
      r.ttl_expires_at === null || r.ttl_expires_at === undefined ? null : Number(r.ttl_expires_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    bytes: Number(r.bytes),
  };
}

/** A `kv_installs` row; all zero when there is none. */
export function toKvUsage(r: Row | undefined): KvUsageRow {
  return {
    bytesUsed: Number(r?.bytes_used ?? 0),
    keys: Number(r?.keys ?? 0),
    namespaces: Number(r?.namespaces ?? 0),
  };
}

export function toKvNamespace(r: Row | undefined): KvNamespaceRow | undefined {
  if (!r) return undefined;
  return { keys: Number(r.keys), revisionFloor: Number(r.revision_floor) };
}

export function toKvSchema(r: Row): KvSchemaRow {
  return {
    version: Number(r.version),
    status: r.status as KvSchemaStatus,
    schema: r.schema as string,
    createdAt: Number(r.created_at),
  };
}

export function toKvRemoved(r: Row): KvRemoved {
  return {
    namespace: r.namespace as string,
    key: r.key as string,
    revision: Number(r.revision),
    bytes: Number(r.bytes),
  };
}

/**
 * The key range of a listing (`KvReadOps.list`), in the byte order of UTF-8
 * (both schemas compare keys that way): keys from `from` (itself included
 * only if `inclusive`) up to `to` (excluded; null: to the end of the
 * namespace). The keys that start with a prefix are exactly the range
 * [prefix, prefixEnd(prefix)), so the primary key serves the listing and
 * stops where the prefix's run ends; no LIKE anywhere, so `%`, `_` and `\`
 * are ordinary characters. The cursor (`afterKey`) moves the start when it is
 * inside or past the prefix's run. Compared as UTF-8 bytes, as the database
 * does (JavaScript's `<` compares UTF-16 units, which orders some characters
 * differently). Undefined when no key can start with `prefix`.
 */
export function kvListRange(
  prefix: string,
  afterKey: string | null,
): { from: string; inclusive: boolean; to: string | null } | undefined {
  // A lone surrogate has no UTF-8 form (drivers send U+FFFD), so no stored key contains one.
  if (LONE_SURROGATE.test(prefix)) return undefined;
  const to = prefixEnd(prefix);
  if (afterKey !== null && Buffer.compare(utf8(afterKey), utf8(prefix)) >= 0) {
    return { from: afterKey, inclusive: false, to };
  }
  return { from: prefix, inclusive: true, to };
}

/**
 * The smallest string above every string that starts with `prefix`, in
 * UTF-8 byte order (= code point order): the prefix with its last code point
 * incremented, dropping trailing U+10FFFF first; null when there is none
 * (the empty prefix, or only U+10FFFF). Between U+D7FF and U+E000 lie only
 * surrogates, which no stored key contains, so U+D7FF is followed by U+E000.
 */
export function prefixEnd(prefix: string): string | null {
  const points = Array.from(prefix, (c) => c.codePointAt(0) as number);
  while (points.length > 0) {
    const last = points.pop() as number;
    if (last < 0x10ffff) {
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return null;
}

const LONE_SURROGATE = /\p{Cs}/u;

function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

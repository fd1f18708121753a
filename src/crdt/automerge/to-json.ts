import * as Automerge from '@automerge/automerge';
import type { JsonValue } from '../../core/json.js';
import type { AutomergeDoc } from './automerge-doc.js';

/**
 * The JSON form of a document (SPEC §3 `value`). Text becomes a string,
 * counters numbers, dates ISO-8601 strings, bytes base64 strings.
 */
export function docToJson(doc: AutomergeDoc): JsonValue {
  return toJson(Automerge.toJS(doc));
}

function toJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(toJson);
  if (typeof v === 'object') {
    // Counter and ImmutableString have a toJSON of their own.
    const withToJson = v as { toJSON?: () => unknown };
    if (typeof withToJson.toJSON === 'function') return toJson(withToJson.toJSON());
    // Null-prototype objects: a document key named "__proto__" stays a plain key.
    const out: { [k: string]: JsonValue } = Object.create(null);
    for (const [k, val] of Object.entries(v)) out[k] = toJson(val);
    return out;
  }
  return null;
}

import * as Automerge from '@automerge/automerge';
import type { JsonValue } from '../../core/json.js';
import type { AutomergeDoc } from './automerge-doc.js';

/**
 * The JSON form of a document (SPEC §3 `value`). Text becomes a string,
 * counters numbers, dates ISO-8601 strings, bytes base64 strings. Any depth:
 * a document nested deeper than the JS stack allows (a crafted change can
 * nest 100,000 maps) is converted without recursion.
 */
export function docToJson(doc: AutomergeDoc): JsonValue {
  const js: unknown = Automerge.toJS(doc);
  try {
    return toJson(js);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return toJsonIteratively(js);
  }
}

/** A value that is not a container, converted; `undefined` for arrays and plain objects. */
function scalar(v: unknown): JsonValue | undefined {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return undefined;
  if (typeof v === 'object') {
    // Counter and ImmutableString have a toJSON of their own.
    const withToJson = v as { toJSON?: () => unknown };
    if (typeof withToJson.toJSON === 'function') return scalar(withToJson.toJSON()) ?? null;
    return undefined;
  }
  return null;
}

function toJson(v: unknown): JsonValue {
  const s = scalar(v);
  if (s !== undefined) return s;
  if (Array.isArray(v)) return v.map(toJson);
  // Null-prototype objects: a document key named "__proto__" stays a plain key.
  const out: { [k: string]: JsonValue } = Object.create(null);
  for (const [k, val] of Object.entries(v as object)) out[k] = toJson(val);
  return out;
}

/** The same conversion with an explicit stack instead of recursion. */
function toJsonIteratively(root: unknown): JsonValue {
  const box: { [k: string]: JsonValue } = Object.create(null);
  const stack: {
    src: unknown;
    dst: { [k: string]: JsonValue } | JsonValue[];
    key: string | number;
  }[] = [{ src: root, dst: box, key: 'v' }];
  for (let job = stack.pop(); job; job = stack.pop()) {
    const { src, dst, key } = job;
    const s = scalar(src);
    let made: JsonValue;
    if (s !== undefined) made = s;
    else if (Array.isArray(src)) {
      const arr: JsonValue[] = new Array<JsonValue>(src.length).fill(null);
      src.forEach((item, i) => stack.push({ src: item, dst: arr, key: i }));
      made = arr;
    } else {
      const obj: { [k: string]: JsonValue } = Object.create(null);
      for (const [k, val] of Object.entries(src as object))
        stack.push({ src: val, dst: obj, key: k });
      made = obj;
    }
    (dst as Record<string | number, JsonValue>)[key] = made;
  }
  return box.v as JsonValue;
}

import type { JsonValue } from '../core/json.js';

/**
 * Parses `paths=a,b/c`: slash-separated keys from the root, `~1` for a `/`
 * inside a key and `~0` for `~` (as in JSON Pointer).
 */
export function parsePaths(spec: string): string[][] {
  return spec
    .split(',')
    .filter((p) => p.length > 0)
    .map((p) => p.split('/').map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~')));
}

/**
 * Keeps only the given subtrees, nested as in the document. Missing paths are
 * omitted. A path through an array keeps an array whose unselected positions
 * before the selected index are null.
 */
export function projectPaths(value: JsonValue, paths: readonly string[][]): JsonValue {
  let out: JsonValue = Array.isArray(value) ? [] : Object.create(null);
  for (const path of paths) {
    const found = lookup(value, path);
    if (found === undefined) continue;
    out = place(out, value, path, found);
  }
  return out;
}

function lookup(value: JsonValue, path: readonly string[]): JsonValue | undefined {
  let cur: JsonValue | undefined = value;
  for (const key of path) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(key)) return undefined;
      cur = cur[Number(key)];
    } else if (cur !== null && typeof cur === 'object') {
      cur = Object.hasOwn(cur, key) ? cur[key] : undefined;
    } else {
      return undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

function place(
  target: JsonValue,
  source: JsonValue,
  path: readonly string[],
  leaf: JsonValue,
): JsonValue {
  if (path.length === 0) return leaf;
  const [key, ...rest] = path as [string, ...string[]];
  if (Array.isArray(source)) {
    const arr: JsonValue[] = Array.isArray(target) ? target : [];
    const i = Number(key);
    while (arr.length <= i) arr.push(null);
    arr[i] = place(arr[i] ?? null, source[i] as JsonValue, rest, leaf);
    return arr;
  }
  const obj = (
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? target
      : Object.create(null)
  ) as { [k: string]: JsonValue };
  const src = (source as { [k: string]: JsonValue })[key] as JsonValue;
  const existing = Object.hasOwn(obj, key) ? (obj[key] as JsonValue) : null;
  obj[key] = place(rest.length === 0 ? null : existing, src, rest, leaf);
  return obj;
}

import * as Automerge from '@automerge/automerge';
import type { JsonValue } from '../../core/json.js';
import { docToJson } from './to-json.js';
import type { AutomergeDoc } from './automerge-doc.js';

/** A key both sides set differently: Automerge keeps `values[0]`, the rest lost. */
export interface MergeConflict {
  path: (string | number)[];
  values: JsonValue[];
}

/** Conflicts walked at most this deep / this many (a report, not a full diff). */
const MAX_DEPTH = 64;
const MAX_CONFLICTS = 1000;

/**
 * Keys of `after` that hold several concurrent values and did not already in
 * `before`: the conflicts a merge introduced.
 */
export function newConflicts(before: AutomergeDoc, after: AutomergeDoc): MergeConflict[] {
  const old = new Set(collect(before).map((c) => JSON.stringify(c.path)));
  return collect(after).filter((c) => !old.has(JSON.stringify(c.path)));
}

function collect(doc: AutomergeDoc): MergeConflict[] {
  const out: MergeConflict[] = [];
  const walk = (obj: unknown, path: (string | number)[]) => {
    if (out.length >= MAX_CONFLICTS || path.length > MAX_DEPTH) return;
    if (obj === null || typeof obj !== 'object') return;
    const keys: (string | number)[] = Array.isArray(obj) ? obj.map((_, i) => i) : Object.keys(obj);
    for (const key of keys) {
      const conflicts = Automerge.getConflicts(obj as Automerge.Doc<unknown>, key as never);
      if (conflicts && Object.keys(conflicts).length > 1) {
        const winner = (obj as Record<string | number, unknown>)[key];
        const values = Object.values(conflicts).map(toJson);
        const first = toJson(winner);
        // Winner first, then the values Automerge did not pick.
        const rest = values.filter((v) => JSON.stringify(v) !== JSON.stringify(first));
        // Both sides setting the same value is no conflict.
        if (rest.length > 0) out.push({ path: [...path, key], values: [first, ...rest] });
      }
      const child = (obj as Record<string | number, unknown>)[key];
      if (child !== null && typeof child === 'object' && !(child instanceof Uint8Array))
        walk(child, [...path, key]);
    }
  };
  walk(doc, []);
  return out;
}

function toJson(v: unknown): JsonValue {
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) {
    try {
      return docToJson(v as AutomergeDoc);
    } catch {
      return JSON.parse(JSON.stringify(v)) as JsonValue;
    }
  }
  return JSON.parse(JSON.stringify(v ?? null)) as JsonValue;
}

import * as Y from 'yjs';
import { CairnError } from '../../core/errors.js';
import type { JsonValue } from '../../core/json.js';

/** Root types a caller may name (SPEC §11 `roots=name:type`). */
export const ROOT_TYPES = ['text', 'map', 'array', 'xml'] as const;
export type RootType = (typeof ROOT_TYPES)[number];

/** Parses `content:text,meta:map` into named root types; bad text is `ValidationError`. */
export function parseRoots(text: string): { name: string; type: RootType }[] {
  const roots = text.split(',').map((part) => {
    const at = part.lastIndexOf(':');
    const name = part.slice(0, at);
    const type = part.slice(at + 1) as RootType;
    if (at < 1 || !ROOT_TYPES.includes(type)) {
      throw new CairnError(
        'ValidationError',
        `roots: "${part}" is not name:type with a type of ${ROOT_TYPES.join(', ')}`,
      );
    }
    return { name, type };
  });
  if (new Set(roots.map((r) => r.name)).size !== roots.length) {
    throw new CairnError('ValidationError', 'roots: a root is named twice');
  }
  return roots;
}

/**
 * The named roots as JSON. Yjs does not know a root's type until asked, so
 * the caller names it; asking for a root as the wrong type is refused by
 * Yjs (`ValidationError`).
 */
export function rootsToJson(
  doc: Y.Doc,
  roots: readonly { name: string; type: RootType }[],
): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const { name, type } of roots) {
    try {
      out[name] = rootJson(doc, name, type);
    } catch (err) {
      throw new CairnError('ValidationError', `root ${name} is not a ${type}`, {}, { cause: err });
    }
  }
  return out;
}

function rootJson(doc: Y.Doc, name: string, type: RootType): JsonValue {
  switch (type) {
    case 'text':
      return doc.getText(name).toString();
    case 'map':
      return doc.getMap(name).toJSON() as JsonValue;
    case 'array':
      return doc.getArray(name).toJSON() as JsonValue;
    case 'xml':
      return doc.getXmlFragment(name).toString();
  }
}

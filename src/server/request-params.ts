import type { Context } from 'hono';
import { CairnError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import { nextTurn, SLICE_BODY_CHARS } from './next-turn.js';

/** All single-valued query parameters; a repeated one is a `ValidationError`. */
export function singleQuery(c: Context): Record<string, string> {
  const all = c.req.queries();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) {
    if (v.length > 1)
      throw new CairnError('ValidationError', `query parameter ${k} given more than once`);
    out[k] = v[0] as string;
  }
  return out;
}

/**
 * A JSON body's value; an empty body is `undefined` when `allowEmpty`.
 * `large` is whether the body is big enough to be handled in slices (see
 * next-turn.ts).
 */
export async function parseJsonBody(
  text: string,
  allowEmpty = false,
): Promise<{ json: unknown; large: boolean }> {
  const large = text.length >= SLICE_BODY_CHARS;
  if (allowEmpty && text.trim() === '') return { json: undefined, large };
  if (large) await nextTurn();
  try {
    return { json: JSON.parse(text) as unknown, large };
  } catch {
    throw new CairnError('ValidationError', 'request body is not valid JSON');
  }
}

/** `?limit=` of a paged route: 1..maxPageItems, default defaultPageItems. */
export function pageLimit(query: Record<string, string | undefined>, limits: Limits): number {
  if (query.limit === undefined) return limits.defaultPageItems;
  const n = /^[0-9]{1,6}$/.test(query.limit) ? Number(query.limit) : NaN;
  if (!(n >= 1 && n <= limits.maxPageItems)) {
    throw new CairnError('ValidationError', `limit must be 1-${limits.maxPageItems}`);
  }
  return n;
}

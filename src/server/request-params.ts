import type { Context } from 'hono';
import { CairnError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';

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

/** The JSON body; an empty body is `undefined` when `allowEmpty`. */
export async function readJson(c: Context, allowEmpty = false): Promise<unknown> {
  const text = await c.req.text();
  if (allowEmpty && text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
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

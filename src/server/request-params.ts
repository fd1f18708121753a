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
 * A JSON body nesting deeper than this is refused (`ValidationError`): code
 * that walks a value recursively (JSON.stringify of a KV value) overflows
 * the stack near 4,000 levels, which was a 500.
 */
export const MAX_JSON_DEPTH = 1000;

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
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CairnError('ValidationError', 'request body is not valid JSON');
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new CairnError(
      'ValidationError',
      `request body nests deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  return { json, large };
}

/** Whether valid JSON `text` has arrays/objects more than `max` levels deep (strings skipped). */
function nestsDeeperThan(text: string, max: number): boolean {
  // Deeper than `max` takes more than `max` opening brackets: most bodies skip the scan.
  if (text.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      // A backslash escapes the next character; a quote ends the string.
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
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

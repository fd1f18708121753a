import type { Context } from 'hono';
import { CairnError } from '../core/errors.js';
import { parseBranchName, parseDocId, parseSpaceId } from '../core/ids.js';

/** `:space` of a /v1 route, validated (SPEC §1). */
export function spaceParam(c: Context): string {
  return parseSpaceId(c.req.param('space'));
}

export function docIdParam(c: Context): string {
  return parseDocId(c.req.param('docId'));
}

/** `?branch=`, default main. */
export function branchQuery(c: Context): string {
  return parseBranchName(c.req.query('branch'));
}

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

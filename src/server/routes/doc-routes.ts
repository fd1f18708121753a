import type { Hono } from 'hono';
import { parseBranchName } from '../../core/ids.js';
import { AUTOMERGE_MEDIA_TYPE, routeSpec } from '../../protocol/api.js';
import { parseUint, parseVersionSelector } from '../../protocol/version-selector.js';
import { jsonBody } from '../json-body.js';
import { mountRoute } from '../mount-route.js';
import { pageLimit } from '../request-params.js';
import type { RouteDeps } from './route-deps.js';

/** SPEC §3 reads of one doc: the doc at a version, its heads, its change log. */
export function mountDocRoutes(app: Hono, deps: RouteDeps): void {
  const { read, limits } = deps;

  mountRoute(app, routeSpec('readDoc'), async ({ c, params, query }) => {
    const { space, docId } = params as { space: string; docId: string };
    const branch = parseBranchName(query.branch);
    const selector = parseVersionSelector(query, limits.maxHeadsPerRef);
    if ((c.req.header('accept') ?? '').includes(AUTOMERGE_MEDIA_TYPE)) {
      const v = await read.docBytes(space, docId, branch, selector);
      return c.body(Buffer.from(v.bytes), 200, {
        'content-type': AUTOMERGE_MEDIA_TYPE,
        'x-cairn-seq': String(v.seq),
        'x-cairn-epoch': String(v.epoch),
        'x-cairn-heads': v.heads.join(','),
        'x-cairn-root-ref': v.rootRef,
      });
    }
    return jsonBody(c, await read.doc(space, docId, branch, selector, query.paths));
  });

  mountRoute(app, routeSpec('getHeads'), async ({ c, params, query }) => {
    const { space, docId } = params as { space: string; docId: string };
    return c.json(await read.heads(space, docId, parseBranchName(query.branch)));
  });

  mountRoute(app, routeSpec('listChanges'), async ({ c, params, query }) => {
    const { space, docId } = params as { space: string; docId: string };
    const page = await read.changes(space, docId, parseBranchName(query.branch), {
      fromSeq: parseUint('fromSeq', query.fromSeq ?? '1'),
      ...(query.toSeq !== undefined ? { toSeq: parseUint('toSeq', query.toSeq) } : {}),
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
      limit: pageLimit(query, limits),
    });
    return c.json(page);
  });
}

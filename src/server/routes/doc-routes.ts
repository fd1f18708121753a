import type { Hono } from 'hono';
import { parseUint, parseVersionSelector } from '../../protocol/version-selector.js';
import { branchQuery, docIdParam, pageLimit, singleQuery, spaceParam } from '../request-params.js';
import type { RouteDeps } from './route-deps.js';

export const AUTOMERGE_MEDIA_TYPE = 'application/automerge';

/** SPEC §3 reads of one doc: the doc at a version, its heads, its change log. */
export function mountDocRoutes(app: Hono, deps: RouteDeps): void {
  const { read, limits } = deps;

  app.get('/v1/:space/docs/:docId', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const query = singleQuery(c);
    const branch = branchQuery(c);
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
    return c.json(await read.doc(space, docId, branch, selector, query.paths));
  });

  app.get('/v1/:space/docs/:docId/heads', async (c) => {
    return c.json(await read.heads(spaceParam(c), docIdParam(c), branchQuery(c)));
  });

  app.get('/v1/:space/docs/:docId/changes', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const query = singleQuery(c);
    const page = await read.changes(space, docId, branchQuery(c), {
      fromSeq: parseUint('fromSeq', query.fromSeq ?? '1'),
      ...(query.toSeq !== undefined ? { toSeq: parseUint('toSeq', query.toSeq) } : {}),
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
      limit: pageLimit(query, limits),
    });
    return c.json(page);
  });
}

import type { Hono } from 'hono';
import { CairnError } from '../../core/errors.js';
import { importDoc } from '../../history/import-doc.js';
import { parseMakeSnapshot } from '../../protocol/branch-request.js';
import { parseUint } from '../../protocol/version-selector.js';
import type { SnapshotCreated } from '../../protocol/views.js';
import {
  branchQuery,
  docIdParam,
  pageLimit,
  readJson,
  singleQuery,
  spaceParam,
} from '../request-params.js';
import { AUTOMERGE_MEDIA_TYPE } from './doc-routes.js';
import type { RouteDeps } from './route-deps.js';

/** SPEC §3 history and doc listing, §5 snapshots and import. */
export function mountHistoryRoutes(app: Hono, deps: RouteDeps): void {
  const { read, snapshots, pipeline, limits } = deps;

  app.get('/v1/:space/docs/:docId/history', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const query = singleQuery(c);
    const limit = pageLimit(query, limits);
    return c.json(await read.history(space, docId, branchQuery(c), query.cursor, limit));
  });

  app.get('/v1/:space/docs', async (c) => {
    const space = spaceParam(c);
    const query = singleQuery(c);
    const limit = pageLimit(query, limits);
    return c.json(await read.docs(space, query.prefix ?? '', query.cursor, limit));
  });

  app.post('/v1/:space/docs/:docId/snapshots', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const { branch, seq } = parseMakeSnapshot(await readJson(c, true));
    const meta = await snapshots.makeNow(space, docId, branch, seq);
    const body: SnapshotCreated = {
      snapshotId: String(meta.id),
      seq: meta.seq,
      heads: meta.heads,
      rootRef: meta.rootRef,
      bytes: meta.size,
    };
    return c.json(body, 201);
  });

  app.get('/v1/:space/snapshots/:snapshotId', async (c) => {
    const space = spaceParam(c);
    const text = c.req.param('snapshotId');
    // Snapshot ids are decimal; anything else names no snapshot.
    const id = /^[1-9][0-9]{0,15}$/.test(text) ? parseUint('snapshotId', text) : 0;
    const bytes = await read.snapshotBytes(space, id);
    return c.body(Buffer.from(bytes), 200, { 'content-type': AUTOMERGE_MEDIA_TYPE });
  });

  app.post('/v1/:space/docs/:docId/import', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength === 0)
      throw new CairnError('ValidationError', 'the body must be Automerge document bytes');
    return c.json(await importDoc(pipeline, space, docId, branchQuery(c), bytes));
  });
}

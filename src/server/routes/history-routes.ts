import type { Hono } from 'hono';
import { CairnError } from '../../core/errors.js';
import { isStorableText, parseBranchName } from '../../core/ids.js';
import { AUTOMERGE_MEDIA_TYPE, routeSpec } from '../../protocol/api.js';
import { parseMakeSnapshot } from '../../protocol/branch-request.js';
import { parseUint } from '../../protocol/version-selector.js';
import type { SnapshotCreated } from '../../protocol/views.js';
import { mountRoute } from '../mount-route.js';
import { pageLimit } from '../request-params.js';
import type { RouteDeps } from './route-deps.js';

/** SPEC §3 history and doc listing, §5 snapshots and import. */
export function mountHistoryRoutes(app: Hono, deps: RouteDeps): void {
  const { read, snapshots, imports, limits } = deps;

  mountRoute(app, routeSpec('listHistory'), async ({ c, params, query }) => {
    const { space, docId } = params as { space: string; docId: string };
    const branch = parseBranchName(query.branch);
    return c.json(await read.history(space, docId, branch, query.cursor, pageLimit(query, limits)));
  });

  mountRoute(app, routeSpec('listDocs'), async ({ c, params, query }) => {
    const limit = pageLimit(query, limits);
    const prefix = query.prefix ?? '';
    if (!isStorableText(prefix)) {
      throw new CairnError('ValidationError', 'prefix must not hold control characters');
    }
    return c.json(await read.docs(params.space as string, prefix, query.cursor, limit));
  });

  mountRoute(app, routeSpec('makeSnapshot'), async ({ c, params, body }) => {
    const { space, docId } = params as { space: string; docId: string };
    const { branch, seq } = parseMakeSnapshot(body);
    return c.json(snapshotCreated(await snapshots.makeNow(space, docId, branch, seq)), 201);
  });

  mountRoute(app, routeSpec('getSnapshot'), async ({ c, params }) => {
    const text = params.snapshotId as string;
    // Snapshot ids are decimal; anything else names no snapshot.
    const id = /^[1-9][0-9]{0,15}$/.test(text) ? parseUint('snapshotId', text) : 0;
    const bytes = await read.snapshotBytes(params.space as string, id);
    return c.body(Buffer.from(bytes), 200, { 'content-type': AUTOMERGE_MEDIA_TYPE });
  });

  mountRoute(app, routeSpec('importDoc'), async ({ c, params, query, body }) => {
    const { space, docId } = params as { space: string; docId: string };
    const bytes = body as Uint8Array;
    if (bytes.byteLength === 0)
      throw new CairnError('ValidationError', 'the body must be Automerge document bytes');
    return c.json(await imports.importDoc(space, docId, parseBranchName(query.branch), bytes));
  });
}

/** A snapshot just made, as the API answers it (`POST …/snapshots`, `POST /admin/compact`). */
export function snapshotCreated(meta: {
  id: number;
  seq: number;
  heads: string[];
  rootRef: string;
  size: number;
}): SnapshotCreated {
  return {
    snapshotId: String(meta.id),
    seq: meta.seq,
    heads: meta.heads,
    rootRef: meta.rootRef,
    bytes: meta.size,
  };
}

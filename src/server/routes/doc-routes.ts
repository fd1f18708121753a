import type { Hono } from 'hono';
import { CairnError } from '../../core/errors.js';
import { parsePaths, projectPaths } from '../../crdt/json-value.js';
import { rootRef } from '../../crdt/heads.js';
import { encodeBase64 } from '../../protocol/base64.js';
import { parseUint, parseVersionSelector } from '../../protocol/version-selector.js';
import { commitCovering } from '../../storage/lineage.js';
import { branchQuery, docIdParam, singleQuery, spaceParam } from '../request-params.js';
import type { RouteDeps } from './route-deps.js';

export const AUTOMERGE_MEDIA_TYPE = 'application/automerge';
const DEFAULT_PAGE_ITEMS = 1000;

/** SPEC §3 reads of one doc: the doc at a version, its heads, its change log. */
export function mountDocRoutes(app: Hono, deps: RouteDeps): void {
  const { reader, limits } = deps;

  app.get('/v1/:space/docs/:docId', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const query = singleQuery(c);
    const branch = branchQuery(c);
    const selector = parseVersionSelector(query, limits.maxHeadsPerRef);
    if ((c.req.header('accept') ?? '').includes(AUTOMERGE_MEDIA_TYPE)) {
      const v = await reader.readDocBytes(space, docId, branch, selector);
      return c.body(Buffer.from(v.bytes), 200, {
        'content-type': AUTOMERGE_MEDIA_TYPE,
        'x-cairn-seq': String(v.seq),
        'x-cairn-epoch': String(v.epoch),
        'x-cairn-heads': v.heads.join(','),
        'x-cairn-root-ref': v.rootRef,
      });
    }
    const v = await reader.readDoc(space, docId, branch, selector);
    let value = v.json();
    if (query.paths !== undefined) value = projectPaths(value, parsePaths(query.paths));
    return c.json({
      docId,
      branch,
      seq: v.seq,
      epoch: v.epoch,
      heads: v.heads,
      rootRef: v.rootRef,
      value,
    });
  });

  app.get('/v1/:space/docs/:docId/heads', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const name = branchQuery(c);
    const body = await reader.withSpace(space, async (ops) => {
      const { branch, lineage } = await reader.openBranch(ops, docId, name);
      const epoch =
        branch.lastEpoch || ((await commitCovering(ops, lineage, branch.seq))?.epoch ?? 0);
      const parent =
        branch.parentId === null ? undefined : await ops.getBranchById(branch.parentId);
      return {
        heads: branch.heads,
        seq: branch.seq,
        epoch,
        rootRef: rootRef(branch.heads),
        closed: branch.closed,
        ...(parent ? { parent: parent.name, forkSeq: branch.forkSeq } : {}),
        ...(branch.mergedInto !== null ? { mergedInto: branch.mergedInto } : {}),
      };
    });
    return c.json(body);
  });

  app.get('/v1/:space/docs/:docId/changes', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const query = singleQuery(c);
    const branch = branchQuery(c);
    const fromSeq =
      query.cursor !== undefined
        ? parseCursor(query.cursor)
        : parseUint('fromSeq', query.fromSeq ?? '1');
    const toSeq = query.toSeq !== undefined ? parseUint('toSeq', query.toSeq) : undefined;
    const limit = query.limit !== undefined ? parseUint('limit', query.limit) : DEFAULT_PAGE_ITEMS;
    if (limit < 1 || limit > limits.maxPageItems) {
      throw new CairnError('ValidationError', `limit must be 1-${limits.maxPageItems}`);
    }
    const page = await reader.changes(space, docId, branch, {
      fromSeq,
      ...(toSeq !== undefined ? { toSeq } : {}),
      limit,
    });
    return c.json({
      items: page.items.map((e) => ({
        seq: e.seq,
        epoch: e.epoch,
        hash: e.hash,
        actor: e.actor,
        actorSeq: e.actorSeq,
        deps: e.deps,
        committedAt: e.committedAt,
        bytes: encodeBase64(e.bytes as Uint8Array),
      })),
      ...(page.nextSeq !== undefined ? { nextCursor: `s${page.nextSeq}` } : {}),
    });
  });
}

/** Cursors are opaque to clients; this one is the next seq. */
function parseCursor(cursor: string): number {
  if (!cursor.startsWith('s')) throw new CairnError('ValidationError', 'invalid cursor');
  return parseUint('cursor', cursor.slice(1));
}

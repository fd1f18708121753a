import type { Hono } from 'hono';
import { parseBranchName } from '../../core/ids.js';
import {
  parseCloseBranch,
  parseCreateBranch,
  parseMergeBranch,
} from '../../protocol/branch-request.js';
import { docIdParam, readJson, spaceParam } from '../request-params.js';
import type { RouteDeps } from './route-deps.js';

/** SPEC §4: branches of a doc — create from any point, list, close, server merge. */
export function mountBranchRoutes(app: Hono, deps: RouteDeps): void {
  const { branches, merge, read, limits } = deps;

  app.post('/v1/:space/docs/:docId/branches', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const req = parseCreateBranch(await readJson(c), limits.maxHeadsPerRef);
    return c.json(await branches.create(space, docId, req.name, req.from), 201);
  });

  app.get('/v1/:space/docs/:docId/branches', async (c) => {
    const items = await read.branches(spaceParam(c), docIdParam(c));
    return c.json({ items });
  });

  app.post('/v1/:space/docs/:docId/branches/:name/close', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const name = parseBranchName(c.req.param('name'));
    const { mergedInto } = parseCloseBranch(await readJson(c, true));
    return c.json(await branches.close(space, docId, name, mergedInto));
  });

  app.post('/v1/:space/docs/:docId/branches/:name/merge', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const name = parseBranchName(c.req.param('name'));
    const { into } = parseMergeBranch(await readJson(c));
    return c.json(await merge.merge(space, docId, name, into));
  });
}

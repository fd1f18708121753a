import type { Hono } from 'hono';
import { routeSpec } from '../../protocol/api.js';
import {
  createBranchFrom,
  parseCloseBranch,
  parseMergeBranch,
  type createBranchSchema,
} from '../../protocol/branch-request.js';
import type { z } from 'zod';
import { mountRoute } from '../mount-route.js';
import type { RouteDeps } from './route-deps.js';

type BranchParams = { space: string; docId: string; name: string };

/** SPEC §4: branches of a doc — create from any point, list, close, server merge. */
export function mountBranchRoutes(app: Hono, deps: RouteDeps): void {
  const { branches, merge, read, limits } = deps;

  mountRoute(app, routeSpec('createBranch'), async ({ c, params, body }) => {
    const { space, docId } = params as BranchParams;
    const raw = body as z.output<typeof createBranchSchema>;
    const req = createBranchFrom(raw, limits.maxHeadsPerRef);
    return c.json(await branches.create(space, docId, req.name, req.from), 201);
  });

  mountRoute(app, routeSpec('listBranches'), async ({ c, params }) => {
    const { space, docId } = params as BranchParams;
    return c.json({ items: await read.branches(space, docId) });
  });

  mountRoute(app, routeSpec('closeBranch'), async ({ c, params, body }) => {
    const { space, docId, name } = params as BranchParams;
    const { mergedInto } = parseCloseBranch(body);
    return c.json(await branches.close(space, docId, name, mergedInto));
  });

  mountRoute(app, routeSpec('mergeBranch'), async ({ c, params, body }) => {
    const { space, docId, name } = params as BranchParams;
    const { into } = parseMergeBranch(body);
    return c.json(await merge.merge(space, docId, name, into));
  });
}

import type { Context, Hono } from 'hono';
import { bearerToken } from '../../auth/authorizer.js';
import { CairnError, isCairnError } from '../../core/errors.js';
import { routeSpec } from '../../protocol/api.js';
import { errorResponse } from '../error-response.js';
import { mountRoute } from '../mount-route.js';
import { snapshotCreated } from './history-routes.js';
import type { RouteDeps } from './route-deps.js';

/**
 * The admin routes of SPEC §8. Off unless `CAIRN_ENABLE_ADMIN_ROUTES=1`:
 * then every `/admin/…` path is `404` before its body is read — no work.
 * On, each needs a UCAN granting `storage/admin` over the body's `space`.
 */
export function mountAdminRoutes(app: Hono, deps: RouteDeps): void {
  if (!deps.admin) {
    app.all('/admin/*', (c) =>
      errorResponse(c, new CairnError('NotFound', `no route ${c.req.path}`), deps.logger),
    );
    return;
  }
  const { admin } = deps;
  const allowed = (c: Context, space: string) => {
    const grant = deps.authorizer.grant(bearerToken(c.req.header('authorization')));
    deps.authorizer.require(grant, space, 'storage/admin');
  };
  mountRoute(app, routeSpec('adminCompact'), async ({ c, body }) => {
    const { space, docId, branch, kind } = body as {
      space: string;
      docId: string;
      branch?: string;
      kind?: 'automerge' | 'yjs';
    };
    allowed(c, space);
    const yjs = async () =>
      c.json({ kind: 'yjs' as const, docId, ...(await deps.yjs.hub.compactNow(space, docId)) });
    if (kind === 'yjs') return yjs();
    try {
      return c.json(snapshotCreated(await deps.snapshots.makeNow(space, docId, branch ?? 'main')));
    } catch (err) {
      // No Automerge doc of that id: the Yjs doc of that id, if there is one (SPEC §11).
      if (kind === undefined && isCairnError(err) && err.code === 'DocNotFound') return yjs();
      throw err;
    }
  });
  mountRoute(app, routeSpec('adminRebuildCaches'), async ({ c, body }) => {
    const { space } = body as { space: string };
    allowed(c, space);
    await admin.rebuildCaches(space);
    return c.json({ ok: true as const });
  });
  mountRoute(app, routeSpec('adminCloseConnections'), ({ c, body }) => {
    const { space } = body as { space: string };
    allowed(c, space);
    return c.json({ closed: admin.closeConnections(space) });
  });
}

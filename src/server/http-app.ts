import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { CairnError } from '../core/errors.js';
import { routeSpec } from '../protocol/api.js';
import { errorResponse } from './error-response.js';
import { mountRoute } from './mount-route.js';
import { openApiDocument } from './openapi.js';
import { mountBranchRoutes } from './routes/branch-routes.js';
import { mountDocRoutes } from './routes/doc-routes.js';
import { mountHistoryRoutes } from './routes/history-routes.js';
import type { RouteDeps } from './routes/route-deps.js';
import { mountTxRoutes } from './routes/tx-routes.js';

/** The HTTP API of SPEC §2-§3 and §8 as a fetch-style Hono app. */
export function createHttpApp(deps: RouteDeps, basePath?: string): Hono {
  const app = basePath ? new Hono().basePath(basePath) : new Hono();
  const { logger, limits } = deps;

  app.use(
    '*',
    bodyLimit({
      maxSize: limits.maxRequestBytes,
      onError: (c) => {
        // No `Connection: close`: @hono/node-server drains the unread rest of the body
        // (bounded in time and bytes) before the connection is reused or closed, so a
        // client still uploading gets this answer instead of a reset (measured: with
        // the header, full 16 MiB uploads lost the 413 to EPIPE in 3 of 6 runs).
        return errorResponse(
          c,
          new CairnError('LimitExceeded', `request body is over ${limits.maxRequestBytes} bytes`, {
            limit: 'maxRequestBytes',
          }),
          logger,
        );
      },
    }),
  );

  const openapi = openApiDocument({ version: deps.version, ...(basePath ? { basePath } : {}) });
  mountRoute(app, routeSpec('healthz'), ({ c }) => c.json({ ok: true }));
  mountRoute(app, routeSpec('openapi'), ({ c }) => c.json(openapi));
  mountTxRoutes(app, deps);
  mountHistoryRoutes(app, deps);
  mountDocRoutes(app, deps);
  mountBranchRoutes(app, deps);

  app.notFound((c) =>
    errorResponse(
      c,
      new CairnError('ValidationError', `no route ${c.req.method} ${c.req.path}`),
      logger,
    ),
  );
  app.onError((err, c) => errorResponse(c, err, logger));
  return app;
}

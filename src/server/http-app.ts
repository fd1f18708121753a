import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { CairnError } from '../core/errors.js';
import { errorResponse } from './error-response.js';
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
        // The rest of the body is never read, so this connection cannot carry another request.
        c.header('connection', 'close');
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

  app.get('/healthz', (c) => c.json({ ok: true }));
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

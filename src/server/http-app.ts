import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { CairnError } from '../core/errors.js';
import { routeSpec } from '../protocol/api.js';
import { mountAuthGuard } from './auth-guard.js';
import { errorResponse } from './error-response.js';
import { mountRoute } from './mount-route.js';
import { openApiDocument } from './openapi.js';
import { requestIdMiddleware } from './request-id.js';
import { allowedMethods } from './route-match.js';
import { mountAdminRoutes } from './routes/admin-routes.js';
import { mountBranchRoutes } from './routes/branch-routes.js';
import { mountYjsRoutes } from './routes/yjs-routes.js';
import { mountKvRoutes } from './routes/kv-routes.js';
import { mountDocRoutes } from './routes/doc-routes.js';
import { mountHistoryRoutes } from './routes/history-routes.js';
import { mountLiveRoutes } from './routes/live-routes.js';
import type { RouteDeps } from './routes/route-deps.js';
import { mountTxRoutes } from './routes/tx-routes.js';

/**
 * How much of an upload the server reads and discards after answering it
 * early (`listen` leaves that to Node's HTTP server, which reads the rest of
 * a declared body); an oversize upload with more left than this is answered
 * with `Connection: close` instead.
 */
const SERVER_DRAIN_BYTES = 64 * 1024 * 1024;

/** Headers a browser app may read from answers (CORS). */
const EXPOSED_HEADERS = [
  'X-Request-Id',
  'X-Cairn-Seq',
  'X-Cairn-Epoch',
  'X-Cairn-Heads',
  'X-Cairn-Root-Ref',
];

/** The HTTP API (SPEC §2-§5, §8, §9) as a fetch-style Hono app. */
export function createHttpApp(deps: RouteDeps, basePath?: string): Hono {
  const app = basePath ? new Hono().basePath(basePath) : new Hono();
  const { logger, limits } = deps;

  app.use('*', requestIdMiddleware(logger));
  if (deps.corsOrigins && deps.corsOrigins.length > 0) {
    const origins = deps.corsOrigins;
    app.use(
      '*',
      cors({
        origin: origins.includes('*') ? '*' : [...origins],
        allowHeaders: ['Content-Type', 'Authorization', 'Accept', 'X-Request-Id', 'Last-Event-ID'],
        exposeHeaders: EXPOSED_HEADERS,
        maxAge: 600,
      }),
    );
  }
  app.use('*', async (c, next) => {
    // After close() nothing is served from storage that is gone.
    if (deps.isClosed() && !c.req.path.endsWith('/readyz')) {
      return errorResponse(c, new CairnError('StorageUnavailable', 'the server is closed'), logger);
    }
    await next();
  });
  app.use('*', async (c, next) => {
    // A declared size over the limit is answered before anything touches
    // the body: reading `body` (as bodyLimit does) starts a web stream on the
    // upload that then stalls the server's drain of the rest, and the
    // connection was dropped after a keep-alive answer (regression test in
    // test/e2e/process-behaviour.test.ts).
    const declared = Number(c.req.header('content-length'));
    if (declared > limits.maxRequestBytes && !c.req.header('transfer-encoding')) {
      return tooLarge(c, deps);
    }
    await next();
  });
  // Bodies of unknown size (chunked) are counted as they arrive.
  app.use('*', bodyLimit({ maxSize: limits.maxRequestBytes, onError: (c) => tooLarge(c, deps) }));

  const openapi = openApiDocument({ version: deps.version, ...(basePath ? { basePath } : {}) });
  mountAuthGuard(app, deps.authorizer);
  mountAdminRoutes(app, deps);
  mountRoute(app, routeSpec('healthz'), ({ c }) => c.json({ ok: true }));
  mountRoute(app, routeSpec('openapi'), ({ c }) => c.json(openapi));
  mountRoute(app, routeSpec('readyz'), async ({ c }) => {
    const r = await deps.operations.readiness();
    return c.json(r, r.ready ? 200 : 503);
  });
  mountRoute(app, routeSpec('metrics'), async ({ c }) =>
    c.text(await deps.operations.metrics(), 200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    }),
  );
  mountRoute(app, routeSpec('debug'), async ({ c }) => c.json(await deps.operations.debug()));
  mountTxRoutes(app, deps);
  mountHistoryRoutes(app, deps);
  mountDocRoutes(app, deps);
  mountYjsRoutes(app, deps);
  mountKvRoutes(app, deps);
  mountLiveRoutes(app, deps);
  mountBranchRoutes(app, deps);

  app.notFound((c) => {
    const allowed = allowedMethods(c.req.path, basePath);
    if (allowed.length === 0) {
      return errorResponse(c, new CairnError('NotFound', `no route ${c.req.path}`), logger);
    }
    const res = errorResponse(
      c,
      new CairnError('MethodNotAllowed', `${c.req.method} is not allowed on ${c.req.path}`),
      logger,
    );
    res.headers.set('allow', allowed.join(', '));
    return res;
  });
  app.onError((err, c) => errorResponse(c, err, logger));
  return app;
}

/**
 * `413` for a body over the limit, as soon as that is known. The server
 * drains the rest of an upload it can (keeping the connection usable, so a
 * client still sending gets this answer instead of a reset); when more is
 * left than it drains, or the size is unknown (chunked), the answer says
 * `Connection: close`, which is what then happens.
 */
function tooLarge(c: Context, deps: RouteDeps): Response {
  const { maxRequestBytes } = deps.limits;
  const res = errorResponse(
    c,
    new CairnError('LimitExceeded', `request body is over ${maxRequestBytes} bytes`, {
      limit: 'maxRequestBytes',
    }),
    deps.logger,
  );
  const declared = Number(c.req.header('content-length'));
  const drainable =
    Number.isSafeInteger(declared) && declared <= maxRequestBytes + SERVER_DRAIN_BYTES;
  if (!drainable) res.headers.set('connection', 'close');
  return res;
}

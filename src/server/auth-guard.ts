import type { Context, Hono } from 'hono';
import { bearerToken, type Authorizer, type Grant } from '../auth/authorizer.js';
import { ROUTES, type RouteSpec } from '../protocol/api.js';

/** The grant of each request that passed the guard (handlers read it with `grantOf`). */
const grants = new WeakMap<Request, Grant>();

/** The grant of a request the guard let through. */
export function grantOf(c: Context): Grant | undefined {
  return grants.get(c.req.raw);
}

/**
 * Registers, before any route handler, a check on every route that names an
 * ability: the request's UCAN (`Authorization: Bearer`, or `?token=` on the
 * SSE route, which browsers' EventSource cannot give headers) must be valid
 * (`401`) and grant that ability over the path's space (`403`) — before
 * parameters are validated or storage is touched, so a refusal says nothing
 * about what exists.
 */
export function mountAuthGuard(app: Hono, authorizer: Authorizer): void {
  for (const spec of ROUTES) {
    const can = spec.can;
    // Routes whose space is not in the path (admin routes) check in their handler.
    if (can === null || !spec.path.includes(':space')) continue;
    app.on(spec.method.toUpperCase(), spec.path, async (c, next) => {
      const grant = authorizer.grant(tokenOf(c, spec));
      // KV routes name an install: a capability narrowed to another install does not cover it.
      authorizer.require(grant, c.req.param('space') ?? '', can, c.req.param('install'));
      grants.set(c.req.raw, grant);
      await next();
    });
  }
}

function tokenOf(c: Context, spec: RouteSpec): string | undefined {
  const header = bearerToken(c.req.header('authorization'));
  if (header !== undefined || spec.id !== 'subscribeSse') return header;
  return c.req.query('token');
}

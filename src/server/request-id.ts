import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from '../core/logger.js';

/** A client's own request id is kept if it looks like one (no spaces, no control characters). */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The request id of a request (set by `requestIdMiddleware`). */
export function requestIdOf(c: Context): string {
  return (c.get('requestId' as never) as string | undefined) ?? 'unknown';
}

/**
 * Gives every request an id — the client's `X-Request-Id` if well-formed,
 * else a new UUID — and answers it in `X-Request-Id` on every response, so
 * a client can quote it and logs can be searched by it.
 */
export function requestIdMiddleware(logger?: Logger): MiddlewareHandler {
  return async (c, next) => {
    const sent = c.req.header('x-request-id');
    const id = sent !== undefined && CLIENT_REQUEST_ID.test(sent) ? sent : randomUUID();
    c.set('requestId' as never, id as never);
    const startMs = performance.now();
    await next();
    c.res.headers.set('x-request-id', id);
    // One access line per request, with the id every other line of it carries.
    logger?.info(
      {
        requestId: id,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - startMs) * 10) / 10,
      },
      'request',
    );
  };
}

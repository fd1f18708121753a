import type { Hono } from 'hono';
import { CairnError } from '../../core/errors.js';
import { isBranchName, isDocId } from '../../core/ids.js';
import { SseSession } from '../../live/sse-session.js';
import { routeSpec } from '../../protocol/api.js';
import { parseUint } from '../../protocol/version-selector.js';
import { grantOf } from '../auth-guard.js';
import { mountRoute } from '../mount-route.js';
import type { RouteDeps } from './route-deps.js';

/** `GET /v1/:space/subscribe` (SPEC §6 Server-Sent Events). */
export function mountLiveRoutes(app: Hono, deps: RouteDeps): void {
  mountRoute(app, routeSpec('subscribeSse'), ({ c, params, query }) => {
    const branch = query.branch ?? 'main';
    if (!isBranchName(branch)) throw new CairnError('ValidationError', 'branch: not a branch name');
    const docs = query.docs === '*' ? '*' : parseDocs(query.docs ?? '', deps);
    const lastEventId = c.req.header('last-event-id');
    const session = new SseSession(
      {
        spaceId: params.space as string,
        docs,
        branch,
        ...(lastEventId !== undefined
          ? { lastEventId: parseUint('Last-Event-ID', lastEventId) }
          : {}),
        expiresAtMs: (grantOf(c)?.expiresAtMs ?? Infinity) + deps.authorizer.skewMs,
      },
      { hub: deps.hub, read: deps.read, limits: deps.limits, logger: deps.logger },
    );
    return new Response(session.stream, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        // Reverse proxies must pass each event through as it comes.
        'x-accel-buffering': 'no',
      },
    });
  });
}

function parseDocs(text: string, deps: RouteDeps): string[] {
  const docs = [...new Set(text.split(','))];
  if (docs.some((d) => !isDocId(d))) {
    throw new CairnError('ValidationError', 'docs: comma-separated doc ids, or *');
  }
  if (docs.length > deps.limits.maxSubscriptionsPerConnection) {
    throw new CairnError('LimitExceeded', 'too many docs in one subscription', {
      limit: 'maxSubscriptionsPerConnection',
    });
  }
  return docs;
}

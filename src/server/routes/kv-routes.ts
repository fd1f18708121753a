import type { Context, Hono } from 'hono';
import { CairnError } from '../../core/errors.js';
import type { JsonValue } from '../../core/json.js';
import { routeSpec } from '../../protocol/api.js';
import { parseUint } from '../../protocol/version-selector.js';
import { RateLimitedError } from '../../kv/kv-rate-limit.js';
import type { KvPut } from '../../kv/kv-rules.js';
import { errorResponse } from '../error-response.js';
import { mountRoute } from '../mount-route.js';
import type { RouteDeps } from './route-deps.js';

type Params = { space: string; install: string; namespace: string; key: string; version: string };

/** `?limit=` of a KV list: 1-100, default 25 (more is 400, SPEC §12). */
function listLimit(text: string | undefined): number {
  if (text === undefined) return 25;
  const n = parseUint('limit', text);
  if (n < 1 || n > 100) throw new CairnError('ValidationError', 'limit must be 1-100');
  return n;
}

/** The KV routes of SPEC §12, each behind the install's rate limit (when configured). */
export function mountKvRoutes(app: Hono, deps: RouteDeps): void {
  const { kv } = deps;
  const limited = async (
    c: Context,
    p: Params,
    kind: 'read' | 'write',
    work: () => Promise<Response>,
  ) => {
    try {
      deps.kvRates?.take(p.space, p.install, kind);
    } catch (err) {
      if (!(err instanceof RateLimitedError)) throw err;
      const res = errorResponse(c, err, deps.logger);
      res.headers.set('retry-after', String(err.retryAfterSec));
      return res;
    }
    return work();
  };

  mountRoute(app, routeSpec('kvGet'), ({ c, params, query }) => {
    const p = params as Params;
    return limited(c, p, 'read', async () => {
      const ifRevision =
        query.ifRevision === undefined ? undefined : parseUint('ifRevision', query.ifRevision);
      return c.json(await kv.get(p.space, p.install, p.namespace, p.key, ifRevision));
    });
  });

  mountRoute(app, routeSpec('kvPut'), ({ c, params, body }) => {
    const p = params as Params;
    return limited(c, p, 'write', async () => {
      const done = await kv.put(p.space, p.install, p.namespace, {
        ...(body as Omit<KvPut, 'key'>),
        key: p.key,
      } as KvPut);
      return c.json(done.record, done.created ? 201 : 200);
    });
  });

  mountRoute(app, routeSpec('kvDelete'), ({ c, params, query }) => {
    const p = params as Params;
    return limited(c, p, 'write', async () => {
      const ifRevision =
        query.ifRevision === undefined ? undefined : parseUint('ifRevision', query.ifRevision);
      return c.json({
        deleted: await kv.delete(p.space, p.install, p.namespace, p.key, ifRevision),
      });
    });
  });

  mountRoute(app, routeSpec('kvBulkPut'), ({ c, params, body }) => {
    const p = params as Params;
    return limited(c, p, 'write', async () => {
      const done = await kv.putMany(
        p.space,
        p.install,
        p.namespace,
        (body as { items: KvPut[] }).items,
      );
      return c.json({ items: done.map((d) => d.record) });
    });
  });

  mountRoute(app, routeSpec('kvList'), ({ c, params, query }) => {
    const p = params as Params;
    return limited(c, p, 'read', async () =>
      c.json(
        await kv.list(p.space, p.install, p.namespace, {
          prefix: query.prefix ?? '',
          ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
          limit: listLimit(query.limit),
          values: query.includeValues === 'true',
          metadata: query.includeMetadata === 'true',
        }),
      ),
    );
  });

  mountRoute(app, routeSpec('kvPutSchema'), ({ c, params, body }) => {
    const p = params as Params;
    return limited(c, p, 'write', async () => {
      const version = parseUint('version', p.version);
      const { schema, status } = body as {
        schema: JsonValue;
        status: 'draft' | 'active' | 'deprecated';
      };
      if (version < 1) throw new CairnError('ValidationError', 'version must be at least 1');
      return c.json(await kv.putSchema(p.space, p.install, p.namespace, version, schema, status));
    });
  });

  mountRoute(app, routeSpec('kvSchemas'), ({ c, params }) => {
    const p = params as Params;
    return limited(c, p, 'read', async () =>
      c.json(await kv.schemas(p.space, p.install, p.namespace)),
    );
  });

  mountRoute(app, routeSpec('kvUsage'), ({ c, params }) => {
    const p = params as Params;
    return limited(c, p, 'read', async () => c.json(await kv.usage(p.space, p.install)));
  });
}

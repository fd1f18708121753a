import type { Hono } from 'hono';
import { CairnError } from '../../core/errors.js';
import { parseRoots } from '../../crdt/yjs/yjs-json.js';
import { routeSpec } from '../../protocol/api.js';
import { decodeCursor, encodeCursor, isEpochCursor } from '../../protocol/cursor.js';
import { parseUint, parseVersionSelector } from '../../protocol/version-selector.js';
import { YJS_MEDIA_TYPE } from '../../protocol/yjs-routes.js';
import type { YjsVersion } from '../../yjs/yjs-read.js';
import { mountRoute } from '../mount-route.js';
import { pageLimit } from '../request-params.js';
import type { RouteDeps } from './route-deps.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** `epoch=` or `at=` (at most one) of a Yjs read. */
function versionOf(query: Record<string, string | undefined>): YjsVersion {
  const selector = parseVersionSelector(query, 0);
  if (selector.kind === 'epoch') return { epoch: selector.epoch };
  if (selector.kind === 'at') return { atMs: selector.ms };
  return {};
}

/** The HTTP routes of Yjs documents (SPEC §11). */
export function mountYjsRoutes(app: Hono, deps: RouteDeps): void {
  const { hub, reader } = deps.yjs;

  mountRoute(app, routeSpec('postYjsUpdate'), async ({ c, params, body }) => {
    const { space, docId } = params as { space: string; docId: string };
    const bytes = body as Uint8Array;
    if (bytes.byteLength === 0)
      throw new CairnError('InvalidChange', 'the body is not a Yjs update');
    const out = await hub.postUpdate(space, docId, bytes);
    const stateVector = b64(out.stateVector);
    if (out.applied === 0) {
      return c.json({
        ok: true as const,
        docId,
        applied: 0 as const,
        epoch: out.epoch,
        stateVector,
      });
    }
    const { epoch, committedAt, txHash } = out.slot;
    return c.json({
      ok: true as const,
      docId,
      applied: 1 as const,
      epoch,
      committedAt,
      txHash,
      stateVector,
    });
  });

  mountRoute(app, routeSpec('getYjsDebug'), async ({ c, params }) => {
    const { space, docId } = params as { space: string; docId: string };
    return c.json(await hub.docDebug(space, docId));
  });

  mountRoute(app, routeSpec('getYjsState'), async ({ c, params, query }) => {
    const { space, docId } = params as { space: string; docId: string };
    const v = await reader.state(space, docId, versionOf(query));
    return c.body(Buffer.from(v.update), 200, {
      'content-type': YJS_MEDIA_TYPE,
      'x-cairn-epoch': String(v.epoch),
      'x-cairn-state-vector': b64(v.stateVector),
    });
  });

  mountRoute(app, routeSpec('getYjsJson'), async ({ c, params, query }) => {
    const { space, docId } = params as { space: string; docId: string };
    const roots = parseRoots(query.roots as string);
    return c.json(await reader.json(space, docId, roots, versionOf(query)));
  });

  mountRoute(app, routeSpec('getYjsUpdates'), async ({ c, params, query }) => {
    const { space, docId } = params as { space: string; docId: string };
    const from = query.cursor
      ? decodeCursor(query.cursor, isEpochCursor).e
      : parseUint('fromEpoch', query.fromEpoch ?? '0');
    const { items, more } = await reader.feed(space, docId, from, pageLimit(query, deps.limits));
    const last = items.at(-1);
    return c.json({
      items: items.map((i) => ({
        epoch: i.epoch,
        committedAt: i.committedAt,
        ...(i.kind === 'checkpoint' ? { kind: 'checkpoint' as const } : {}),
        bytes: b64(i.bytes),
      })),
      ...(more && last ? { nextCursor: encodeCursor({ e: last.epoch }) } : {}),
    });
  });

  mountRoute(app, routeSpec('getYjsHistory'), async ({ c, params, query }) => {
    const { space, docId } = params as { space: string; docId: string };
    const before = query.cursor
      ? decodeCursor(query.cursor, isEpochCursor).e
      : Number.MAX_SAFE_INTEGER;
    const limit = pageLimit(query, deps.limits);
    const items = await reader.history(space, docId, before, limit);
    const last = items.at(-1);
    return c.json({
      items,
      ...(items.length === limit && last ? { nextCursor: encodeCursor({ e: last.epoch }) } : {}),
    });
  });
}

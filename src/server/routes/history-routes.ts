import type { Hono } from 'hono';
import { CairnError } from '../../core/errors.js';
import { importDoc } from '../../history/import-doc.js';
import { parseMakeSnapshot } from '../../protocol/branch-request.js';
import { parseUint } from '../../protocol/version-selector.js';
import { docsPage, historyPage } from '../../storage/history-feed.js';
import {
  branchQuery,
  decodeCursor,
  docIdParam,
  encodeCursor,
  pageLimit,
  readJson,
  singleQuery,
  spaceParam,
} from '../request-params.js';
import { AUTOMERGE_MEDIA_TYPE } from './doc-routes.js';
import type { RouteDeps } from './route-deps.js';

const DEFAULT_PAGE_ITEMS = 100;
const isSeqCursor = (v: unknown): v is { s: number } =>
  typeof v === 'object' && v !== null && Number.isSafeInteger((v as { s: unknown }).s);
const isDocCursor = (v: unknown): v is { d: string } =>
  typeof v === 'object' && v !== null && typeof (v as { d: unknown }).d === 'string';

/** SPEC §3 history and doc listing, §5 snapshots and import. */
export function mountHistoryRoutes(app: Hono, deps: RouteDeps): void {
  const { reader, snapshots, pipeline, limits } = deps;

  app.get('/v1/:space/docs/:docId/history', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const query = singleQuery(c);
    const limit = pageLimit(query, DEFAULT_PAGE_ITEMS, limits.maxPageItems);
    const before =
      query.cursor === undefined
        ? Number.MAX_SAFE_INTEGER
        : decodeCursor(query.cursor, isSeqCursor).s;
    const page = await reader.withSpace(space, async (ops) => {
      const { branch } = await reader.openBranch(ops, docId, branchQuery(c));
      return historyPage(ops, branch, before, limit);
    });
    return c.json({
      items: page.items,
      ...(page.nextBeforeSeq !== undefined
        ? { nextCursor: encodeCursor({ s: page.nextBeforeSeq }) }
        : {}),
    });
  });

  app.get('/v1/:space/docs', async (c) => {
    const space = spaceParam(c);
    const query = singleQuery(c);
    const limit = pageLimit(query, DEFAULT_PAGE_ITEMS, limits.maxPageItems);
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isDocCursor).d;
    let page;
    try {
      page = await reader.withSpace(space, (ops) =>
        docsPage(ops, query.prefix ?? '', after, limit),
      );
    } catch (err) {
      // An unknown space simply has no docs.
      if (err instanceof CairnError && err.code === 'DocNotFound') return c.json({ items: [] });
      throw err;
    }
    return c.json({
      items: page.items,
      ...(page.nextAfter !== undefined ? { nextCursor: encodeCursor({ d: page.nextAfter }) } : {}),
    });
  });

  app.post('/v1/:space/docs/:docId/snapshots', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const { branch, seq } = parseMakeSnapshot(await readJson(c, true));
    const meta = await snapshots.makeNow(space, docId, branch, seq);
    return c.json(
      {
        snapshotId: String(meta.id),
        seq: meta.seq,
        heads: meta.heads,
        rootRef: meta.rootRef,
        bytes: meta.size,
      },
      201,
    );
  });

  app.get('/v1/:space/snapshots/:snapshotId', async (c) => {
    const space = spaceParam(c);
    const text = c.req.param('snapshotId');
    const id = /^[1-9][0-9]{0,15}$/.test(text) ? parseUint('snapshotId', text) : 0;
    const bytes = await reader
      .withSpace(space, (ops) => ops.readSnapshotBytes(id))
      .catch((err: unknown) => {
        if (err instanceof CairnError && err.code === 'DocNotFound') return undefined;
        throw err;
      });
    if (!bytes) throw new CairnError('SnapshotNotFound', `no snapshot ${text}`);
    return c.body(Buffer.from(bytes), 200, { 'content-type': AUTOMERGE_MEDIA_TYPE });
  });

  app.post('/v1/:space/docs/:docId/import', async (c) => {
    const space = spaceParam(c);
    const docId = docIdParam(c);
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength === 0)
      throw new CairnError('ValidationError', 'the body must be Automerge document bytes');
    return c.json(await importDoc(pipeline, space, docId, branchQuery(c), bytes));
  });
}

import type { Hono } from 'hono';
import { parseTxRequest } from '../../protocol/tx-request.js';
import { parseUint } from '../../protocol/version-selector.js';
import { ERROR_STATUS } from '../error-status.js';
import { readJson, spaceParam } from '../request-params.js';
import type { RouteDeps } from './route-deps.js';

/** `POST /v1/:space/tx` and `GET /v1/:space/tx/:epoch` (SPEC §2, §3). */
export function mountTxRoutes(app: Hono, deps: RouteDeps): void {
  app.post('/v1/:space/tx', async (c) => {
    const space = spaceParam(c);
    const request = parseTxRequest(await readJson(c), deps.limits);
    const outcome = await deps.pipeline.commit(space, request);
    return c.json(outcome, outcome.ok ? 200 : ERROR_STATUS[outcome.error.code]);
  });

  app.get('/v1/:space/tx/:epoch', async (c) => {
    const space = spaceParam(c);
    const epoch = parseUint('epoch', c.req.param('epoch'));
    return c.json(await deps.read.txRecord(space, epoch));
  });
}

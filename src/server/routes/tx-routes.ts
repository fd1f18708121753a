import type { Hono } from 'hono';
import { routeSpec } from '../../protocol/api.js';
import { txRequestFrom, type RawTx, type TxRequest } from '../../protocol/tx-request.js';
import { parseUint } from '../../protocol/version-selector.js';
import { logServerError } from '../error-response.js';
import { requireTxBinding } from '../../auth/tx-binding.js';
import { grantOf } from '../auth-guard.js';
import { ERROR_STATUS } from '../error-status.js';
import { requestIdOf } from '../request-id.js';
import { mountRoute } from '../mount-route.js';
import { nextTurn } from '../next-turn.js';
import type { RouteDeps } from './route-deps.js';

/** `POST /v1/:space/tx` and `GET /v1/:space/tx/:epoch` (SPEC §2, §3). */
export function mountTxRoutes(app: Hono, deps: RouteDeps): void {
  const parseBigBody = (bytes: Uint8Array) => deps.txBodies.parse(bytes, deps.limits);
  mountRoute(
    app,
    routeSpec('commitTx'),
    async ({ c, params, body, largeBody, preparsed }) => {
      const request = preparsed ? (body as TxRequest) : txRequestFrom(body as RawTx, deps.limits);
      if (largeBody) await nextTurn(); // the body is decoded; the change headers are next
      // A token bound to one transaction's changes authorizes only those.
      requireTxBinding(grantOf(c), request.writes);
      // The tx record names who committed it: the token's issuer.
      const did = grantOf(c)?.did;
      const outcome = await deps.pipeline.commit(params.space as string, request, did);
      if (outcome.ok) return c.json(outcome);
      const status = ERROR_STATUS[outcome.error.code];
      const requestId = requestIdOf(c);
      logServerError(deps.logger, status, requestId, c, undefined, outcome.error.message);
      const error =
        outcome.error.code === 'Internal'
          ? { code: 'Internal' as const, message: 'internal error' }
          : outcome.error;
      return c.json({ ...outcome, error: { ...error, requestId } }, status);
    },
    { parseBigBody },
  );

  mountRoute(app, routeSpec('getTxRecord'), async ({ c, params }) => {
    const epoch = parseUint('epoch', params.epoch as string);
    return c.json(await deps.read.txRecord(params.space as string, epoch));
  });
}

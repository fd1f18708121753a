import type { Hono } from 'hono';
import { encodeBase64Url } from '../../protocol/base64.js';
import type { TxRecordView } from '../../protocol/tx-record.js';
import { parseTxRequest } from '../../protocol/tx-request.js';
import { parseUint } from '../../protocol/version-selector.js';
import { decodeTxBody } from '../../pipeline/tx-chain.js';
import { ERROR_STATUS } from '../error-status.js';
import { readJson, spaceParam } from '../request-params.js';
import type { RouteDeps } from './route-deps.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

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
    const row = await deps.reader.txRecord(space, epoch);
    const body = decodeTxBody(row.body);
    const view: TxRecordView = {
      epoch: row.epoch,
      committedAt: row.committedAt,
      txHash: hex(row.txHash),
      prevTxHash: hex(row.prevTxHash),
      bodyHash: hex(row.bodyHash),
      serverSig: encodeBase64Url(row.serverSig),
      serverDid: row.serverDid,
      ...(body.clientDid ? { clientDid: body.clientDid } : {}),
      space: body.space,
      writes: body.writes,
    };
    return c.json(view);
  });
}

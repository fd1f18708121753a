import type { Limits } from '../core/limits.js';
import { parseTxRequest, type TxRequest } from '../protocol/tx-request.js';

/*
 * The job module of server/tx-body-parser.ts, run on a worker thread: a big
 * transaction body is decoded, parsed, validated and its changes base64-
 * decoded here instead of on the event loop. Its errors (ValidationError,
 * LimitExceeded) keep their code and details across the thread boundary.
 */

export interface TxBodyJob {
  /** The body as received (UTF-8 JSON). */
  body: Uint8Array;
  limits: Limits;
}

const UTF8 = new TextDecoder('utf-8', { fatal: false });

export function handle(job: TxBodyJob): Promise<{ result: TxRequest; transfer: ArrayBuffer[] }> {
  let json: unknown;
  try {
    json = JSON.parse(UTF8.decode(job.body));
  } catch {
    return Promise.reject(
      Object.assign(new Error('request body is not valid JSON'), { code: 'ValidationError' }),
    );
  }
  const request = parseTxRequest(json, job.limits);
  // Each decoded change owns its buffer: hand them over instead of copying.
  const transfer = request.writes.flatMap((w) => w.changes.map((c) => c.buffer as ArrayBuffer));
  return Promise.resolve({ result: request, transfer });
}

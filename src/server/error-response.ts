import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { CairnError, isCairnError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { ERROR_STATUS } from './error-status.js';

/**
 * Turns anything thrown by a handler into the SPEC §9 envelope. Expected
 * failures keep their code; anything else is `Internal`, logged with a
 * request id that the client also gets — never a stack trace.
 */
export function errorResponse(c: Context, err: unknown, logger: Logger): Response {
  let error: CairnError;
  if (isCairnError(err)) {
    error = err;
  } else {
    const requestId = randomUUID();
    logger.error({ err, requestId, method: c.req.method, path: c.req.path }, 'internal error');
    error = new CairnError('Internal', `internal error (request ${requestId})`);
  }
  return c.json({ ok: false, error: error.toJSON() }, ERROR_STATUS[error.code]);
}

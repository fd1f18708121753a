import type { Context } from 'hono';
import { CairnError, isCairnError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { ERROR_STATUS } from './error-status.js';
import { requestIdOf } from './request-id.js';

/**
 * Turns anything thrown by a handler into the SPEC §9 envelope, with the
 * request's id in `error.requestId`. Expected failures keep their code;
 * anything else is `Internal` — never a stack trace to the client. Every 5xx
 * is logged with the request id (and the underlying cause).
 */
export function errorResponse(c: Context, err: unknown, logger: Logger): Response {
  const error = isCairnError(err)
    ? err
    : clientAborted(err)
      ? new CairnError('ValidationError', 'the client aborted the request')
      : new CairnError('Internal', 'internal error', {}, { cause: err });
  const status = ERROR_STATUS[error.code];
  const requestId = requestIdOf(c);
  logServerError(logger, status, requestId, c, error.cause ?? err, error.message);
  // A bug's own message stays in the log: the client learns only the request id.
  const body =
    error.code === 'Internal' ? { code: error.code, message: 'internal error' } : error.toJSON();
  return c.json({ ok: false, error: { ...body, requestId } }, status);
}

/**
 * Node's error for an upload the client cut off (it closed the connection
 * before the declared body came): the client's doing, not a bug — it was
 * logged as a 500 (found by the HTTP fuzzer, test/proof/fuzz-regressions).
 */
function clientAborted(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err as NodeJS.ErrnoException).code === 'ECONNRESET' &&
    err.message === 'aborted'
  );
}

/** Logs an answer with a 5xx status: 500 as an error (a bug), 503 as a warning (degraded). */
export function logServerError(
  logger: Logger,
  status: number,
  requestId: string,
  c: Context,
  err: unknown,
  message: string,
): void {
  if (status < 500) return;
  const fields = { err, requestId, status, method: c.req.method, path: c.req.path };
  if (status === 503) logger.warn(fields, message);
  else logger.error(fields, message);
}

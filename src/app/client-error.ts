import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';

/**
 * Node's HTTP server answers a request its parser refuses (headers over its
 * size limit, a malformed request line or header, conflicting lengths) on
 * its own, with a bare `431`/`400` and no body — no SPEC §9 envelope, no
 * `X-Request-Id` (found by the HTTP fuzzer, test/proof/fuzz-regressions).
 * This listener (`server.on('clientError', …)`) answers those with the
 * envelope: `413 LimitExceeded` for headers over the limit, `400
 * ValidationError` for the rest; the connection is closed either way.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // A reset, a socket that cannot take an answer, or one already sending an
  // answer (an error now would corrupt it; Node's own check): just close.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const overflow = err.code === 'HPE_HEADER_OVERFLOW';
  const requestId = randomUUID();
  const error = overflow
    ? {
        code: 'LimitExceeded',
        message: 'request headers are over the size limit',
        limit: 'maxHeaderBytes',
      }
    : { code: 'ValidationError', message: 'malformed HTTP request' };
  const body = JSON.stringify({ ok: false, error: { ...error, requestId } });
  const status = overflow ? '413 Content Too Large' : '400 Bad Request';
  socket.end(
    `HTTP/1.1 ${status}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/**
 * The `errorHandler` of @hono/node-server: a request whose URL or Host it
 * cannot turn into a fetch Request (`GET * HTTP/1.1`, `Host: a b`) never
 * reaches the app, and was answered with a bare `400` (found by the HTTP
 * fuzzer): it gets the SPEC §9 envelope instead. Anything else thrown
 * outside the app (not expected: the app answers its own errors) is an
 * `Internal` envelope, as the app would answer it.
 */
export function answerUnreadableRequest(err: unknown): Response {
  const requestId = randomUUID();
  const malformed = err instanceof Error && err.name === 'RequestError';
  const error = malformed
    ? { code: 'ValidationError', message: 'malformed request URL or Host header' }
    : { code: 'Internal', message: 'internal error' };
  return new Response(JSON.stringify({ ok: false, error: { ...error, requestId } }), {
    status: malformed ? 400 : 500,
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
  });
}

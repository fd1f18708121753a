import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { answerClientError, answerUnreadableRequest } from './client-error.js';
import type { Cairn } from './create-cairn.js';

export interface RunningServer {
  host: string;
  port: number;
  /**
   * Stops accepting connections, lets requests in flight finish for up to
   * `graceMs` (answering with `Connection: close`), drops what is left, then
   * answers every queued transaction and closes storage.
   */
  close(graceMs?: number): Promise<void>;
}

export const DEFAULT_SHUTDOWN_GRACE_MS = 3000;

/** Binds a cairn to a TCP address with Node's HTTP server. */
export async function listen(cairn: Cairn, host: string, port: number): Promise<RunningServer> {
  let closing = false;
  const fetch = async (request: Request) => {
    const response = await cairn.fetch(request);
    // While shutting down, keep-alive clients must not hold the server open.
    if (closing) response.headers.set('connection', 'close');
    return response;
  };
  // autoCleanupIncoming off: @hono/node-server would drain an unread upload
  // for at most 500 ms and then destroy the socket, after an answer that said
  // keep-alive; Node's own server reads the rest of a declared body instead
  // (bounded by its requestTimeout; bodies of unknown or much larger size are
  // answered with Connection: close, see server/http-app.ts).
  // getRequestListener, not serve(): only it takes the errorHandler (see client-error.ts).
  const listener = getRequestListener(fetch, {
    hostname: host,
    autoCleanupIncoming: false,
    errorHandler: answerUnreadableRequest,
  });
  const server = createServer((req, res) => void listener(req, res));
  server.listen(port, host);
  server.on('upgrade', cairn.handleUpgrade);
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    host,
    port: address.port,
    close: (graceMs = DEFAULT_SHUTDOWN_GRACE_MS) => {
      closed ??= (async () => {
        closing = true;
        // Upgraded (WebSocket) sockets are not the HTTP server's to close, and
        // it waits for them: close them first (1001) or shutdown hangs.
        cairn.closeSockets();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), graceMs);
        await stopped;
        clearTimeout(grace);
        await cairn.close();
      })();
      return closed;
    },
  };
}

/**
 * A Node `request` listener serving cairn's HTTP routes, for a host's own
 * `node:http` server (with `server.on('upgrade', cairn.handleUpgrade)` for
 * the WebSocket). Mount it under the `basePath` cairn was created with.
 */
export function toNodeListener(
  cairn: Cairn,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  // Node's server reads the rest of an upload cairn answered early (see listen).
  return getRequestListener((request: Request) => cairn.fetch(request), {
    autoCleanupIncoming: false,
  });
}

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { isSpaceId } from '../core/ids.js';
import type { ChannelState } from '../live/delivery-channel.js';
import { LiveConnection, type LiveDeps } from '../live/live-connection.js';

/** A Node `upgrade` listener: `server.on('upgrade', handler)`. */
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Pings go out this often; a connection that missed one pong is dropped. */
const PING_EVERY_MS = 30_000;

/** The WebSocket endpoint of SPEC §6 and the connections it holds. */
export interface LiveEndpoint {
  handleUpgrade: UpgradeHandler;
  /** Open connections (for tests and metrics). */
  readonly connections: number;
  /** Each open connection's undelivered frames and bytes (for tests and metrics). */
  queues(): ChannelState[];
  /** Closes every connection (1001, going away) and stops the keepalive. */
  close(): void;
  /** Closes the connections of one space (1012: reconnect); returns how many. */
  closeSpace(spaceId: string): number;
}

/**
 * `GET {basePath}/v1/:space/ws` upgraded to a WebSocket, one `LiveConnection`
 * per socket. Any other upgrade path is refused with a plain HTTP answer.
 */
export function createLiveEndpoint(deps: LiveDeps, basePath = ''): LiveEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: deps.limits.maxFrameBytes });
  const live = new Map<WebSocket, { conn: LiveConnection; alive: boolean }>();
  let closing = false;

  const keepalive = setInterval(() => {
    for (const [ws, entry] of live) {
      if (!entry.alive) {
        ws.terminate();
        continue;
      }
      entry.alive = false;
      ws.ping();
    }
  }, PING_EVERY_MS);
  keepalive.unref();

  const accept = (ws: WebSocket, spaceId: string) => {
    const conn = new LiveConnection(spaceId, ws, deps);
    const entry = { conn, alive: true };
    live.set(ws, entry);
    ws.on('pong', () => (entry.alive = true));
    ws.on('message', (data, isBinary) => {
      entry.alive = true;
      if (isBinary) conn.onBinary(toBytes(data));
      else conn.onText(String(data));
    });
    const gone = () => {
      live.delete(ws);
      conn.close();
    };
    ws.on('close', gone);
    ws.on('error', (err) => {
      deps.logger.warn({ err, spaceId }, 'live socket error');
      gone();
    });
  };

  const handleUpgrade: UpgradeHandler = (request, socket, head) => {
    const spaceId = spaceOf(request.url ?? '', basePath);
    if (closing) return refuse(socket, 503, 'Service Unavailable');
    if (spaceId === undefined) return refuse(socket, 404, 'Not Found');
    if (spaceId === null) return refuse(socket, 400, 'Bad Request');
    wss.handleUpgrade(request, socket, head, (ws) => accept(ws, spaceId));
  };

  return {
    handleUpgrade,
    get connections() {
      return live.size;
    },
    queues: () => [...live.values()].map((e) => e.conn.queued),
    closeSpace(spaceId) {
      let n = 0;
      for (const [ws, entry] of live) {
        if (entry.conn.spaceId !== spaceId) continue;
        live.delete(ws);
        entry.conn.close();
        ws.close(1012, 'closed by an admin: reconnect');
        n++;
      }
      return n;
    },
    close() {
      closing = true;
      clearInterval(keepalive);
      for (const [ws, entry] of live) {
        entry.conn.close();
        ws.close(1001, 'server closing');
      }
      live.clear();
    },
  };
}

/** The space of `/v1/:space/ws` under `basePath`; undefined: another path; null: not a space DID. */
function spaceOf(url: string, basePath: string): string | null | undefined {
  const path = url.split('?')[0] ?? '';
  if (!path.startsWith(`${basePath}/v1/`) || !path.endsWith('/ws')) return undefined;
  const segment = path.slice(basePath.length + 4, -3);
  if (segment.includes('/')) return undefined;
  let spaceId: string;
  try {
    spaceId = decodeURIComponent(segment);
  } catch {
    return null;
  }
  return isSpaceId(spaceId) ? spaceId : null;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** A `ws` message as one byte array (it may come as a Buffer, a list of them, or an ArrayBuffer). */
function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

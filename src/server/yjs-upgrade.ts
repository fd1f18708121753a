import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Authorizer, Grant } from '../auth/authorizer.js';
import { isCairnError } from '../core/errors.js';
import { isDocId, isSpaceId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { YjsHub } from '../yjs/yjs-hub.js';
import { YjsWsSession } from '../yjs/yjs-ws-session.js';
import type { UpgradeHandler } from './live-upgrade.js';

export interface YjsEndpointDeps {
  hub: YjsHub;
  authorizer: Authorizer;
  logger: Logger;
  maxFrameBytes: number;
}

/** The y-websocket endpoint of SPEC §11 and the sockets it holds. */
export interface YjsEndpoint {
  /** Whether an upgrade's URL is this endpoint's (`/v1/:space/yjs/:docId`). */
  matches(url: string): boolean;
  handleUpgrade: UpgradeHandler;
  readonly connections: number;
  /** Closes every socket (1001) and refuses new ones. */
  close(): void;
}

/**
 * `GET {basePath}/v1/:space/yjs/:docId` upgraded to a WebSocket that speaks
 * the stock y-websocket protocol. The token comes as the `token` query
 * parameter: missing or invalid under auth `required` is `401` before the
 * upgrade, no `storage/read` over the space is `403`; a session without
 * `storage/write` syncs and receives but its updates are refused in-band.
 */
export function createYjsEndpoint(deps: YjsEndpointDeps, basePath = ''): YjsEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: deps.maxFrameBytes });
  const sockets = new Set<WebSocket>();
  let closing = false;

  const accept = async (ws: WebSocket, spaceId: string, docId: string, grant: Grant) => {
    sockets.add(ws);
    const early: Uint8Array[] = [];
    // Frames that arrive while the doc loads wait for the session.
    const held: { session?: YjsWsSession } = {};
    ws.on('message', (data: Buffer) =>
      held.session ? held.session.onMessage(data) : early.push(data),
    );
    const doc = await deps.hub.acquire(spaceId, docId).catch((err: unknown) => {
      deps.logger.warn({ err, spaceId, docId }, 'Yjs doc could not be opened');
      ws.close(1011, 'the doc could not be opened');
      return undefined;
    });
    if (!doc) return void sockets.delete(ws);
    const canWrite = grant.all || can(deps.authorizer, grant, spaceId, 'storage/write');
    const session = new YjsWsSession(ws, doc, {
      canWrite,
      expiresAtMs: grant.expiresAtMs + deps.authorizer.skewMs,
      logger: deps.logger,
    });
    const gone = () => {
      if (!sockets.delete(ws)) return;
      session.close();
      deps.hub.release(doc);
    };
    ws.on('close', gone);
    ws.on('error', gone);
    if (ws.readyState !== ws.OPEN) return gone();
    await session.start();
    held.session = session;
    for (const data of early.splice(0)) session.onMessage(data);
  };

  const handleUpgrade: UpgradeHandler = (request, socket, head) => {
    if (closing) return refuse(socket, 503, 'Service Unavailable');
    const target = targetOf(request.url ?? '', basePath);
    if (!target) return refuse(socket, 400, 'Bad Request');
    let grant: Grant;
    try {
      grant = deps.authorizer.grant(target.token);
      deps.authorizer.require(grant, target.spaceId, 'storage/read');
    } catch (err) {
      const forbidden = isCairnError(err) && err.code === 'Forbidden';
      return refuse(socket, forbidden ? 403 : 401, forbidden ? 'Forbidden' : 'Unauthorized');
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      void accept(ws, target.spaceId, target.docId, grant);
    });
  };

  return {
    matches: (url) => yjsPath(url, basePath) !== undefined,
    handleUpgrade,
    get connections() {
      return sockets.size;
    },
    close() {
      closing = true;
      for (const ws of sockets) ws.close(1001, 'server closing');
    },
  };
}

function can(authorizer: Authorizer, grant: Grant, space: string, ability: 'storage/write') {
  try {
    authorizer.require(grant, space, ability);
    return true;
  } catch {
    return false;
  }
}

/** `[space, docId]` segments of `/v1/:space/yjs/:docId` under `basePath`, still encoded. */
function yjsPath(url: string, basePath: string): [string, string] | undefined {
  const path = url.split('?')[0] ?? '';
  if (!path.startsWith(`${basePath}/v1/`)) return undefined;
  const parts = path.slice(basePath.length + 4).split('/');
  if (parts.length !== 3 || parts[1] !== 'yjs') return undefined;
  return [parts[0] as string, parts[2] as string];
}

function targetOf(url: string, basePath: string) {
  const segments = yjsPath(url, basePath);
  if (!segments) return undefined;
  try {
    const spaceId = decodeURIComponent(segments[0]);
    const docId = decodeURIComponent(segments[1]);
    if (!isSpaceId(spaceId) || !isDocId(docId)) return undefined;
    const token = new URL(url, 'http://cairn.local').searchParams.get('token') ?? undefined;
    return { spaceId, docId, token };
  } catch {
    return undefined;
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

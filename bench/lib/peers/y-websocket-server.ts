/**
 * The stock y-websocket server (`@y/websocket-server` 0.1.1, as its own
 * `server.js` wires it): `setupWSConnection` for every `ws` connection, the
 * room named by the URL path, docs kept in memory (no persistence: the caller
 * leaves YPERSISTENCE unset). Binds 127.0.0.1 on a free port and prints
 * `listening <port>`.
 * Usage: node --import tsx bench/lib/peers/y-websocket-server.ts
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setupWSConnection } from '@y/websocket-server/utils';
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ noServer: true });
wss.on('connection', setupWSConnection);
const server = http.createServer((_req, res) => res.end('okay'));
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});

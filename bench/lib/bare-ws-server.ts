/**
 * The idle-connections bench's baseline: a bare `ws` server that answers
 * every invocation with an empty `task/return` and keeps nothing else — the
 * least a server holding WebSocket connections can cost. Prints
 * `listening <port>`. Usage: node --import tsx bench/lib/bare-ws-server.ts
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const server = http.createServer((_req, res) => res.end());
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const { id } = JSON.parse(String(data)) as { id?: unknown };
    ws.send(JSON.stringify({ type: 'task/return', id, ok: {} }));
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});

/**
 * The live benches' baseline: a bare `ws` server that answers every
 * invocation with an empty `task/return` and keeps nothing else — the least
 * a server holding WebSocket connections can cost — or, with RELAY=1, also
 * relays frames marked `relay` to every other connection. Prints
 * `listening <port>`. Usage: node --import tsx bench/lib/bare-ws-server.ts
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const server = http.createServer((_req, res) => res.end());
const wss = new WebSocketServer({ server });
// RELAY=1: an in-memory relay (like the y-websocket reference server): a
// frame with `"relay": true` goes to every other connection at once, durable
// nowhere.
const relay = process.env.RELAY === '1';
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { id?: unknown; relay?: boolean };
    if (relay && frame.relay) {
      for (const other of wss.clients) if (other !== ws) other.send(data, { binary: false });
      return;
    }
    ws.send(JSON.stringify({ type: 'task/return', id: frame.id, ok: {} }));
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});

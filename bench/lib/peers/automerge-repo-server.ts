/**
 * A stock automerge-repo sync server, as `automerge-repo-sync-server` builds
 * it: one Repo with a `NodeWSServerAdapter` over a `ws` WebSocketServer
 * (upgrades from a plain HTTP server) and a `NodeFSStorageAdapter` at
 * <storageDir>; peer id `storage-server-<hostname>` and the reference's share
 * policy (`async () => false`: announce nothing, serve any doc a peer asks for
 * by id). Binds 127.0.0.1 on a free port and prints `listening <port>`.
 * Usage: node --import tsx bench/lib/peers/automerge-repo-server.ts <storageDir>
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Repo, type PeerId } from '@automerge/automerge-repo';
import { NodeWSServerAdapter } from '@automerge/automerge-repo-network-websocket';
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';
import { WebSocketServer } from 'ws';

type ServerAdapterArg = ConstructorParameters<typeof NodeWSServerAdapter>[0];

const storageDir = process.argv[2];
if (!storageDir) {
  process.stderr.write('usage: automerge-repo-server.ts <storageDir>\n');
  process.exit(2);
}

const wss = new WebSocketServer({ noServer: true });
const server = http.createServer((_req, res) => res.end('automerge-repo sync server'));
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
});

// The Repo is the server (reachable through the adapter's listeners on wss).
new Repo({
  // The adapter's types name `ws` through isomorphic-ws (CommonJS typings): same class.
  network: [new NodeWSServerAdapter(wss as unknown as ServerAdapterArg)],
  storage: new NodeFSStorageAdapter(storageDir),
  peerId: `storage-server-${os.hostname()}` as PeerId,
  sharePolicy: async () => false,
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});

/**
 * A stock Hocuspocus server (`@hocuspocus/server` 4.7 `Server`) with its
 * SQLite extension (`@hocuspocus/extension-sqlite` 4.7) storing documents in
 * <dbFile>, every setting at its default except `quiet` (no start screen):
 * the document's whole state is stored (one upsert of
 * `Y.encodeStateAsUpdate`) 2 s after a change (debounce), at most every
 * 10 s while changes keep coming (maxDebounce), and when the last connection
 * leaves (unloadImmediately); SIGTERM stores what is pending, then exits
 * (stopOnSignals). Clients speak Hocuspocus's own protocol (every message
 * prefixed with the document name; ../hocuspocus-client.ts), not
 * y-websocket's. Binds 127.0.0.1 on a free port and prints `listening <port>`.
 * Usage: node --import tsx bench/lib/peers/hocuspocus-server.ts <dbFile>
 */
import { SQLite } from '@hocuspocus/extension-sqlite';
import { Server } from '@hocuspocus/server';

const dbFile = process.argv[2];
if (!dbFile) {
  process.stderr.write('usage: hocuspocus-server.ts <dbFile>\n');
  process.exit(2);
}

const sqlite = new SQLite({ database: dbFile });
const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, extensions: [sqlite] });
await server.listen();
// The extension opens its database in an onConfigure hook nobody awaits (a failure there
// rejects unhandled and ends the process): listening counts once the database is open.
const deadline = Date.now() + 10_000;
while (!sqlite.db) {
  if (Date.now() > deadline) throw new Error('the Hocuspocus SQLite extension did not open');
  await new Promise((resolve) => setTimeout(resolve, 5));
}
process.stdout.write(`listening ${server.address.port}\n`);

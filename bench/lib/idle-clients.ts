/**
 * The idle-connections bench's clients, in their own process: opens N
 * WebSockets to a live endpoint (a few hundred at a time), says hello and
 * subscribes each to one doc, prints `ready <errors>` and holds them until
 * `stop` on stdin. Usage: node --import tsx bench/lib/idle-clients.ts <wsUrl> <n>
 */
import readline from 'node:readline';
import WebSocket from 'ws';

const [urlArg, countText] = process.argv.slice(2);
const count = Number(countText);
if (!urlArg || !Number.isSafeInteger(count) || count < 1) throw new Error('usage: <wsUrl> <n>');
const url: string = urlArg;
const AT_ONCE = 200;
const DOCS = 100;

const sockets: WebSocket[] = [];
let errors = 0;

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    sockets.push(ws);
    let answers = 0;
    ws.on('error', () => {
      errors++;
      resolve();
    });
    ws.on('open', () => {
      ws.send(JSON.stringify({ id: 1, cmd: '/storage/hello', args: { clientId: `idle-${i}` } }));
      ws.send(
        JSON.stringify({ id: 2, cmd: '/storage/subscribe', args: { docId: `doc-${i % DOCS}` } }),
      );
    });
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; error?: unknown };
      if (frame.type !== 'task/return') return;
      if (frame.error) errors++;
      if (++answers === 2) resolve();
    });
  });
}

for (let i = 0; i < count; i += AT_ONCE) {
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, count - i) }, (_, k) => open(i + k)));
}
process.stdout.write(`ready ${errors}\n`);
const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== 'stop') return;
  for (const ws of sockets) ws.terminate();
  lines.close();
  process.exit(0);
});

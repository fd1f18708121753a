/**
 * The fan-out bench's clients, in their own process: N subscribers and one
 * writer on one doc; the writer sends C single-change transactions on an
 * open-loop schedule (commit k is due at t0 + k/R, whatever came before),
 * and each subscriber records, for the k-th delivery, now − due time of k.
 * Prints one JSON line: latency p50/p99/max (ms) and counts.
 * Usage: node --import tsx bench/lib/fanout-load.ts <wsUrl> <cairn|relay> <subscribers> <perSecond> <count>
 */
import WebSocket from 'ws';
import { summarize } from './percentiles.js';
import { makeChain } from './workload.js';

const [url, mode, subsText, rateText, countText] = process.argv.slice(2) as string[];
const subscribers = Number(subsText);
const perSecond = Number(rateText);
const count = Number(countText);
const relay = mode === 'relay';
const TIMEOUT_MS = 60_000;

const chain = makeChain(77, 'fan', count + 1);
const latencies: number[] = [];
const due: number[] = [];
let received = 0;

function connect(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url as string);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Sends an invocation and waits for its answer (setup only). */
function call(ws: WebSocket, id: number, cmd: string, args: unknown): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const f = JSON.parse(String(data)) as { type: string; id?: number };
      if (f.type === 'task/return' && f.id === id) {
        ws.off('message', onMessage);
        resolve();
      }
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify({ id, cmd, args }));
  });
}

const writer = await connect();
if (!relay) {
  await call(writer, 1, '/storage/hello', { clientId: 'writer' });
  // The doc exists before anyone subscribes: deliveries k = 1… are the commits.
  await call(writer, 2, '/storage/tx', chain.bodies[0]);
}
const subs: WebSocket[] = [];
for (let i = 0; i < subscribers; i++) {
  const ws = await connect();
  if (!relay) {
    await call(ws, 1, '/storage/hello', { clientId: `sub-${i}` });
    await call(ws, 2, '/storage/subscribe', { docId: 'fan' });
  }
  let k = 0;
  ws.on('message', (data) => {
    const text = String(data);
    if (!relay && !text.startsWith('{"type":"deliver"')) return;
    const at = performance.now();
    const d = due[k++];
    if (d !== undefined) latencies.push(at - d);
    received++;
  });
  subs.push(ws);
}

const t0 = performance.now() + 200;
await new Promise<void>((resolve) => {
  let k = 0;
  const next = () => {
    const body = chain.bodies[k + 1];
    due[k] = t0 + (k * 1000) / perSecond;
    writer.send(
      JSON.stringify(
        relay ? { relay: true, body } : { id: 100 + k, cmd: '/storage/tx', args: body },
      ),
    );
    k++;
    if (k === count) return resolve();
    setTimeout(next, Math.max(0, t0 + (k * 1000) / perSecond - performance.now()));
  };
  setTimeout(next, Math.max(0, t0 - performance.now()));
});
const deadline = performance.now() + TIMEOUT_MS;
while (received < count * subscribers && performance.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
for (const ws of [writer, ...subs]) ws.terminate();
const summary = summarize(latencies);
const line = JSON.stringify({ ...summary, received, expected: count * subscribers });
// Exit only once the line is out (a pipe may take it in several writes).
process.stdout.write(`${line}\n`, () => process.exit(0));

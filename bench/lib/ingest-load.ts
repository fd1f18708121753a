/**
 * The ingest and cold-load benches' clients, each in its own process, using
 * `cairn/client` (the built package) as an app would:
 *
 * - `produce <url> <space> <edits>`: first makes the trace's first `edits`
 *   edits locally (one `Automerge.change` per edit, no network: the local
 *   production rate), then makes them again through a `CairnClient`
 *   following the doc — yielding to the event loop every few ms, as an
 *   editor does between keystrokes — and waits for `synced()`.
 *   Prints `{"localMs", "t0", "syncedAt"}` (wall clock, ms).
 * - `follow <url> <space> <edits>`: a second client following the doc;
 *   prints `ready`, then `{"convergedAt"}` once its text is the trace's
 *   text after `edits` edits.
 * - `cold <url> <space> <edits>`: five times, a fresh client subscribing to
 *   the stored doc until it holds the full text, then `Automerge.load` of
 *   the same doc's saved bytes, locally. Prints `{"rounds": [{"subscribeMs",
 *   "loadMs"}]}`.
 *
 * Usage: node --import tsx bench/lib/ingest-load.ts <mode> <url> <space> <edits>
 */
import * as A from '@automerge/automerge';
import WebSocket from 'ws';
import { CairnClient, type WebSocketLike } from '../../dist/client/index.js';
import { loadTrace, traceFile } from '../../test/helpers/trace-data.js';

interface Trace {
  startContent: string;
  txns: { patches: [number, number, string][] }[];
}

const [mode, url, space, editsText] = process.argv.slice(2) as string[];
const edits = Number(editsText);
const DOC = 'paper';
const YIELD_EVERY_MS = 4;
const TIMEOUT_MS = 300_000;
/** Fresh clients in a row (the first finds the server's doc cache cold). */
const COLD_ROUNDS = 5;

const file = traceFile('automerge-paper');
if (!file) {
  console.log(JSON.stringify({ skipped: 'trace data not found' }));
  process.exit(0);
}
const trace = loadTrace<Trace>(file);
const txns = trace.txns.slice(0, edits);

function edit(d: Record<string, unknown>, i: number): void {
  if (i === 0) d.text = trace.startContent;
  for (const [pos, del, ins] of (txns[i] as Trace['txns'][0]).patches) {
    A.splice(d as A.Doc<{ text: string }>, ['text'], pos, del, ins);
  }
}

function expectedText(): string {
  let text = trace.startContent;
  for (const t of txns) {
    for (const [pos, del, ins] of t.patches)
      text = text.slice(0, pos) + ins + text.slice(pos + del);
  }
  return text;
}

function client(): CairnClient {
  return new CairnClient({
    url: url as string,
    space: space as string,
    WebSocket: WebSocket as unknown as new (u: string) => WebSocketLike,
  });
}

/** This process's CPU time (user + system) since `from`, ms. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: timed out`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function produce(): Promise<void> {
  // The local production rate: the same changes, no network.
  let local = A.init<Record<string, unknown>>();
  const l0 = performance.now();
  for (let i = 0; i < txns.length; i++) {
    local = A.change(local, (d) => edit(d, i));
    A.getLastLocalChange(local);
  }
  const localMs = performance.now() - l0;

  const c = client();
  c.subscribe(DOC, () => undefined);
  await until(() => c.isConnected, 'connect');
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let slice = performance.now();
  for (let i = 0; i < txns.length; i++) {
    void c.change(DOC, (d) => edit(d, i));
    if (performance.now() - slice > YIELD_EVERY_MS) {
      await new Promise((r) => setImmediate(r));
      slice = performance.now();
    }
  }
  const producedAt = Date.now();
  await c.synced();
  const cpuMs = cpuSince(cpu0);
  console.log(JSON.stringify({ localMs, t0, producedAt, syncedAt: Date.now(), cpuMs }));
  c.close();
}

async function follow(): Promise<void> {
  const want = expectedText();
  const c = client();
  let done = false;
  c.subscribe(DOC, (doc) => (done ||= doc.text?.toString() === want));
  await until(() => c.isConnected, 'connect');
  console.log('ready');
  const cpu0 = process.cpuUsage();
  await until(() => done, 'converge');
  console.log(JSON.stringify({ convergedAt: Date.now(), cpuMs: cpuSince(cpu0) }));
  c.close();
}

/** One fresh client subscribing until it holds the full text; its time and the doc's bytes. */
async function subscribeFresh(want: string): Promise<{ ms: number; saved: Uint8Array }> {
  const t0 = performance.now();
  const c = client();
  let done = false;
  c.subscribe(DOC, (doc) => (done ||= doc.text?.toString() === want));
  await until(() => done, 'cold subscribe');
  const ms = performance.now() - t0;
  const saved = A.save(c.doc(DOC) as A.Doc<unknown>);
  c.close();
  return { ms, saved };
}

async function cold(): Promise<void> {
  const want = expectedText();
  const rounds: { subscribeMs: number; loadMs: number }[] = [];
  for (let round = 0; round < COLD_ROUNDS; round++) {
    const { ms, saved } = await subscribeFresh(want);
    const l0 = performance.now();
    const loaded = A.load<{ text: string }>(saved);
    const loadMs = performance.now() - l0;
    if (loaded.text !== want) throw new Error('loaded text differs');
    rounds.push({ subscribeMs: ms, loadMs });
  }
  console.log(JSON.stringify({ rounds }));
}

const run = { produce, follow, cold }[mode as 'produce' | 'follow' | 'cold'];
if (!run) throw new Error('mode must be produce, follow or cold');
await run();
process.exit(0);

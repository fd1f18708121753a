/**
 * The Yjs bench's clients, in their own process, the same for every server
 * (bench/yjs.bench.ts): cairn and the stock y-websocket server through the
 * stock `y-websocket` provider (`ws` as WebSocket, BroadcastChannel off),
 * Hocuspocus through ./hocuspocus-client.ts (its own wire protocol; no
 * provider package installed). Every edit is a txn of the automerge-paper
 * trace applied as `Y.Text` edits to the root `content`.
 *
 * Modes (each prints one JSON line, or `{"skipped":"trace data not found"}`):
 *
 * - `throughput <kind> <url> <doc> <edits> <maxSeconds>`: a writer and a
 *   reader on an empty doc, both synced; the writer makes the trace's first
 *   `edits` txns, one `transact` (one update) each, as fast as it can
 *   (yielding to the event loop every 64 so its socket drains); rate =
 *   updates the reader holds ÷ (its last receipt − the first edit), once
 *   its text equals the writer's (or `maxSeconds` passed: then the updates
 *   within its clock of the writer). `messages` counts the update messages
 *   it got (Hocuspocus merges what arrives in one event-loop turn).
 * - `fanout <kind> <url> <doc> <readers> <perSecond> <count>`: a writer and
 *   `readers` readers, all synced on the doc; update k (k = 1…count) — trace
 *   txn k plus the counter `k` in one `transact` — is due at
 *   t0 + (k − 1)/perSecond whatever came before (open loop); each reader
 *   records, for every counter value it sees first, now − its due time (a
 *   jump from 5 to 8 counts 6, 7 and 8 now). All samples of all readers
 *   give p50/p99 (nearest rank). Stops when every reader saw every value or
 *   30 s after the last update.
 * - `seed <kind> <url> <traceDoc> <bigDoc> <factor> <genSeconds>`: the
 *   whole trace into `traceDoc`, 200 txns per `transact` (~1,300 updates);
 *   then `bigDoc`: `factor` copies of the finished trace document (each on
 *   a root of its own, ./yjs-docs.ts; fewer if making them takes over
 *   `genSeconds`), sent as updates of 10 copies each. A reader connected
 *   before the writes must hold all of it (for cairn: every update
 *   committed, since cairn broadcasts after the commit). Then all
 *   connections close.
 * - `cold <kind> <url> <doc> <copies>`: a fresh client: ms from creating it
 *   (its socket opens then) until synced, then a check that it holds the
 *   whole content (`copies` 0: the trace's end text; else that many copies).
 *
 * Usage: node --import tsx bench/lib/yjs-load.ts <mode> <kind> <url> …
 */
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { HocuspocusClient } from './hocuspocus-client.js';
import { summarize } from './percentiles.js';
import { applyTxn, holdsCopies, loadYjsTrace, makeCopies, TEXT_ROOT } from './yjs-docs.js';

type Kind = 'cairn' | 'y-websocket' | 'hocuspocus';

interface Conn {
  doc: Y.Doc;
  synced(): Promise<void>;
  close(): void;
}

const SETUP_TIMEOUT_MS = 60_000;
/** After the last update of the fan-out, wait at most this long for the deliveries. */
const FANOUT_DRAIN_MS = 30_000;
/** Seeding: trace txns per `transact`, copies per update of the big doc, overall bound. */
const SEED_TXNS_PER_UPDATE = 200;
const SEED_COPIES_PER_UPDATE = 10;
const SEED_TIMEOUT_MS = 150_000;
/** The throughput writer yields to the event loop after this many updates. */
const YIELD_EVERY = 64;

const [mode, kindText, url, ...rest] = process.argv.slice(2);
if (
  !mode ||
  !url ||
  (kindText !== 'cairn' && kindText !== 'y-websocket' && kindText !== 'hocuspocus')
) {
  process.stderr.write('usage: yjs-load.ts <mode> <cairn|y-websocket|hocuspocus> <url> …\n');
  process.exit(2);
}
const kind: Kind = kindText;

function done(result: unknown): void {
  // Exit only once the line is out (a pipe may take it in several writes).
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, ready: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Rejects with `what` if `promise` takes longer than `ms`. */
async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type ProviderOptions = NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>;

/** A client of `doc` on the server under test; its socket opens now. */
function connect(docName: string): Conn {
  const doc = new Y.Doc();
  if (kind === 'hocuspocus') {
    const client = new HocuspocusClient(url as string, docName, doc);
    return {
      doc,
      synced: () => client.whenSynced(),
      close: () => {
        client.close();
        doc.destroy();
      },
    };
  }
  // cairn: `ws://host/v1/<space>/yjs` + the doc id (URL-encoded); y-websocket: the room.
  const provider = new WebsocketProvider(
    url as string,
    kind === 'cairn' ? encodeURIComponent(docName) : docName,
    doc,
    {
      WebSocketPolyfill: WebSocket as unknown as ProviderOptions['WebSocketPolyfill'],
      disableBc: true,
    },
  );
  return {
    doc,
    synced: () =>
      provider.synced
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const on = (isSynced: boolean) => {
              if (!isSynced) return;
              provider.off('sync', on);
              resolve();
            };
            provider.on('sync', on);
          }),
    close: () => {
      provider.destroy();
      doc.destroy();
    },
  };
}

async function connectSynced(docName: string): Promise<Conn> {
  const conn = connect(docName);
  await bounded(conn.synced(), SETUP_TIMEOUT_MS, `the first sync of ${docName}`);
  return conn;
}

const trace = loadYjsTrace();
if (!trace) {
  done({ skipped: 'trace data not found' });
} else if (mode === 'throughput') {
  const [docName, editsText, secondsText] = rest;
  const edits = Math.min(Number(editsText), trace.txns.length);
  const maxMs = Number(secondsText) * 1000;
  const writer = await connectSynced(docName as string);
  const reader = await connectSynced(docName as string);
  let messages = 0;
  let lastAt = 0;
  reader.doc.on('update', () => {
    messages++;
    lastAt = performance.now();
  });
  const text = writer.doc.getText(TEXT_ROOT);
  const readerText = reader.doc.getText(TEXT_ROOT);
  const me = writer.doc.clientID;
  /** The writer's clock after each of its updates (what the reader must hold to have it). */
  const clocks: number[] = [];
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  for (const txn of trace.txns.slice(0, edits)) {
    writer.doc.transact(() => applyTxn(text, txn));
    clocks.push(Y.getState(writer.doc.store, me));
    if (clocks.length % YIELD_EVERY === 0) {
      await tick();
      if (performance.now() - t0 > maxMs) break;
    }
  }
  const sendMs = performance.now() - t0;
  const final = text.toString();
  const deadline = t0 + maxMs;
  let converged = false;
  while (performance.now() < deadline) {
    if (readerText.length === final.length && readerText.toString() === final) {
      converged = true;
      break;
    }
    await sleep(2);
  }
  const cpu = process.cpuUsage(cpuBefore);
  // Updates the reader holds: all once converged, else those within its clock of the writer.
  const readerClock = Y.getState(reader.doc.store, me);
  const delivered = converged ? clocks.length : clocks.filter((c) => c <= readerClock).length;
  const seconds = ((converged ? lastAt : performance.now()) - t0) / 1000;
  writer.close();
  reader.close();
  done({
    sent: clocks.length,
    delivered,
    messages,
    seconds,
    sendSeconds: sendMs / 1000,
    converged,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  });
} else if (mode === 'fanout') {
  const [docName, readersText, rateText, countText] = rest;
  const readers = Number(readersText);
  const perSecond = Number(rateText);
  const count = Math.min(Number(countText), trace.txns.length);
  // One WebsocketProvider adds a process 'exit' listener each.
  process.setMaxListeners(readers + 20);
  const writer = await connectSynced(docName as string);
  const text = writer.doc.getText(TEXT_ROOT);
  const counter = writer.doc.getMap<number>('fan');
  writer.doc.transact(() => counter.set('k', 0));
  const latencies: number[] = [];
  let received = 0;
  /** Set just before the first update: update k is due at t0 + (k − 1)/R. */
  let t0 = Number.POSITIVE_INFINITY;
  const dueOf = (k: number) => t0 + ((k - 1) * 1000) / perSecond;
  const subs: Conn[] = [];
  for (let i = 0; i < readers; i++) {
    const sub = await connectSynced(docName as string);
    const map = sub.doc.getMap<number>('fan');
    await until(`reader ${i} holding the doc`, () => map.get('k') === 0, SETUP_TIMEOUT_MS);
    let seen = 0;
    map.observe(() => {
      const k = map.get('k');
      if (typeof k !== 'number' || k <= seen) return;
      const at = performance.now();
      for (let j = seen + 1; j <= Math.min(k, count); j++) {
        latencies.push(at - dueOf(j));
        received++;
      }
      seen = k;
    });
    subs.push(sub);
  }
  const cpuBefore = process.cpuUsage();
  let writerLagMs = 0;
  t0 = performance.now() + 200;
  await new Promise<void>((resolve) => {
    let k = 1;
    const next = () => {
      writerLagMs = Math.max(writerLagMs, performance.now() - dueOf(k));
      const txn = trace.txns[k - 1];
      writer.doc.transact(() => {
        if (txn) applyTxn(text, txn);
        counter.set('k', k);
      });
      k++;
      if (k > count) return resolve();
      setTimeout(next, Math.max(0, dueOf(k) - performance.now()));
    };
    setTimeout(next, Math.max(0, dueOf(1) - performance.now()));
  });
  const drainDeadline = performance.now() + FANOUT_DRAIN_MS;
  while (received < count * readers && performance.now() < drainDeadline) await sleep(20);
  const cpu = process.cpuUsage(cpuBefore);
  for (const c of [writer, ...subs]) c.close();
  const summary = summarize(latencies);
  done({
    p50: summary.p50,
    p99: summary.p99,
    max: summary.max,
    samples: summary.n,
    received,
    expected: count * readers,
    writerLagMs,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  });
} else if (mode === 'seed') {
  const [traceDoc, bigDoc, factorText, genText] = rest;
  const started = performance.now();
  // The trace, 200 txns per update.
  const writer = await connectSynced(traceDoc as string);
  const reader = await connectSynced(traceDoc as string);
  const text = writer.doc.getText(TEXT_ROOT);
  let traceUpdates = 0;
  let traceBytes = 0;
  writer.doc.on('update', (u: Uint8Array) => {
    traceUpdates++;
    traceBytes += u.byteLength;
  });
  for (let i = 0; i < trace.txns.length; i += SEED_TXNS_PER_UPDATE) {
    writer.doc.transact(() => {
      if (i === 0 && trace.startContent !== '') text.insert(0, trace.startContent);
      for (const txn of trace.txns.slice(i, i + SEED_TXNS_PER_UPDATE)) applyTxn(text, txn);
    });
    await tick();
  }
  if (text.toString() !== trace.endContent)
    throw new Error('the replay does not end at endContent');
  const readerText = reader.doc.getText(TEXT_ROOT);
  await until(
    'the reader holding the whole trace',
    () =>
      readerText.length === trace.endContent.length && readerText.toString() === trace.endContent,
    SEED_TIMEOUT_MS,
  );
  const traceMs = performance.now() - started;
  // The big doc: copies of the finished trace document.
  const genStarted = performance.now();
  const state = Y.encodeStateAsUpdate(writer.doc);
  const copies = makeCopies(state, writer.doc.clientID, Number(factorText), Number(genText) * 1000);
  const genMs = performance.now() - genStarted;
  writer.close();
  reader.close();
  const bigStarted = performance.now();
  const bigWriter = await connectSynced(bigDoc as string);
  const bigReader = await connectSynced(bigDoc as string);
  let bigUpdates = 0;
  let bigBytes = 0;
  bigWriter.doc.on('update', (u: Uint8Array) => {
    bigUpdates++;
    bigBytes += u.byteLength;
  });
  for (let i = 0; i < copies.length; i += SEED_COPIES_PER_UPDATE) {
    bigWriter.doc.transact(() => {
      for (const c of copies.slice(i, i + SEED_COPIES_PER_UPDATE)) Y.applyUpdate(bigWriter.doc, c);
    });
    await tick();
  }
  if (!holdsCopies(bigWriter.doc, copies.length, trace.endContent)) {
    throw new Error('the big doc does not hold its copies');
  }
  let checked = 0;
  await until(
    'the reader holding the whole big doc',
    () => {
      // Checking is not free: at most every 50 ms.
      if (performance.now() - checked < 50) return false;
      checked = performance.now();
      return holdsCopies(bigReader.doc, copies.length, trace.endContent);
    },
    SEED_TIMEOUT_MS,
  );
  const bigMs = performance.now() - bigStarted;
  const bigStateBytes = Y.encodeStateAsUpdate(bigWriter.doc).byteLength;
  bigWriter.close();
  bigReader.close();
  // Let the close frames go out before exiting.
  await sleep(200);
  done({
    traceUpdates,
    traceBytes,
    traceStateBytes: state.byteLength,
    traceMs,
    factor: copies.length,
    genMs,
    bigUpdates,
    bigBytes,
    bigStateBytes,
    bigMs,
  });
} else if (mode === 'cold') {
  const [docName, copiesText] = rest;
  const copies = Number(copiesText);
  const t0 = performance.now();
  const conn = connect(docName as string);
  await bounded(conn.synced(), SETUP_TIMEOUT_MS, `the sync of ${docName}`);
  const ms = performance.now() - t0;
  const complete =
    copies > 0
      ? holdsCopies(conn.doc, copies, trace.endContent)
      : conn.doc.getText(TEXT_ROOT).toString() === trace.endContent;
  conn.close();
  await sleep(100);
  done({ ms, complete });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}

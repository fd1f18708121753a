/**
 * The fan-out bench's clients against a stock peer server, in their own
 * process — the same measurement as ../fanout-load.ts: one writer and N
 * subscribers on one doc; the doc exists and every subscriber has synced it
 * before timing starts; then the writer makes C single changes on an
 * open-loop schedule (change k, k = 1…C, is due at t0 + (k − 1)/R whatever
 * came before) and each subscriber records, for every counter value it sees
 * for the first time, now − due time of that value (a jump from 5 to 8 means
 * 6, 7 and 8 all arrived now). Each change sets the counter `k` only, as
 * ours does.
 *
 * automerge-repo: every client is its own Repo (`WebSocketClientAdapter`, no
 * storage). y-websocket: every client is its own Y.Doc + `WebsocketProvider`
 * (`ws` as WebSocket, BroadcastChannel off so clients sync only through the
 * server). Stops when every subscriber saw C values or 60 s after the last
 * change. Prints one JSON line: latency p50/p99/max (ms, nearest rank) and
 * counts, plus this process's own CPU time (`clientCpuMs`: a saturated
 * client process inflates the latencies).
 * Usage: node --import tsx bench/lib/peers/peer-fanout-load.ts <automerge-repo|y-websocket> <wsUrl> <subscribers> <perSecond> <count>
 */
import { Repo, type AutomergeUrl, type DocHandle } from '@automerge/automerge-repo';
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { summarize } from '../percentiles.js';

const [kind, url, subsText, rateText, countText] = process.argv.slice(2);
const subscribers = Number(subsText);
const perSecond = Number(rateText);
const count = Number(countText);
if (
  (kind !== 'automerge-repo' && kind !== 'y-websocket') ||
  !url ||
  !(subscribers >= 1 && perSecond > 0 && count >= 1)
) {
  process.stderr.write(
    'usage: peer-fanout-load.ts <automerge-repo|y-websocket> <wsUrl> <subscribers> <perSecond> <count>\n',
  );
  process.exit(2);
}
/** After the last change, wait at most this long for the deliveries. */
const TIMEOUT_MS = 60_000;
/** Connecting and syncing the writer and every subscriber, at most. */
const SETUP_TIMEOUT_MS = 120_000;
/** A room of this run's own (the y-websocket server keeps every room in memory). */
const ROOM = `fan-${process.pid}`;

interface FanDoc {
  k: number;
}

interface Writer {
  /** Makes change k: sets counter `k`, one change (as our fan-out load does). */
  change(k: number): void;
  close(): Promise<void>;
}
interface Subscriber {
  close(): Promise<void>;
}
interface Peer {
  /** Creates the doc (k = 0) and makes sure the server holds it. */
  writer(): Promise<Writer>;
  /** Loads the doc (sees k = 0), then calls `onValue` with the counter after each change. */
  subscriber(onValue: (k: number) => void): Promise<Subscriber>;
}

async function until(what: string, ready: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `repo.find`, again every 100 ms while the server does not have the doc yet. */
async function findWithRetry(repo: Repo, docUrl: AutomergeUrl): Promise<DocHandle<FanDoc>> {
  const deadline = performance.now() + SETUP_TIMEOUT_MS;
  for (;;) {
    try {
      return await repo.find<FanDoc>(docUrl);
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function automergeRepoPeer(): Peer {
  let docUrl: AutomergeUrl | undefined;
  const newRepo = async () => {
    const repo = new Repo({ network: [new WebSocketClientAdapter(url as string)] });
    await until('the server peer', () => repo.peers.length > 0, SETUP_TIMEOUT_MS);
    return repo;
  };
  return {
    async writer() {
      const repo = await newRepo();
      const handle = repo.create<FanDoc>({ k: 0 });
      docUrl = handle.url;
      // The server announces nothing (its share policy), but it stores what
      // this generous client announces: wait until a fresh Repo can find it.
      const probe = await newRepo();
      await findWithRetry(probe, docUrl);
      await probe.shutdown();
      return {
        change(k) {
          handle.change((d) => {
            d.k = k;
          });
        },
        close: () => repo.shutdown(),
      };
    },
    async subscriber(onValue) {
      const repo = await newRepo();
      const handle = await repo.find<FanDoc>(docUrl as AutomergeUrl);
      if (handle.doc().k !== 0) throw new Error('subscriber loaded an unexpected doc');
      handle.on('change', ({ doc }) => onValue(doc.k));
      return { close: () => repo.shutdown() };
    },
  };
}

function yWebsocketPeer(): Peer {
  type Options = NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>;
  const connect = async () => {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(url as string, ROOM, doc, {
      WebSocketPolyfill: WebSocket as unknown as Options['WebSocketPolyfill'],
      disableBc: true,
    });
    await until('the first sync', () => provider.synced, SETUP_TIMEOUT_MS);
    const close = async () => {
      provider.destroy();
      doc.destroy();
    };
    return { doc, map: doc.getMap<unknown>(ROOM), close };
  };
  return {
    async writer() {
      const { doc, map, close } = await connect();
      doc.transact(() => {
        map.set('k', 0);
      });
      return {
        change(k) {
          doc.transact(() => {
            map.set('k', k);
          });
        },
        close,
      };
    },
    async subscriber(onValue) {
      const { map, close } = await connect();
      await until('the doc', () => map.get('k') === 0, SETUP_TIMEOUT_MS);
      map.observe(() => {
        const k = map.get('k');
        if (typeof k === 'number') onValue(k);
      });
      return { close };
    },
  };
}

// One WebsocketProvider adds a process 'exit' listener each.
process.setMaxListeners(subscribers + 20);
const peer = kind === 'automerge-repo' ? automergeRepoPeer() : yWebsocketPeer();
const latencies: number[] = [];
let received = 0;
/** Set just before the first change: change k is due at t0 + (k − 1)/R. */
let t0 = Number.POSITIVE_INFINITY;
const dueOf = (k: number) => t0 + ((k - 1) * 1000) / perSecond;

const writer = await peer.writer();
const subs: Subscriber[] = [];
for (let i = 0; i < subscribers; i++) {
  let seen = 0;
  subs.push(
    await peer.subscriber((k) => {
      if (k <= seen) return;
      const at = performance.now();
      for (let j = seen + 1; j <= Math.min(k, count); j++) {
        latencies.push(at - dueOf(j));
        received++;
      }
      seen = k;
    }),
  );
}

const cpuBefore = process.cpuUsage();
t0 = performance.now() + 200;
await new Promise<void>((resolve) => {
  let k = 1;
  const next = () => {
    writer.change(k);
    k++;
    if (k > count) return resolve();
    setTimeout(next, Math.max(0, dueOf(k) - performance.now()));
  };
  setTimeout(next, Math.max(0, dueOf(1) - performance.now()));
});
const deadline = performance.now() + TIMEOUT_MS;
while (received < count * subscribers && performance.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const cpu = process.cpuUsage(cpuBefore);
await Promise.race([
  Promise.allSettled([writer, ...subs].map((c) => c.close())),
  new Promise((resolve) => setTimeout(resolve, 5_000)),
]);
const summary = summarize(latencies);
const line = JSON.stringify({
  p50: summary.p50,
  p99: summary.p99,
  max: summary.max,
  received,
  expected: count * subscribers,
  clientCpuMs: (cpu.user + cpu.system) / 1000,
});
// Exit only once the line is out (a pipe may take it in several writes).
process.stdout.write(`${line}\n`, () => process.exit(0));

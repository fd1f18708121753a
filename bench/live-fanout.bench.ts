/**
 * Issue "Live sync", fan-out: one writer commits single-change transactions
 * on an open-loop schedule to one doc with N subscribers (50/s with 20, then
 * 100/s with 100); delivery latency from each commit's due time (p50, p99,
 * max), server CPU and peak RSS — cairn (every delivery after its durable
 * commit, SQLite FULL) beside, in the same run, the stock y-websocket
 * server (@y/websocket-server, an in-memory relay that makes nothing
 * durable: the target's baseline), the stock automerge-repo sync server
 * (bench/lib/peers) and a bare `ws` relay that forwards each frame at once
 * and stores nothing (the floor any relay has). Clients run in their own
 * process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { peerFanout, type PeerFanoutRun } from './lib/peers/run-peers.js';
import { fmtMs } from './lib/percentiles.js';
import { procCpuMs, procStatusBytes, waitForLine } from './lib/proc.js';
import { printGrid } from './lib/report.js';
import { startServerChild } from './lib/server-child.js';
import { withTempDir } from './lib/timing.js';

const SPACE = 'did:key:z6MkFanOutBench';
const SECONDS = 10;
const SCENARIOS = [
  { perSecond: 50, subscribers: 20 },
  { perSecond: 100, subscribers: 100 },
];

const tsFile = (name: string) => new URL(`./lib/${name}`, import.meta.url).pathname;

/** CPU time and peak RSS of a process so far, from /proc. */
function usage(pid: number | undefined): { cpuMs: number; peakBytes: number } {
  return { cpuMs: procCpuMs(pid), peakBytes: procStatusBytes(pid, 'VmHWM') };
}

/** One scenario on one server (the same shape as a peer's run). */
type Run = PeerFanoutRun;

async function load(
  pid: number | undefined,
  wsUrl: string,
  mode: 'cairn' | 'relay',
  perSecond: number,
  subscribers: number,
): Promise<Run> {
  const count = perSecond * SECONDS;
  const before = usage(pid);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      tsFile('fanout-load.ts'),
      wsUrl,
      mode,
      String(subscribers),
      String(perSecond),
      String(count),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => (out += chunk));
  await new Promise((resolve) => child.once('exit', resolve));
  const after = usage(pid);
  const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Omit<
    Run,
    'cpuMs' | 'peakBytes'
  >;
  return { ...result, cpuMs: after.cpuMs - before.cpuMs, peakBytes: after.peakBytes };
}

async function relayRun(perSecond: number, subscribers: number): Promise<Run> {
  const relay = spawn(process.execPath, ['--import', 'tsx', tsFile('bare-ws-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RELAY: '1' },
  });
  try {
    const port = await waitForLine(relay, 'listening');
    return await load(relay.pid, `ws://127.0.0.1:${port}/`, 'relay', perSecond, subscribers);
  } finally {
    relay.kill();
  }
}

async function cairnRun(perSecond: number, subscribers: number): Promise<Run> {
  return withTempDir('cairn-bench-fanout-', async (dataDir) => {
    const server = await startServerChild(dataDir);
    try {
      const wsUrl = `${server.url.replace('http', 'ws')}/v1/${SPACE}/ws`;
      return await load(server.child.pid, wsUrl, 'cairn', perSecond, subscribers);
    } finally {
      await server.stop();
    }
  });
}

/** One table row: latencies, deliveries, server CPU per delivery, peak RSS. */
function row(scenario: string, server: string, run: Run, note: string): string[] {
  return [
    scenario,
    server,
    fmtMs(run.p50),
    fmtMs(run.p99),
    fmtMs(run.max),
    `${run.received}/${run.expected}`,
    `${((run.cpuMs * 1000) / Math.max(1, run.received)).toFixed(0)} µs`,
    `${(run.peakBytes / 2 ** 20).toFixed(0)} MiB`,
    note,
  ];
}

/**
 * Runs the fan-out bench; returns whether, in every scenario, cairn got
 * every delivery with p99 ≤ 1.5× the y-websocket relay's and ≤ 0.1×
 * automerge-repo's.
 */
export async function benchFanout(): Promise<boolean> {
  const rows: string[][] = [];
  let met = true;
  for (const { perSecond, subscribers } of SCENARIOS) {
    const ours = await cairnRun(perSecond, subscribers);
    const yws = await peerFanout('y-websocket', perSecond, subscribers, SECONDS);
    const amr = await peerFanout('automerge-repo', perSecond, subscribers, SECONDS);
    const relay = await relayRun(perSecond, subscribers);
    const vsY = ours.p99 / yws.p99;
    const vsA = ours.p99 / amr.p99;
    const ok = vsY <= 1.5 && vsA <= 0.1 && ours.received === ours.expected;
    met &&= ok;
    const scenario = `${perSecond}/s × ${subscribers} subs (${perSecond * SECONDS} commits)`;
    const yes = (b: boolean) => (b ? 'yes' : 'NO');
    rows.push(
      row(
        scenario,
        'cairn (durable first)',
        ours,
        `p99 ${vsY.toFixed(2)}× y-websocket (≤ 1.5: ${yes(vsY <= 1.5)}), ${vsA.toPrecision(2)}× automerge-repo (≤ 0.1: ${yes(vsA <= 0.1)})`,
      ),
    );
    rows.push(row('', 'y-websocket server 0.1.1 (baseline)', yws, 'in memory, stores nothing'));
    rows.push(row('', 'automerge-repo 2.5.6 sync server', amr, 'NodeFS storage'));
    rows.push(row('', 'bare ws relay (floor)', relay, 'forwards bytes, stores nothing'));
  }
  printGrid(
    `Fan-out — one writer, open-loop, latency from each commit's due time; ${SECONDS} s per scenario; server CPU per delivery; peak server RSS`,
    ['scenario', 'server', 'p50', 'p99', 'max', 'delivered', 'CPU/delivery', 'peak RSS', ''],
    rows,
  );
  return met;
}

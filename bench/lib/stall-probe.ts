/**
 * The stall bench's second client, in its own process so the heavy client's
 * work cannot delay it: paced single-change commits to its own space and a
 * `/healthz` poll, each request's latency recorded with its wall-clock start.
 * Usage: `node --import tsx bench/lib/stall-probe.ts <url> <space>`; prints
 * `ready` once its changes are made, and on `stop` (stdin) prints one JSON
 * line of samples and exits. Stops by itself after MAX_RUN_MS.
 */
import readline from 'node:readline';
import { makeChain } from './workload.js';

const COMMIT_EVERY_MS = 5;
const HEALTH_EVERY_MS = 10;
const MAX_CHANGES = 25_000;
const MAX_RUN_MS = 180_000;
const WARMUP_COMMITS = 50;

/** One request: when it started (epoch ms), how long it took, its HTTP status. */
export type ProbeSample = [startMs: number, latencyMs: number, status: number];

export interface ProbeReport {
  commits: ProbeSample[];
  health: ProbeSample[];
}

const [url, space] = process.argv.slice(2);
if (!url || !space) throw new Error('usage: stall-probe <url> <space>');

const chain = makeChain(90, 'probe/doc', MAX_CHANGES);
const report: ProbeReport = { commits: [], health: [] };
let stopped = false;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed(into: ProbeSample[], request: () => Promise<Response>): Promise<void> {
  const start = Date.now();
  const t0 = performance.now();
  let status: number;
  try {
    const res = await request();
    await res.arrayBuffer();
    status = res.status;
  } catch {
    status = -1;
  }
  into.push([start, performance.now() - t0, status]);
}

function commit(body: unknown): Promise<Response> {
  return fetch(`${url}/v1/${space}/tx`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function commitLoop(from: number): Promise<void> {
  for (const body of chain.bodies.slice(from)) {
    if (stopped) return;
    const next = performance.now() + COMMIT_EVERY_MS;
    await timed(report.commits, () => commit(body));
    await sleep(Math.max(0, next - performance.now()));
  }
}

async function healthLoop(): Promise<void> {
  while (!stopped) {
    const next = performance.now() + HEALTH_EVERY_MS;
    await timed(report.health, () => fetch(`${url}/healthz`));
    await sleep(Math.max(0, next - performance.now()));
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'stop') stopped = true;
});
setTimeout(() => (stopped = true), MAX_RUN_MS).unref();

// Warm-up, not reported: a process's first requests load and compile the
// HTTP client (tens of ms), which is not the server's doing.
const warmup: ProbeReport = { commits: [], health: [] };
for (let i = 0; i < 50; i++) await timed(warmup.health, () => fetch(`${url}/healthz`));
let next = 0;
for (; next < WARMUP_COMMITS; next++) {
  await timed(warmup.commits, () => commit(chain.bodies[next]));
}
process.stdout.write('ready\n');
await Promise.all([commitLoop(next), healthLoop()]);
stopped = true;
process.stdout.write(`${JSON.stringify(report)}\n`);
lines.close();

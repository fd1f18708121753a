/**
 * Issue "Integrity under hostile input", bench (b): no request stalls the
 * server. A cairn server runs as a child process (SQLite, the built CLI). A
 * second client (bench/lib/stall-probe.ts, its own process) commits one
 * small change every 5 ms to its own space and polls `/healthz` every 10 ms,
 * while a heavy client, in another space: sends a change holding a 3 MiB
 * string (3.1 M operations: refused, over `maxChangeOps`), commits one
 * holding a string just under the limit, then reads that doc cold as JSON
 * and as bytes. Printed: the probe's latencies while quiet and during the
 * heavy requests (targets: commit p99 < 50 ms, `/healthz` never over 50 ms),
 * what each heavy request answered and took, and the server's RSS (peak,
 * after, and after its workers idled out). BENCH_STALL_NODE_ARGS passes
 * flags to the server's node (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { spawn } from 'node:child_process';
import * as Automerge from '@automerge/automerge';
import { DEFAULT_LIMITS } from '../src/core/limits.js';
import { printGrid } from './lib/report.js';
import { fmtMs, seededRandom, summarize } from './lib/percentiles.js';
import { startServerChild, type ServerChild } from './lib/server-child.js';
import type { ProbeReport, ProbeSample } from './lib/stall-probe.js';
import { nowMs, withTempDir } from './lib/timing.js';

const HEAVY_SPACE = 'did:key:z6MkStallBenchHeavy';
const PROBE_SPACE = 'did:key:z6MkStallBenchProbe';
const QUIET_MS = 3_000;
const TAIL_MS = 1_000;
/** Past the worker pool's idle recycle (30 s), so idle workers have given their memory back. */
const IDLE_WAIT_MS = 32_000;
const TARGET_MS = 50;

interface HeavyStep {
  label: string;
  status: number;
  code: string;
  ms: number;
  bytes: number;
}

/** A change that sets `text` to `chars` pseudo-random letters (one op per character). */
function bigTextChange(chars: number, actorByte: string): Uint8Array {
  const random = seededRandom(chars);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz     ';
  let text = '';
  const parts: string[] = [];
  for (let i = 0; i < chars; i++) {
    text += alphabet[Math.floor(random() * alphabet.length)];
    if (text.length === 4096) {
      parts.push(text);
      text = '';
    }
  }
  parts.push(text);
  const doc = Automerge.change(
    Automerge.init<{ text?: string }>({ actor: actorByte.repeat(32) }),
    (d) => {
      d.text = parts.join('');
    },
  );
  const change = Automerge.getLastLocalChange(doc);
  if (!change) throw new Error('no change');
  return change;
}

async function step(label: string, request: () => Promise<Response>): Promise<HeavyStep> {
  const t0 = nowMs();
  const res = await request();
  const body = Buffer.from(await res.arrayBuffer());
  let code = '';
  if (!res.ok) {
    try {
      code = String(
        (JSON.parse(body.toString('utf8')) as { error?: { code?: string } }).error?.code,
      );
    } catch {
      code = '(not JSON)';
    }
  }
  return { label, status: res.status, code, ms: nowMs() - t0, bytes: body.byteLength };
}

function txBody(docId: string, change: Uint8Array): string {
  return JSON.stringify({
    writes: [{ docId, baseHeads: [], changes: [Buffer.from(change).toString('base64')] }],
  });
}

async function heavyClient(url: string, over: Uint8Array, under: Uint8Array): Promise<HeavyStep[]> {
  const post = (docId: string, change: Uint8Array) => () =>
    fetch(`${url}/v1/${HEAVY_SPACE}/tx`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: txBody(docId, change),
    });
  const doc = `${url}/v1/${HEAVY_SPACE}/docs/big`;
  return [
    await step('commit a 3 MiB string', post('too-big', over)),
    await step('commit a string under the op limit', post('big', under)),
    await step('cold read, JSON', () => fetch(doc)),
    await step('read, bytes', () => fetch(doc, { headers: { accept: 'application/automerge' } })),
  ];
}

function startProbe(url: string) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('./lib/stall-probe.ts', import.meta.url).pathname,
      url,
      PROBE_SPACE,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (out += chunk));
  const ready = new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (out.startsWith('ready\n')) {
        clearInterval(check);
        resolve();
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(check);
      reject(new Error(`probe exited early (code ${code})`));
    });
  });
  const stop = async (): Promise<ProbeReport> => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin.end('stop\n');
    await exited;
    return JSON.parse(out.slice('ready\n'.length)) as ProbeReport;
  };
  return { ready, stop };
}

function windowRow(label: string, samples: ProbeSample[], from: number, to: number): string[] {
  const inWindow = samples.filter(([start]) => start >= from && start < to);
  const failed = inWindow.filter(([, , status]) => status < 200 || status >= 300).length;
  const s = summarize(inWindow.map(([, ms]) => ms));
  return [
    label,
    String(s.n),
    fmtMs(s.p50),
    fmtMs(s.p99),
    fmtMs(s.max),
    failed ? `${failed} failed` : '',
  ];
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** Runs the stall bench; returns whether both targets were met. */
export async function benchStall(): Promise<boolean> {
  const t0 = nowMs();
  const over = bigTextChange(3 * 1024 * 1024, 'a1');
  const under = bigTextChange(DEFAULT_LIMITS.maxChangeOps - 1_000, 'b2');
  console.log(
    `Stall — heavy changes made untimed (${((nowMs() - t0) / 1000).toFixed(1)}s): ` +
      `3 MiB string ${mib(over.byteLength)} bytes, ` +
      `${(DEFAULT_LIMITS.maxChangeOps - 1_000).toLocaleString('en-US')}-char string ${(under.byteLength / 1024).toFixed(0)} KiB`,
  );
  return withTempDir('cairn-bench-stall-', async (dataDir) => {
    const nodeArgs = (process.env.BENCH_STALL_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const server: ServerChild = await startServerChild(dataDir, nodeArgs);
    try {
      const rssStart = server.statusBytes('VmRSS');
      const probe = startProbe(server.url);
      await probe.ready;
      const quietFrom = Date.now();
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      const heavyFrom = Date.now();
      const steps = await heavyClient(server.url, over, under);
      const heavyTo = Date.now();
      await new Promise((resolve) => setTimeout(resolve, TAIL_MS));
      const report = await probe.stop();
      const rssAfter = server.statusBytes('VmRSS');
      const peak = server.statusBytes('VmHWM');
      await new Promise((resolve) => setTimeout(resolve, IDLE_WAIT_MS));
      const rssIdle = server.statusBytes('VmRSS');

      printGrid(
        'Stall — heavy client, one request at a time',
        ['request', 'status', 'took', 'answer bytes', ''],
        steps.map((s) => [s.label, String(s.status), fmtMs(s.ms), String(s.bytes), s.code]),
      );
      const commitsHeavy = windowRow(
        '  during the heavy requests',
        report.commits,
        heavyFrom,
        heavyTo,
      );
      const healthHeavy = windowRow(
        '  during the heavy requests',
        report.health,
        heavyFrom,
        heavyTo,
      );
      printGrid(
        'Stall — the second client (own process, own space)',
        ['', 'n', 'p50', 'p99', 'max', ''],
        [
          ['single-change commits, every 5 ms', '', '', '', '', ''],
          windowRow('  quiet', report.commits, quietFrom, heavyFrom),
          commitsHeavy,
          ['GET /healthz, every 10 ms', '', '', '', '', ''],
          windowRow('  quiet', report.health, quietFrom, heavyFrom),
          healthHeavy,
        ],
      );
      const p99 = summarize(
        report.commits.filter(([s]) => s >= heavyFrom && s < heavyTo).map(([, ms]) => ms),
      ).p99;
      const healthMax = summarize(
        report.health.filter(([s]) => s >= heavyFrom && s < heavyTo).map(([, ms]) => ms),
      ).max;
      const metP99 = p99 < TARGET_MS;
      const metHealth = healthMax <= TARGET_MS;
      console.log(
        `  targets: commit p99 < ${TARGET_MS} ms: ${fmtMs(p99)} ${metP99 ? 'yes' : 'NO'}; ` +
          `/healthz max ≤ ${TARGET_MS} ms: ${fmtMs(healthMax)} ${metHealth ? 'yes' : 'NO'}`,
      );
      console.log(
        `  server RSS: ${mib(rssStart)} at start, peak ${mib(peak)}, ${mib(rssAfter)} after, ` +
          `${mib(rssIdle)} after ${IDLE_WAIT_MS / 1000} s idle (workers recycled)`,
      );
      const expected = ['413', '200', '200', '200'];
      const wrong = steps.filter((s, i) => String(s.status) !== expected[i]);
      if (wrong.length)
        console.log(`  UNEXPECTED answers: ${wrong.map((s) => s.label).join(', ')}`);
      return metP99 && metHealth && wrong.length === 0;
    } finally {
      await server.stop();
    }
  });
}

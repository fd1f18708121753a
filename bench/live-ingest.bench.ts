/**
 * Issue "Live sync", ingest and cold load, through `cairn/client` against a
 * `cairn serve` child on SQLite (FULL), clients in their own processes
 * (bench/lib/ingest-load.ts):
 *
 * - ingest: one client makes the automerge-paper trace's first 20,000 edits
 *   (one change per edit) while a second client follows; edits/s end to end
 *   (first edit → the follower holds the final text) ÷ the rate at which
 *   the same client makes those changes locally (target ≥ 0.8). Server CPU
 *   per edit beside the stock automerge-repo sync server doing the same in
 *   the same run (bench/lib/peers; target ≤ 0.1× its CPU per edit).
 * - cold load: fresh clients subscribing to the stored doc until they hold
 *   its full text ÷ a local `Automerge.load` of the same doc (target ≤ 1.3).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { procCpuMs } from './lib/proc.js';
import { automergeRepoIngest, type PeerIngestRun } from './lib/peers/run-peers.js';
import { printGrid } from './lib/report.js';
import { startServerChild, type ServerChild } from './lib/server-child.js';
import { median, withTempDir } from './lib/timing.js';
import { traceFile, TRACE_MISSING } from '../test/helpers/trace-data.js';

const SPACE = 'did:key:z6MkIngestBench';
const LOAD = new URL('./lib/ingest-load.ts', import.meta.url).pathname;

interface Ingest {
  localMs: number;
  e2eMs: number;
  serverCpuMs: number;
  producerCpuMs: number;
  followerCpuMs: number;
}

function clientProcess(mode: string, url: string, edits: number): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', LOAD, mode, url, SPACE, String(edits)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** The child's last stdout line, parsed, once it exits (with code 0). */
async function lastJson<T>(child: ChildProcess): Promise<T> {
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`client process exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as T;
}

async function ingest(server: ServerChild, edits: number): Promise<Ingest> {
  const follower = clientProcess('follow', server.url, edits);
  const followed = lastJson<{ convergedAt: number; cpuMs: number }>(follower);
  await new Promise<void>((resolve, reject) => {
    follower.stdout?.once('data', () => resolve());
    follower.once('exit', () => reject(new Error('follower exited early')));
  });
  const cpu0 = procCpuMs(server.child.pid);
  const produced = await lastJson<{ localMs: number; t0: number; cpuMs: number }>(
    clientProcess('produce', server.url, edits),
  );
  const follow = await followed;
  return {
    localMs: produced.localMs,
    e2eMs: follow.convergedAt - produced.t0,
    serverCpuMs: procCpuMs(server.child.pid) - cpu0,
    producerCpuMs: produced.cpuMs,
    followerCpuMs: follow.cpuMs,
  };
}

/** Runs ingest and cold load; returns whether both targets were met (undefined: no trace). */
export async function benchIngest(edits = 20_000): Promise<boolean | undefined> {
  if (!traceFile('automerge-paper')) {
    console.log(`\nIngest / cold load — ${TRACE_MISSING}`);
    return undefined;
  }
  const { run, rounds } = await withTempDir('cairn-bench-ingest-', async (dataDir) => {
    const server = await startServerChild(dataDir);
    try {
      const run = await ingest(server, edits);
      const cold = await lastJson<{ rounds: { subscribeMs: number; loadMs: number }[] }>(
        clientProcess('cold', server.url, edits),
      );
      return { run, rounds: cold.rounds };
    } finally {
      await server.stop();
    }
  });
  const peer = await automergeRepoIngest(edits);
  return report(edits, run, rounds, peer);
}

function report(
  edits: number,
  run: Ingest,
  rounds: { subscribeMs: number; loadMs: number }[],
  peer: PeerIngestRun | undefined,
): boolean {
  const rate = (ms: number) => `${((edits * 1000) / ms).toFixed(0)} edits/s`;
  const ratio = run.localMs / run.e2eMs;
  const cpuPerEdit = (run.serverCpuMs * 1000) / edits;
  const peerCpuPerEdit = peer ? (peer.serverCpuMs * 1000) / peer.edits : Number.NaN;
  const cpuRatio = cpuPerEdit / peerCpuPerEdit;
  const ingestOk = ratio >= 0.8 && (!peer || cpuRatio <= 0.1);
  const cpuTotalMs = run.serverCpuMs + run.producerCpuMs + run.followerCpuMs;
  printGrid(
    `Ingest — automerge-paper, first ${edits} edits, one change per edit, one follower; SQLite FULL`,
    ['who', 'time', 'rate', 'server CPU/edit', 'verdict'],
    [
      [
        'cairn/client → cairn → follower',
        `${(run.e2eMs / 1000).toFixed(2)} s`,
        rate(run.e2eMs),
        `${cpuPerEdit.toFixed(0)} µs`,
        `${ratio.toFixed(2)}× local rate (target ≥ 0.8: ${ratio >= 0.8 ? 'yes' : 'NO'})`,
      ],
      [
        'same changes made locally (baseline)',
        `${(run.localMs / 1000).toFixed(2)} s`,
        rate(run.localMs),
        '',
        '',
      ],
      peer
        ? [
            'automerge-repo 2.5.6 sync server (peer)',
            `${peer.seconds.toFixed(2)} s${peer.converged ? '' : ' (did not converge)'}`,
            rate(peer.seconds * 1000),
            `${peerCpuPerEdit.toFixed(0)} µs`,
            `cairn CPU/edit ${cpuRatio.toFixed(3)}× peer (target ≤ 0.1: ${cpuRatio <= 0.1 ? 'yes' : 'NO'})`,
          ]
        : ['automerge-repo peer', 'skipped', '', '', ''],
    ],
  );
  console.log(
    `  CPU during the run: writer client ${(run.producerCpuMs / 1000).toFixed(2)} s, follower ${(run.followerCpuMs / 1000).toFixed(2)} s, server ${(run.serverCpuMs / 1000).toFixed(2)} s (all its threads: event loop, snapshot worker, V8 GC) — ${(cpuTotalMs / 1000).toFixed(2)} s on ${os.cpus().length} cores: the run cannot take less than ${(cpuTotalMs / 1000 / os.cpus().length).toFixed(2)} s here`,
  );
  const sub = median(rounds.map((r) => r.subscribeMs));
  const load = median(rounds.map((r) => r.loadMs));
  const coldRatio = sub / load;
  const first = rounds[0] as { subscribeMs: number; loadMs: number };
  printGrid(
    `Cold load — a fresh cairn/client subscribing to the ${edits}-edit doc until it holds the full text; ${rounds.length} rounds`,
    ['', 'median', 'first (server cache cold)', 'verdict'],
    [
      [
        'fresh client subscribe',
        `${sub.toFixed(1)} ms`,
        `${first.subscribeMs.toFixed(1)} ms`,
        `${coldRatio.toFixed(2)}× load (target ≤ 1.3: ${coldRatio <= 1.3 ? 'yes' : 'NO'})`,
      ],
      [
        'Automerge.load, local (baseline)',
        `${load.toFixed(1)} ms`,
        `${first.loadMs.toFixed(1)} ms`,
        '',
      ],
    ],
  );
  return ingestOk && coldRatio <= 1.3;
}

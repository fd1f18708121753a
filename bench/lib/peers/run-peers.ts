/**
 * Stock peer servers for the live benches, measured the way ours is: each
 * server (./automerge-repo-server.ts, ./y-websocket-server.ts,
 * ./hocuspocus-server.ts) runs as a child process on 127.0.0.1 and its
 * clients in another (./peer-fanout-load.ts, ./automerge-repo-ingest.ts,
 * ../yjs-load.ts); the server child's CPU
 * time (user + system, /proc) is taken over the load only, its peak RSS
 * (VmHWM) at the end. The server child is killed and its temp dir removed
 * afterwards, also on failure.
 * Usage (in-process, from a bench):
 *   const run = await peerFanout('y-websocket', 100, 100, 10);
 *   const ingest = await automergeRepoIngest(20_000); // undefined without the trace
 *   const server = await startPeerServer('hocuspocus', dir); // …; await server.stop()
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { procCpuMs, procStatusBytes, waitForLine } from '../proc.js';
import { withTempDir } from '../timing.js';

export type PeerKind = 'automerge-repo' | 'y-websocket';
/** Every peer server these benches run (Hocuspocus speaks its own protocol: ../yjs-load.ts only). */
export type PeerServerKind = PeerKind | 'hocuspocus';

/** A running peer server child. */
export interface PeerServer {
  /** `ws://127.0.0.1:<port>` */
  wsUrl: string;
  pid: number | undefined;
  /** SIGTERM, then SIGKILL after `killAfterMs` (default 5 s); resolves once it exited. */
  stop(killAfterMs?: number): Promise<void>;
}

export interface PeerFanoutRun {
  p50: number;
  p99: number;
  max: number;
  received: number;
  expected: number;
  cpuMs: number;
  peakBytes: number;
}

export interface PeerIngestRun {
  edits: number;
  seconds: number;
  converged: boolean;
  serverCpuMs: number;
  peakBytes: number;
}

const START_TIMEOUT_MS = 30_000;
/** Client setup (connect + first sync of every client), beyond the load's own bounds. */
const SETUP_MARGIN_MS = 180_000;

const tsFile = (name: string) => new URL(`./${name}`, import.meta.url).pathname;

/** Node with tsx, as the benches run; stdout piped, stderr shown. */
function spawnTs(file: string, args: readonly string[]): ChildProcess {
  // No persistence or callbacks for the y-websocket server: stock, in memory.
  const env = { ...process.env };
  delete env.YPERSISTENCE;
  delete env.CALLBACK_URL;
  return spawn(process.execPath, ['--import', 'tsx', tsFile(file), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
}

async function stop(child: ChildProcess, killAfterMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs a client child (`file` relative to this directory) to its end
 * (killed after `timeoutMs`); returns its last stdout line as JSON.
 */
export async function runClient<T>(
  file: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<T> {
  const child = spawnTs(file, args);
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => (out += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const last = out.trim().split('\n').at(-1) ?? '';
    if (code !== 0 || !last.startsWith('{')) {
      throw new Error(`${file} failed (exit ${code}): ${last.slice(0, 200)}`);
    }
    return JSON.parse(last) as T;
  } finally {
    clearTimeout(timer);
    await stop(child);
  }
}

/**
 * Starts the `kind` server child and waits until it listens: automerge-repo
 * stores in `dir`, Hocuspocus in the SQLite file `<dir>/hocuspocus.sqlite`
 * (kept across restarts on the same dir), y-websocket in memory only.
 */
export async function startPeerServer(kind: PeerServerKind, dir: string): Promise<PeerServer> {
  const child =
    kind === 'automerge-repo'
      ? spawnTs('automerge-repo-server.ts', [dir])
      : kind === 'hocuspocus'
        ? spawnTs('hocuspocus-server.ts', [hocuspocusDbFile(dir)])
        : spawnTs('y-websocket-server.ts', []);
  try {
    const port = await waitForLine(child, 'listening', START_TIMEOUT_MS);
    return {
      wsUrl: `ws://127.0.0.1:${port}`,
      pid: child.pid,
      stop: (killAfterMs) => stop(child, killAfterMs),
    };
  } catch (err) {
    await stop(child);
    throw err;
  }
}

/** Where `startPeerServer('hocuspocus', dir)` keeps its database. */
export const hocuspocusDbFile = (dir: string) => `${dir}/hocuspocus.sqlite`;

/**
 * Starts the `kind` server child (automerge-repo: storage in a fresh temp
 * dir), runs `load` with its ws URL and pid, then kills it and removes the dir.
 */
async function withPeerServer<T>(
  kind: PeerKind,
  load: (wsUrl: string, pid: number | undefined) => Promise<T>,
): Promise<T> {
  return withTempDir(`cairn-bench-${kind}-`, async (dir) => {
    const server = await startPeerServer(kind, dir);
    try {
      return await load(server.wsUrl, server.pid);
    } finally {
      await server.stop();
    }
  });
}

/**
 * Fan-out against a stock peer: one writer, `subscribers` subscribers, one
 * change per 1/`perSecond` s for `seconds` s (open loop); delivery latency
 * from each change's due time, server CPU during the load, peak server RSS.
 */
export async function peerFanout(
  kind: PeerKind,
  perSecond: number,
  subscribers: number,
  seconds: number,
): Promise<PeerFanoutRun> {
  const count = Math.max(1, Math.round(perSecond * seconds));
  return withPeerServer(kind, async (wsUrl, pid) => {
    const cpuBefore = procCpuMs(pid);
    const result = await runClient<Omit<PeerFanoutRun, 'cpuMs' | 'peakBytes'>>(
      'peer-fanout-load.ts',
      [kind, wsUrl, String(subscribers), String(perSecond), String(count)],
      seconds * 1000 + 60_000 + SETUP_MARGIN_MS,
    );
    return {
      p50: result.p50,
      p99: result.p99,
      max: result.max,
      received: result.received,
      expected: result.expected,
      cpuMs: procCpuMs(pid) - cpuBefore,
      peakBytes: procStatusBytes(pid, 'VmHWM'),
    };
  });
}

/**
 * The automerge-paper trace's first `edits` txns through a stock
 * automerge-repo sync server (one writer Repo, one subscriber Repo): seconds
 * from the first edit until the subscriber has the writer's final text, the
 * server's CPU over that run and its peak RSS; undefined without the trace.
 */
export async function automergeRepoIngest(edits: number): Promise<PeerIngestRun | undefined> {
  return withPeerServer('automerge-repo', async (wsUrl, pid) => {
    const cpuBefore = procCpuMs(pid);
    const result = await runClient<
      { edits: number; seconds: number; converged: boolean } | { skipped: string }
    >('automerge-repo-ingest.ts', [wsUrl, String(edits)], 300_000 + SETUP_MARGIN_MS);
    if ('skipped' in result) return undefined;
    return {
      edits: result.edits,
      seconds: result.seconds,
      converged: result.converged,
      serverCpuMs: procCpuMs(pid) - cpuBefore,
      peakBytes: procStatusBytes(pid, 'VmHWM'),
    };
  });
}

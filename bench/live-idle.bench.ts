/**
 * Issue "Live sync", idle connections: N clients (default 10,000, in their
 * own process) each connected with one subscription; the server's RSS per
 * connection (target < 20 KiB), beside a bare `ws` server holding the same
 * connections in the same run (the least any server can cost).
 */
import { spawn } from 'node:child_process';
import { procStatusBytes, waitForLine } from './lib/proc.js';
import { printGrid } from './lib/report.js';
import { startServerChild } from './lib/server-child.js';
import { withTempDir } from './lib/timing.js';

const SPACE = 'did:key:z6MkIdleConnectionsBench';
const SETTLE_MS = 2_000;
const TARGET_BYTES_PER_CONNECTION = 20 * 1024;

const tsFile = (name: string) => new URL(`./lib/${name}`, import.meta.url).pathname;

interface IdleFigure {
  label: string;
  errors: number;
  before: number;
  with: number;
}

async function holdClients(serverPid: number | undefined, wsUrl: string, n: number) {
  const before = procStatusBytes(serverPid, 'VmRSS');
  const clients = spawn(
    process.execPath,
    ['--import', 'tsx', tsFile('idle-clients.ts'), wsUrl, String(n)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const errors = Number(await waitForLine(clients, 'ready'));
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const withClients = procStatusBytes(serverPid, 'VmRSS');
  const exited = new Promise((resolve) => clients.once('exit', resolve));
  clients.stdin?.end('stop\n');
  await exited;
  return { errors, before, with: withClients };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** Runs the idle-connections bench; returns whether the target was met. */
export async function benchIdle(n: number): Promise<boolean> {
  const figures: IdleFigure[] = [];
  await withTempDir('cairn-bench-idle-', async (dataDir) => {
    const server = await startServerChild(dataDir);
    try {
      const wsUrl = `${server.url.replace('http', 'ws')}/v1/${SPACE}/ws`;
      figures.push({ label: 'cairn', ...(await holdClients(server.child.pid, wsUrl, n)) });
    } finally {
      await server.stop();
    }
  });
  const bare = spawn(process.execPath, ['--import', 'tsx', tsFile('bare-ws-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await waitForLine(bare, 'listening');
    figures.push({
      label: 'bare ws server (baseline)',
      ...(await holdClients(bare.pid, `ws://127.0.0.1:${port}/`, n)),
    });
  } finally {
    bare.kill();
  }
  const per = (f: IdleFigure) => (f.with - f.before) / n;
  const ours = figures[0] as IdleFigure;
  const met = per(ours) < TARGET_BYTES_PER_CONNECTION && ours.errors === 0;
  printGrid(
    `Idle connections — ${n.toLocaleString('en-US')} clients, each hello + one subscription (clients in their own process)`,
    ['server', 'errors', 'RSS before', 'RSS with', 'per connection', 'target', ''],
    figures.map((f, i) => [
      f.label,
      String(f.errors),
      mib(f.before),
      mib(f.with),
      kib(per(f)),
      i === 0 ? `< 20 KiB ${met ? 'yes' : 'NO'}` : '',
      i === 0
        ? `${(per(f) / per(figures[1] as IdleFigure)).toFixed(1)}× the bare server`
        : 'baseline',
    ]),
  );
  return met;
}

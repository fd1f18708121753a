import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** PostgreSQL 15 binaries as Debian installs them (override with CAIRN_PG_BIN). */
export const PG_BIN = process.env.CAIRN_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PgCluster {
  /** Superuser URL of the `postgres` database. */
  adminUrl: string;
  port: number;
  /** Stops the server and deletes the cluster. */
  stop(): void;
  /** Stops the server (fast shutdown: sessions are cut), keeping its data and port. */
  halt(): void;
  /** Starts a halted server again, on the same port and data. */
  restart(): void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** initdb refuses to run as root: run the server tools as `postgres` then. */
function asPgUser(cmd: string, args: string[]): string {
  const isRoot = process.getuid?.() === 0;
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  return execFileSync(file, argv, { stdio: 'pipe', encoding: 'utf8' });
}

export interface PgClusterOptions {
  /**
   * Keep PostgreSQL's durable defaults (fsync, synchronous_commit and
   * full_page_writes on), for benchmarks. Default false: those are turned
   * off for test speed.
   */
  durable?: boolean;
}

/**
 * Starts a throwaway cluster on a free loopback port (by default fsync off:
 * test speed only; durability of cairn's own receipts is what the tests
 * check; `durable: true` keeps the server's durable defaults). Throws with
 * the server's log if it cannot start — a test that needs PostgreSQL never
 * passes silently without it.
 */
export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const initdb = path.join(PG_BIN, 'initdb');
  if (!fs.existsSync(initdb)) {
    throw new Error(
      `PostgreSQL 15 not found at ${PG_BIN} (install postgresql-15 or set CAIRN_PG_BIN)`,
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-pg-'));
  fs.chmodSync(dir, 0o777);
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const port = await freePort();
  const ctl = path.join(PG_BIN, 'pg_ctl');
  let opts = '';
  const start = () =>
    asPgUser(ctl, ['-D', dataDir, '-w', '-t', '30', '-o', opts, '-l', logFile, 'start']);
  try {
    asPgUser(initdb, ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale']);
    const fast = options.durable
      ? ''
      : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
    opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${fast} -c max_connections=300`;
    start();
  } catch (err) {
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`, { cause: err });
  }
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    halt: () => void asPgUser(ctl, ['-D', dataDir, '-m', 'fast', '-w', 'stop']),
    restart: () => void start(),
    stop: () => {
      const isRoot = process.getuid?.() === 0;
      const args = ['-D', dataDir, '-m', 'immediate', 'stop'];
      spawnSync(isRoot ? 'runuser' : ctl, isRoot ? ['-u', 'postgres', '--', ctl, ...args] : args, {
        stdio: 'ignore',
      });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

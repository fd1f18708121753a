import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { procStatusBytes } from './proc.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI_ENTRY = path.join(REPO_ROOT, 'dist/cli/main.js');
const START_TIMEOUT_MS = 20_000;
/** A fixed key so the server writes no key file at start. */
const SERVER_KEY = Buffer.alloc(32, 13).toString('base64url');

/** A `cairn serve` child process on SQLite (the built CLI, as a user runs it). */
export interface ServerChild {
  url: string;
  child: ChildProcess;
  /** A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`), or NaN off Linux. */
  statusBytes(field: 'VmRSS' | 'VmHWM'): number;
  stop(): Promise<void>;
}

/**
 * Starts `node dist/cli/main.js serve --auth off --port 0 --data <dataDir>`
 * and waits for "listening". `nodeArgs` go to node itself (e.g. `--cpu-prof`);
 * `env` is added to the environment (e.g. `CAIRN_ENABLE_ADMIN_ROUTES: '1'`).
 */
export async function startServerChild(
  dataDir: string,
  nodeArgs: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<ServerChild> {
  if (!fs.existsSync(CLI_ENTRY)) throw new Error(`${CLI_ENTRY} not found: run npm run build`);
  const child = spawn(
    process.execPath,
    [...nodeArgs, CLI_ENTRY, 'serve', '--auth', 'off', '--port', '0', '--data', dataDir],
    {
      env: { ...process.env, CAIRN_SERVER_KEY: SERVER_KEY, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start')), START_TIMEOUT_MS);
    let buffered = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      const match =
        /"msg":"listening"[^\n]*?"port":(\d+)|"port":(\d+)[^\n]*?"msg":"listening"/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1] ?? match[2]));
      }
      if (buffered.length > 1 << 20) buffered = buffered.slice(-4096);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening (code ${code})`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    statusBytes: (field) => procStatusBytes(child.pid, field),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { procCpuMs, procStatusBytes } from '../../bench/lib/proc.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_ENTRY = path.join(REPO_ROOT, 'dist/cli/main.js');
const START_TIMEOUT_MS = 60_000;
/** A fixed key so the server writes no key file at start. */
const SERVER_KEY = Buffer.alloc(32, 29).toString('base64url');

/** Where the server keeps its data: a SQLite data directory or a PostgreSQL URL. */
export type ServerStore = { kind: 'sqlite'; dataDir: string } | { kind: 'postgres'; url: string };

/** What the server logged at warn (pino 40) and above. */
export interface ServerLog {
  warnings: number;
  errors: number;
  /** The first few such lines, verbatim (cut at 500 characters). */
  samples: string[];
}

export interface CairnServer {
  url: string;
  pid: number | undefined;
  cpuMs(): number;
  peakRssBytes(): number;
  log: ServerLog;
  stop(): Promise<void>;
}

/**
 * `node dist/cli/main.js serve --auth off --port 0` (the built CLI, as a
 * user runs it) on 127.0.0.1, with `--data DIR --sync full` (every answer
 * after its durable commit, stated rather than left to CAIRN_SYNC) or
 * `--database URL`. Waits for its "listening" line; its stdout is read for
 * the whole run (so it never blocks) and warn/error lines are counted.
 */
export async function startCairnServer(store: ServerStore): Promise<CairnServer> {
  if (!fs.existsSync(CLI_ENTRY)) throw new Error(`${CLI_ENTRY} not found: run npm run build first`);
  const storeArgs =
    store.kind === 'sqlite'
      ? ['--data', store.dataDir, '--sync', 'full']
      : ['--database', store.url];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CAIRN_SERVER_KEY: SERVER_KEY,
    LOG_LEVEL: 'info',
  };
  for (const name of ['CAIRN_DATA', 'CAIRN_DATABASE_URL', 'CAIRN_SYNC', 'CAIRN_HOST']) {
    delete env[name];
  }
  // Node flags for the server only, for diagnosis (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
  const nodeArgs = (process.env.LOADGEN_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      CLI_ENTRY,
      'serve',
      '--auth',
      'off',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      ...storeArgs,
    ],
    // Same process group: a Ctrl-C on the terminal reaches the server too,
    // so it never outlives the run, whatever becomes of this process.
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: ServerLog = { warnings: 0, errors: 0, samples: [] };
  const onLine = (line: string) => {
    const level = /"level":(\d+)/.exec(line)?.[1];
    const n = level === undefined ? (line.trim() ? 50 : 0) : Number(level);
    if (n >= 40 && !line.includes('authorization is OFF')) {
      if (n >= 50) log.errors++;
      else log.warnings++;
      if (log.samples.length < 5) log.samples.push(line.slice(0, 500));
    }
  };
  const lines = (stream: NodeJS.ReadableStream, each: (line: string) => void) => {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        each(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf('\n');
      }
    });
  };
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('server did not start in time')),
      START_TIMEOUT_MS,
    );
    let found = false;
    lines(child.stdout, (line) => {
      if (!found && line.includes('"msg":"listening"')) {
        const p = /"port":(\d+)/.exec(line)?.[1];
        if (p) {
          found = true;
          clearTimeout(timer);
          resolve(Number(p));
          return;
        }
      }
      onLine(line);
    });
    lines(child.stderr, onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new Error(`server exited before listening (code ${code}): ${log.samples.join(' | ')}`),
      );
    });
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  let peak = 0;
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    cpuMs: () => procCpuMs(child.pid),
    peakRssBytes: () => {
      const now = procStatusBytes(child.pid, 'VmHWM');
      if (Number.isFinite(now)) peak = now;
      return peak || Number.NaN;
    },
    log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

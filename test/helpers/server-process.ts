import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, TEST_BACKEND, type TestDatabase } from './backend.js';

/**
 * Runs the built CLI (`dist/cli/main.js serve`) as a child process, the way a
 * user runs it: loopback only, auth off, any free port. Every child started
 * here is tracked, so `stopAllServers()` (and, as a last resort, process exit)
 * leaves none running.
 */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_ENTRY = path.join(REPO_ROOT, 'dist/cli/main.js');
/** Same seed as the in-process engine tests: a stable server DID. */
export const E2E_SERVER_KEY = Buffer.alloc(32, 7).toString('base64url');

const START_TIMEOUT_MS = 15_000;
/** Test databases made for servers of this worker (postgres project). */
const databases: TestDatabase[] = [];
const STOP_TIMEOUT_MS = 10_000;
/** Output kept per child for error messages (the tail). */
const MAX_OUTPUT_CHARS = 64 * 1024;

export interface StartServerOptions {
  dataDir: string;
  /** `full` (default of the CLI when omitted) or `normal`. */
  sync?: 'full' | 'normal';
  /** Extra environment, on top of the parent's (minus any CAIRN_* of the parent). */
  env?: Record<string, string>;
  /** Defaults to E2E_SERVER_KEY; pass null to let the server make/keep its own key. */
  serverKey?: string | null;
  /**
   * PostgreSQL URL (`--database`). On the postgres test project a fresh
   * database is made when omitted; restarts reuse it.
   */
  databaseUrl?: string;
  startTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

export interface ServerProcess {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** The `serverDid` of the listening log line. */
  readonly serverDid: string;
  readonly options: StartServerOptions;
  /** stdout and stderr so far (tail). */
  output(): string;
  /** Whether the child is still running. */
  readonly alive: boolean;
  /**
   * Sends a signal and waits for the process to exit; resolves with its exit
   * code/signal. If it has not exited after `timeoutMs` (default 10 s), it is
   * SIGKILLed and `timedOut` is true.
   */
  kill(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  /** Waits for the process to exit (after a signal sent elsewhere); SIGKILL after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<ExitInfo>;
  /** Graceful stop (SIGTERM), SIGKILL if it does not exit in time. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function childEnv(extra: Record<string, string>, serverKey: string | null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CAIRN_')) env[k] = v;
  }
  env.LOG_LEVEL = 'info';
  if (serverKey !== null) env.CAIRN_SERVER_KEY = serverKey;
  return { ...env, ...extra };
}

function waitForExit(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Starts `cairn serve` on `options.dataDir`; resolves once it logs `listening`. */
export async function startServer(given: StartServerOptions): Promise<ServerProcess> {
  if (!fs.existsSync(CLI_ENTRY)) {
    throw new Error(`${CLI_ENTRY} is missing: run \`npm run build\` before the e2e tests`);
  }
  const options = { ...given };
  if (TEST_BACKEND === 'postgres' && !options.databaseUrl) {
    const db = await createTestDatabase();
    databases.push(db);
    options.databaseUrl = db.url;
  }
  const args = [
    CLI_ENTRY,
    'serve',
    '--auth',
    'off',
    '--host',
    '127.0.0.1',
    '--data',
    options.dataDir,
    '--port',
    '0',
  ];
  if (options.sync) args.push('--sync', options.sync);
  if (options.databaseUrl) args.push('--database', options.databaseUrl);
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: childEnv(options.env ?? {}, options.serverKey ?? E2E_SERVER_KEY),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));

  let output = '';
  const append = (text: string) => {
    output += text;
    if (output.length > MAX_OUTPUT_CHARS) output = output.slice(-MAX_OUTPUT_CHARS);
  };
  let stdoutBuffer = '';
  let onLine: ((line: string) => void) | undefined;
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    append(chunk);
    stdoutBuffer += chunk;
    let nl: number;
    while ((nl = stdoutBuffer.indexOf('\n')) >= 0) {
      const line = stdoutBuffer.slice(0, nl);
      stdoutBuffer = stdoutBuffer.slice(nl + 1);
      onLine?.(line);
    }
  });
  child.stderr?.on('data', (chunk: string) => append(chunk));

  const timeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
  let listening: { port: number; serverDid: string };
  try {
    listening = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server did not log "listening" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      onLine = (line) => {
        let entry: { msg?: unknown; port?: unknown; serverDid?: unknown };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          return;
        }
        if (entry.msg === 'listening' && typeof entry.port === 'number') {
          clearTimeout(timer);
          resolve({ port: entry.port, serverDid: String(entry.serverDid) });
        }
      };
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      // 'close' (not 'exit'): by then all of its output has been read, for the error message.
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server exited before listening (code ${code}, signal ${signal})`));
      });
    });
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await waitForExit(child);
    }
    throw new Error(
      `${(err as Error).message}\n--- command: node ${args.join(' ')}\n--- output:\n${output}`,
      { cause: err },
    );
  } finally {
    onLine = undefined;
  }

  const kill: ServerProcess['kill'] = async (signal = 'SIGKILL', timeoutMs = STOP_TIMEOUT_MS) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited(timeoutMs);
  };
  const exited: ServerProcess['exited'] = async (timeoutMs = STOP_TIMEOUT_MS) => {
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      waitForExit(child),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (exited) return { ...exited, timedOut: false };
    child.kill('SIGKILL');
    return { ...(await waitForExit(child)), timedOut: true };
  };
  return {
    url: `http://127.0.0.1:${listening.port}`,
    port: listening.port,
    dataDir: options.dataDir,
    child,
    serverDid: listening.serverDid,
    options,
    output: () => output,
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    kill,
    exited,
    stop: async () => {
      await kill('SIGTERM');
    },
  };
}

/** Starts a new server process on the same data dir (and options) as `previous`, which must be stopped. */
export async function restartServer(previous: ServerProcess): Promise<ServerProcess> {
  if (previous.alive) throw new Error('restartServer: the previous process is still running');
  return startServer(previous.options);
}

/** Stops every child started by this module (for afterAll/afterEach), and drops their test databases. */
export async function stopAllServers(): Promise<void> {
  await Promise.all(
    [...running].map(async (child) => {
      child.kill('SIGKILL');
      await waitForExit(child);
    }),
  );
  const dbs = databases.splice(0);
  await Promise.all(dbs.map((db) => db.drop()));
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP request with the path sent exactly as given (fetch normalizes
 * `..` and `%2e%2e` segments away, this does not).
 */
export function rawRequest(
  port: number,
  method: string,
  rawPath: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let responded = false;
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: rawPath,
        headers: {
          connection: 'close',
          ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
          ...headers,
        },
        timeout: 15_000,
      },
      (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request ${method} ${rawPath} timed out`)));
    // An early answer (e.g. 413 before the upload ends) wins over the EPIPE that may follow.
    req.on('error', (err) => {
      if (!responded) reject(err);
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A stack frame (`at fn (file:line:col)`) or a source path in a response body. */
const STACK_TRACE =
  /(\n\s*at\s)|(\bat\s+\S+\s+\(.*:\d+:\d+\))|(\.(?:ts|js|mjs|cjs):\d+)|(\/node_modules\/)|(node:internal)/;

export function looksLikeStackTrace(body: string): boolean {
  return STACK_TRACE.test(body) || body.includes(REPO_ROOT);
}

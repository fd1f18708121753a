import fs from 'node:fs';
import { expect } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { startServer, stopAllServers, type ServerProcess } from '../../helpers/server-process.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

/**
 * A `cairn serve` child process for the fuzz suites, with every optional
 * route on (admin routes, server merge) so that all of them are reachable,
 * and a watch on its log: a line at level error (a 500, an unhandled
 * rejection, an uncaught exception) is a finding even when no client saw it.
 */

/** Log lines at pino level error (50) or fatal (60). */
const ERROR_LEVEL = 50;
/** RSS may grow by this much over a run (caches, allocator slack) and still be "bounded". */
export const RSS_GROWTH_BOUND_BYTES = 384 * 1024 * 1024;

export interface FuzzServer {
  readonly server: ServerProcess;
  readonly url: string;
  readonly port: number;
  /** Error-level log lines so far (first 20). */
  readonly errors: string[];
  /** Resident set size of the child process, from /proc. */
  rssBytes(): number;
  /**
   * Stops the server and runs `cairn verify` on each space (each must pass);
   * `mayBeAbsent` spaces (a fuzzed write may or may not have created them)
   * pass when they do not exist either.
   */
  stopAndVerify(spaces: Iterable<string>, mayBeAbsent?: Iterable<string>): Promise<void>;
  cleanup(): Promise<void>;
}

/** Starts the fuzz target on the backend under test (a fresh PostgreSQL database there). */
export async function startFuzzServer(): Promise<FuzzServer> {
  const { dir, cleanup } = makeTempDir('cairn-fuzz-');
  const server = await startServer({
    dataDir: dir,
    sync: 'normal',
    env: { CAIRN_ENABLE_ADMIN_ROUTES: '1', ENABLE_SERVER_MERGE: '1' },
  });
  const errors: string[] = [];
  let partial = '';
  server.child.stdout?.on('data', (chunk: string | Buffer) => {
    partial += String(chunk);
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (errors.length >= 20) return;
      try {
        const entry = JSON.parse(line) as { level?: number };
        if ((entry.level ?? 0) >= ERROR_LEVEL) errors.push(line.slice(0, 4000));
      } catch {
        // not a log line (nothing else is written to stdout)
      }
    }
  });
  return {
    server,
    url: server.url,
    port: server.port,
    errors,
    rssBytes: () => rssOf(server.child.pid),
    async stopAndVerify(spaces, mayBeAbsent = []) {
      await server.stop();
      const where = server.options.databaseUrl
        ? ['--database', server.options.databaseUrl]
        : ['--data', dir];
      const optional = new Set(mayBeAbsent);
      for (const space of new Set([...spaces, ...optional])) {
        const out = runCli(['verify', '--space', space, ...where, '--json'], {}, 120_000);
        if (optional.has(space) && out.code === 2 && /no such space/.test(out.stderr)) continue;
        expect(out.code, `cairn verify --space ${space}: ${out.stdout} ${out.stderr}`).toBe(0);
        expect((JSON.parse(out.stdout) as { ok: boolean }).ok).toBe(true);
      }
    },
    async cleanup() {
      await stopAllServers();
      cleanup();
    },
  };
}

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/**
 * The end-of-run checks shared by the fuzz suites: the process is alive and
 * serving, wrote no error-level log line, and its RSS grew by less than the
 * bound since `rssBefore`.
 */
export async function expectStillHealthy(fuzz: FuzzServer, rssBefore: number): Promise<void> {
  expect(fuzz.server.alive, 'the server process is still running').toBe(true);
  const health = await fetch(`${fuzz.url}/healthz`, { signal: AbortSignal.timeout(15_000) });
  expect(health.status).toBe(200);
  expect(fuzz.errors, 'error-level log lines of the server').toEqual([]);
  const rssAfter = fuzz.rssBytes();
  console.log(
    `proof: fuzz rss before=${Math.round(rssBefore / 2 ** 20)}MiB after=${Math.round(rssAfter / 2 ** 20)}MiB`,
  );
  expect(rssAfter - rssBefore, 'RSS growth over the run').toBeLessThan(RSS_GROWTH_BOUND_BYTES);
}

/**
 * `npm run loadgen -- --scenario kv [--backend sqlite|postgres] [--seconds N] …`
 * (`--help` for every flag): an open-loop load generator against a cairn
 * server child process on 127.0.0.1. Flow: the raw SQLite commit rate
 * (machine baseline) → the store (temp SQLite dir, or a durable throwaway
 * PostgreSQL cluster) → `node dist/cli/main.js serve` → the scenario's setup
 * (e.g. prefill) → warmup + measured window on a fixed schedule → drain →
 * summary table, targets, JSON + Influx reports. Child processes and temp
 * data are removed in `finally` (and on exit).
 */
import { fmtMs, seededRandom } from '../bench/lib/percentiles.js';
import { parseArgs, UsageError, type RunConfig } from './cli.js';
import { openBackend, rawSqliteBaseline, type Backend } from './lib/backend.js';
import { HttpClient } from './lib/http.js';
import { runOpenLoop, type OpenLoopState } from './lib/open-loop.js';
import { writeReports } from './lib/outputs.js';
import { progressLine } from './lib/progress.js';
import type { Recorder } from './lib/recorder.js';
import type { PreparedScenario } from './scenario.js';
import { startCairnServer, type CairnServer } from './lib/server.js';
import { processDelta, scrapeProcess, type ProcessSample } from './lib/server-metrics.js';
import { printSummary, summarize } from './lib/summary.js';

const MAX_SOCKETS = 256;
const REQUEST_TIMEOUT_MS = 15_000;

const int = (n: number) => n.toLocaleString('en-US');

/** A scenario with its own run (typists, yjs): the CLI gives it flags, a progress line and Ctrl-C. */
async function runStandalone(
  cfg: RunConfig,
  runIt: NonNullable<RunConfig['scenario']['run']>,
): Promise<number> {
  const progress = progressLine();
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
    progress.update('stopping (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { backend, seconds, warmup, out, seed } = cfg;
    return await runIt(cfg.flags, {
      backend,
      seconds,
      warmup,
      out,
      seed,
      progress,
      signal: abort.signal,
    });
  } finally {
    progress.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function run(cfg: RunConfig): Promise<number> {
  const { run: runIt, prepare } = cfg.scenario;
  if (runIt) return runStandalone(cfg, runIt.bind(cfg.scenario));
  const prepareIt = prepare?.bind(cfg.scenario);
  if (!prepareIt) throw new Error(`scenario ${cfg.scenario.name} has neither prepare nor run`);
  const progress = progressLine();
  const abort = new AbortController();
  let server: CairnServer | undefined;
  let backend: Backend | undefined;
  let http: HttpClient | undefined;
  let prepared: PreparedScenario | undefined;
  // Last resort (a second Ctrl-C, an uncaught error): nothing of ours outlives us.
  const onExit = () => {
    if (server?.pid !== undefined) {
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    void backend?.close();
  };
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
    progress.update('stopping: waiting for the operations in flight (Ctrl-C again to quit now)');
  };
  process.on('exit', onExit);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const startedAt = new Date();
  try {
    progress.update('measuring the raw SQLite commit rate (2 s)…');
    const rawSqlite = await rawSqliteBaseline();
    progress.update(
      `starting ${cfg.backend}${cfg.backend === 'postgres' ? ' (cluster + raw baseline)' : ''}…`,
    );
    backend = await openBackend(cfg.backend);
    server = await startCairnServer(backend.store);
    http = new HttpClient(server.url, { maxSockets: MAX_SOCKETS, timeoutMs: REQUEST_TIMEOUT_MS });
    // The first scrape installs the server's GC and event-loop observers.
    await scrapeProcess(http);
    prepared = prepareIt(cfg.flags, {
      http,
      backend,
      random: seededRandom(cfg.seed),
      progress,
      signal: abort.signal,
    });
    const setup = await prepared.setup();
    if (abort.signal.aborted) {
      console.error('loadgen: stopped by a signal during setup');
      return 130;
    }

    const cpu0 = server.cpuMs();
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    const label = `${cfg.scenario.name} ${cfg.backend}`;
    const onState = (s: OpenLoopState, r: Recorder) => {
      const total = s.phase === 'warmup' ? cfg.warmup : cfg.warmup + cfg.seconds;
      progress.update(
        `${label}  ${s.phase} ${s.elapsedSeconds.toFixed(1)}/${total} s  sent ${int(s.started)}  ` +
          `answered ${int(s.finished)}  in flight ${int(s.inFlight)}  unexpected ${int(s.unexpected)}  ` +
          `p99 last s ${fmtMs(r.recentP99(performance.now()))}`,
      );
    };
    let atWindowStart: Promise<ProcessSample | undefined> | undefined;
    const client = http;
    const result = await runOpenLoop(
      {
        onWindowStart: () => {
          atWindowStart = scrapeProcess(client);
        },
        ratePerSecond: prepared.ratePerSecond,
        warmupSeconds: cfg.warmup,
        seconds: cfg.seconds,
        start: (n) => (prepared as PreparedScenario).start(n),
        signal: abort.signal,
      },
      onState,
    );
    progress.done();
    const processReport = processDelta(await atWindowStart, await scrapeProcess(http));
    const wallMs = performance.now() - t0;
    const ownCpu = process.cpuUsage(own0);
    const summary = summarize({
      scenario: cfg.scenario.name,
      backend: cfg.backend,
      describe: prepared.describe,
      backendDescribe: backend.describe,
      startedAt,
      warmupSeconds: cfg.warmup,
      ratePerSecond: prepared.ratePerSecond,
      ops: prepared.ops,
      groups: prepared.groups,
      result,
      baselines: [rawSqlite, ...backend.baselines],
      server: {
        cpuPercentOfOneCore: ((server.cpuMs() - cpu0) / wallMs) * 100,
        peakRssBytes: server.peakRssBytes(),
        log: server.log,
        ...(processReport ? { process: processReport } : {}),
      },
      loadgen: { cpuPercentOfOneCore: ((ownCpu.user + ownCpu.system) / 1000 / wallMs) * 100 },
      setup,
      facts: prepared.facts(),
    });
    summary.targets = await prepared.targets(summary);
    const files = writeReports(cfg.out, summary);
    printSummary(summary, files);
    return summary.unexpectedErrors > 0 || !summary.complete ? 1 : 0;
  } finally {
    progress.done();
    // The scenario's own clients go first: they must not see the server leave.
    await prepared?.teardown?.().catch((err: unknown) => {
      console.error(`loadgen: scenario teardown: ${(err as Error).message}`);
    });
    http?.close();
    await server?.stop();
    await backend?.close();
    server = undefined;
    backend = undefined;
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if ('exit' in parsed) return parsed.exit;
  try {
    return await run(parsed.run);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`loadgen: ${err.message}`);
      return 2;
    }
    console.error(`loadgen: ${(err as Error).stack ?? String(err)}`);
    return 1;
  }
}

process.exitCode = await main();
// Nothing should be left running; if something is, do not hang.
setTimeout(() => process.exit(), 2_000).unref();

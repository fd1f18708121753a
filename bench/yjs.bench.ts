/**
 * The Yjs section (SPEC §11, docs/YJS.md): cairn serving Yjs docs to the
 * stock y-websocket provider — a `cairn serve` child on SQLite with the
 * default durability (`sync: full`: every update committed before anyone
 * else sees it) — beside, in the same run and on the same workload, the
 * stock y-websocket server (@y/websocket-server 0.1.1: an in-memory relay,
 * nothing durable) and Hocuspocus 4.7 with its SQLite extension (stores
 * the whole document state, debounced 2 s after a change). Every server is
 * a child process on 127.0.0.1; the clients run in another
 * (bench/lib/yjs-load.ts); each edit is an automerge-paper trace txn as
 * `Y.Text` edits.
 *
 * 1. updates/s, one writer → one reader (first BENCH_YJS_EDITS edits, one
 *    update each, as fast as the writer can). Target: cairn ≥ 0.5× the
 *    y-websocket relay.
 * 2. fan-out: 20 readers, 50 updates/s for 10 s, open loop; latency from
 *    each update's due time to each reader's receipt, p50/p99 over all
 *    samples. Target: cairn's p99 ≤ the best peer's. Beside it, the disk's
 *    own floor: raw SQLite FULL commits at the same rate, no server.
 * 3. cold load on a freshly restarted server (the doc comes from storage):
 *    the whole trace (~1,300 updates of 200 edits) and a doc of
 *    BENCH_YJS_FACTOR (default 100) copies of it; a fresh client from
 *    connect until synced, median of 5 restarts (the big doc: 3), cairn and
 *    Hocuspocus alternating. Target: cairn ≤ Hocuspocus, for both docs.
 * 4. compaction: `POST /admin/compact` of the trace doc (and of the big
 *    one), and every server's peak RSS (VmHWM) in each phase.
 * 5. bytes on disk per update (cairn's data dir, Hocuspocus's SQLite file,
 *    after a clean stop), for information.
 *
 * A peer that does not start is reported with its error; its figures are
 * left out and a target that needs it counts as not met.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { fmtMs, summarize, type Summary } from './lib/percentiles.js';
import { runClient, startPeerServer, type PeerServerKind } from './lib/peers/run-peers.js';
import { procCpuMs, procStatusBytes } from './lib/proc.js';
import { measureRawCommitLatency } from './lib/raw-sqlite.js';
import { printGrid } from './lib/report.js';
import { startServerChild } from './lib/server-child.js';
import { median, withTempDir } from './lib/timing.js';
import { traceFile, TRACE_MISSING } from '../test/helpers/trace-data.js';

const SPACE = 'did:key:z6MkBenchYjs';
const TRACE_DOC = 'papers/automerge';
const BIG_DOC = 'papers/automerge-big';
const THROUGHPUT_MAX_SECONDS = 30;
/** Repetitions of the updates/s figure per server (interleaved across servers). */
const THROUGHPUT_RUNS = 3;
const FANOUT = { readers: 20, perSecond: 50, seconds: 10 };
/** Cold-load restarts per server; the big doc is loaded in the first BIG_COLD_ROUNDS only. */
const COLD_ROUNDS = 5;
const BIG_COLD_ROUNDS = 3;
const COMPACT_ROUNDS = 3;
/** Raw durable commits (SQLite FULL) timed at the fan-out's rate: the disk's latency floor. */
const FLOOR_COMMITS = 250;
/** Making the big doc's copies stops after this long (the factor is printed). */
const GEN_SECONDS = 30;
/** Client children: their own bounds plus setup. */
const CLIENT_TIMEOUT_MS = 240_000;

type Kind = 'cairn' | 'y-websocket' | 'hocuspocus';
const KINDS: readonly Kind[] = ['cairn', 'y-websocket', 'hocuspocus'];
const LABEL: Record<Kind, string> = {
  cairn: 'cairn (SQLite FULL, durable before broadcast)',
  'y-websocket': 'y-websocket server 0.1.1 (in memory)',
  hocuspocus: 'Hocuspocus 4.7 + SQLite extension',
};

export interface YjsBenchOptions {
  /** Trace edits of the throughput figure (default 20,000). */
  edits: number;
  /** Copies of the trace doc in the big doc (default 100). */
  factor: number;
}

interface Server {
  /** What yjs-load.ts connects to: cairn `ws://…/v1/<space>/yjs`, a peer `ws://…`. */
  wsBase: string;
  /** cairn's HTTP base (admin routes, /debug). */
  httpUrl?: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

interface Throughput {
  sent: number;
  delivered: number;
  messages: number;
  seconds: number;
  sendSeconds: number;
  converged: boolean;
  clientCpuMs: number;
}

interface Fanout {
  p50: number;
  p99: number;
  max: number;
  samples: number;
  received: number;
  expected: number;
  writerLagMs: number;
  clientCpuMs: number;
}

interface LiveRun {
  /** One per repetition (rotating order across servers). */
  throughput: Throughput[];
  throughputCpuMs: number[];
  fanout: Fanout;
  fanoutCpuMs: number;
  /** Updates stored: cairn's /debug `yjs.committed`; a peer's: updates its writers sent. */
  updates: number;
  peakBytes: number;
  /** After a clean stop (y-websocket: none). */
  diskBytes: number | undefined;
  /** cairn: the largest tables and indexes on disk. */
  tables?: [string, number][];
}

interface Seed {
  traceUpdates: number;
  traceBytes: number;
  traceStateBytes: number;
  traceMs: number;
  factor: number;
  genMs: number;
  bigUpdates: number;
  bigBytes: number;
  bigStateBytes: number;
  bigMs: number;
}

interface ColdLoad {
  ms: number;
  complete: boolean;
  /** cairn only: its /debug `yjs.coldLoadMs` for this doc (checkpoint + journal → Y.Doc). */
  serverMs?: number;
}

interface ColdRound {
  trace: ColdLoad;
  big?: ColdLoad;
  peakBytes: number;
}

interface StorageRun {
  seed: Seed;
  /** cairn only: `POST /admin/compact` wall times (ms). */
  compactTraceMs: number[];
  compactBigMs: number[];
  /** cairn only: checkpoints made in the background while seeding. */
  backgroundCheckpoints?: number;
  seedPeakBytes: number;
  diskBytes: number;
  /** cairn: the largest tables and indexes on disk. */
  tables?: [string, number][];
  cold: ColdRound[];
}

const yes = (b: boolean) => (b ? 'yes' : 'NO');
const mib = (bytes: number) =>
  Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0)} MiB` : '—';
const kib = (bytes: number) => `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KiB`;
const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
const loadAvg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const errText = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 300);

/**
 * Where the bytes of the SQLite files under `dir` are (SQLite's `dbstat`:
 * pages per table and index, all files together), largest first.
 */
function sqliteTableBytes(dir: string): [string, number][] {
  const totals = new Map<string, number>();
  const visit = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) visit(p);
      else if (entry.isFile() && entry.name.endsWith('.sqlite')) {
        const db = new Database(p, { readonly: true, fileMustExist: true });
        try {
          const rows = db
            .prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name')
            .all() as { name: string; bytes: number }[];
          for (const r of rows) totals.set(r.name, (totals.get(r.name) ?? 0) + r.bytes);
        } finally {
          db.close();
        }
      }
    }
  };
  visit(dir);
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** Sum of the sizes of the files under `dir`. */
function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += dirBytes(p);
    else if (entry.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

async function startServer(kind: Kind, dir: string): Promise<Server> {
  if (kind === 'cairn') {
    const child = await startServerChild(path.join(dir, 'cairn'), [], {
      CAIRN_ENABLE_ADMIN_ROUTES: '1',
      CAIRN_SYNC: 'full',
    });
    return {
      wsBase: `${child.url.replace(/^http/, 'ws')}/v1/${SPACE}/yjs`,
      httpUrl: child.url,
      pid: child.child.pid,
      stop: () => child.stop(),
    };
  }
  const peer = await startPeerServer(kind satisfies PeerServerKind, dir);
  // Hocuspocus stores what is pending on SIGTERM: give it time.
  return { wsBase: peer.wsUrl, pid: peer.pid, stop: () => peer.stop(30_000) };
}

function load<T>(mode: string, kind: Kind, server: Server, ...args: (string | number)[]) {
  return runClient<T>(
    '../yjs-load.ts',
    [mode, kind, server.wsBase, ...args.map(String)],
    CLIENT_TIMEOUT_MS,
  );
}

async function cairnDebug(server: Server): Promise<{
  committed: number;
  checkpoints: number;
  coldLoadMs: { p50: number; max: number } | null;
}> {
  const res = await fetch(`${server.httpUrl}/debug`);
  if (!res.ok) throw new Error(`GET /debug: ${res.status}`);
  const body = (await res.json()) as {
    yjs?: {
      committed: number;
      checkpoints: number;
      coldLoadMs: { p50: number; max: number } | null;
    };
  };
  if (!body.yjs) throw new Error('GET /debug has no yjs section');
  return body.yjs;
}

/** `POST /admin/compact` of a Yjs doc; its wall time in ms. */
async function compact(server: Server, docId: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${server.httpUrl}/admin/compact`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ space: SPACE, docId, kind: 'yjs' }),
  });
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`POST /admin/compact ${docId}: ${res.status} ${await res.text()}`);
  return ms;
}

/**
 * Figures 1 and 2 (and the live phase's RSS and bytes on disk): every
 * server started once, side by side (idle while another is measured); the
 * updates/s runs repeated THROUGHPUT_RUNS times in a rotating order, each
 * on a doc of its own, so that drift on this shared machine hits every
 * server alike; then one fan-out run each. A server that does not start or
 * fails a run is reported and left out.
 */
async function benchLive(edits: number): Promise<Partial<Record<Kind, LiveRun>>> {
  return withTempDir('cairn-bench-yjs-live-', async (root) => {
    const dirOf = (kind: Kind) => path.join(root, kind);
    const servers: Partial<Record<Kind, Server>> = {};
    const runs: Partial<Record<Kind, LiveRun>> = {};
    const drop = async (kind: Kind) => {
      await servers[kind]?.stop();
      delete servers[kind];
    };
    try {
      for (const kind of KINDS) {
        fs.mkdirSync(dirOf(kind));
        const server = await attempt(`${LABEL[kind]} (start)`, () =>
          startServer(kind, dirOf(kind)),
        );
        if (server) servers[kind] = server;
      }
      const throughput: Partial<Record<Kind, { run: Throughput; cpuMs: number }[]>> = {};
      for (let rep = 0; rep < THROUGHPUT_RUNS; rep++) {
        for (let i = 0; i < KINDS.length; i++) {
          const kind = KINDS[(i + rep) % KINDS.length] as Kind;
          const server = servers[kind];
          if (!server) continue;
          const cpu0 = procCpuMs(server.pid);
          const run = await attempt(`${LABEL[kind]} (updates/s, run ${rep + 1})`, () =>
            load<Throughput>(
              'throughput',
              kind,
              server,
              `throughput-${rep}`,
              edits,
              THROUGHPUT_MAX_SECONDS,
            ),
          );
          if (run) (throughput[kind] ??= []).push({ run, cpuMs: procCpuMs(server.pid) - cpu0 });
          else await drop(kind);
        }
      }
      const count = FANOUT.perSecond * FANOUT.seconds;
      for (const kind of KINDS) {
        const server = servers[kind];
        const tp = throughput[kind];
        if (!server || !tp) continue;
        const cpu0 = procCpuMs(server.pid);
        const fanout = await attempt(`${LABEL[kind]} (fan-out)`, () =>
          load<Fanout>('fanout', kind, server, 'fanout', FANOUT.readers, FANOUT.perSecond, count),
        );
        if (!fanout) {
          await drop(kind);
          continue;
        }
        const fanoutCpuMs = procCpuMs(server.pid) - cpu0;
        // The fan-out writer's first update (counter 0) comes before the timed ones.
        const sent = tp.reduce((n, t) => n + t.run.sent, 0) + count + 1;
        runs[kind] = {
          throughput: tp.map((t) => t.run),
          throughputCpuMs: tp.map((t) => t.cpuMs),
          fanout,
          fanoutCpuMs,
          updates: kind === 'cairn' ? (await cairnDebug(server)).committed : sent,
          peakBytes: procStatusBytes(server.pid, 'VmHWM'),
          diskBytes: undefined,
        };
      }
    } finally {
      for (const kind of KINDS) await drop(kind);
    }
    // On disk after a clean stop.
    for (const kind of ['cairn', 'hocuspocus'] as const) {
      const run = runs[kind];
      if (!run) continue;
      run.diskBytes = dirBytes(dirOf(kind));
      if (kind === 'cairn') run.tables = sqliteTableBytes(dirOf(kind));
    }
    return runs;
  });
}

/**
 * Figures 4 and 5 on a server with storage, and what figure 3 loads: the
 * trace doc and the big doc seeded through the server (then, on cairn, the
 * forced compactions), the server stopped cleanly; `dir` keeps its storage.
 */
async function seedRun(
  kind: 'cairn' | 'hocuspocus',
  dir: string,
  factor: number,
): Promise<Omit<StorageRun, 'cold'>> {
  const server = await startServer(kind, dir);
  let seed: Seed;
  const compactTraceMs: number[] = [];
  const compactBigMs: number[] = [];
  let backgroundCheckpoints: number | undefined;
  let seedPeakBytes: number;
  try {
    seed = await load<Seed>('seed', kind, server, TRACE_DOC, BIG_DOC, factor, GEN_SECONDS);
    if (kind === 'cairn') {
      backgroundCheckpoints = (await cairnDebug(server)).checkpoints;
      for (let i = 0; i < COMPACT_ROUNDS; i++) {
        compactTraceMs.push(await compact(server, TRACE_DOC));
      }
      compactBigMs.push(await compact(server, BIG_DOC));
    }
    seedPeakBytes = procStatusBytes(server.pid, 'VmHWM');
  } finally {
    await server.stop();
  }
  return {
    seed,
    compactTraceMs,
    compactBigMs,
    ...(backgroundCheckpoints === undefined ? {} : { backgroundCheckpoints }),
    seedPeakBytes,
    diskBytes: dirBytes(dir),
    ...(kind === 'cairn' ? { tables: sqliteTableBytes(dir) } : {}),
  };
}

/**
 * One cold-load round: the server freshly started on `dir`, a fresh client
 * of the trace doc, then (`withBig`) one of the big doc — each doc's first
 * load in the process; cairn's own load time of each from /debug (one
 * load: p50; two: the max is the big doc's).
 */
async function coldRound(
  kind: 'cairn' | 'hocuspocus',
  dir: string,
  factor: number,
  withBig: boolean,
): Promise<ColdRound> {
  const server = await startServer(kind, dir);
  try {
    const trace = await load<ColdLoad>('cold', kind, server, TRACE_DOC, 0);
    if (kind === 'cairn') trace.serverMs = (await cairnDebug(server)).coldLoadMs?.p50;
    if (!withBig) return { trace, peakBytes: procStatusBytes(server.pid, 'VmHWM') };
    const big = await load<ColdLoad>('cold', kind, server, BIG_DOC, factor);
    if (kind === 'cairn') big.serverMs = (await cairnDebug(server)).coldLoadMs?.max;
    return { trace, big, peakBytes: procStatusBytes(server.pid, 'VmHWM') };
  } finally {
    await server.stop();
  }
}

/**
 * Figures 3, 4, 5 for cairn and Hocuspocus: both seeded first, then the
 * cold-load rounds alternate between them (cairn first in even rounds), so
 * that a noisy spell on this shared machine hits both alike.
 */
async function benchStorage(
  factor: number,
): Promise<Partial<Record<'cairn' | 'hocuspocus', StorageRun>>> {
  return withTempDir('cairn-bench-yjs-store-', async (root) => {
    const runs: Partial<Record<'cairn' | 'hocuspocus', StorageRun>> = {};
    const dirOf = (kind: string) => path.join(root, kind);
    for (const kind of ['cairn', 'hocuspocus'] as const) {
      fs.mkdirSync(dirOf(kind));
      const seeded = await attempt(`${LABEL[kind]} (seed, compaction)`, () =>
        seedRun(kind, dirOf(kind), factor),
      );
      if (seeded) runs[kind] = { ...seeded, cold: [] };
    }
    for (let r = 0; r < COLD_ROUNDS; r++) {
      const order =
        r % 2 === 0 ? (['cairn', 'hocuspocus'] as const) : (['hocuspocus', 'cairn'] as const);
      for (const kind of order) {
        const run = runs[kind];
        if (!run) continue;
        const round = await attempt(`${LABEL[kind]} (cold load, round ${r + 1})`, () =>
          coldRound(kind, dirOf(kind), run.seed.factor, r < BIG_COLD_ROUNDS),
        );
        if (round) run.cold.push(round);
        else delete runs[kind];
      }
    }
    return runs;
  });
}

/** Runs `fn`; on failure prints why and returns undefined (the section goes on). */
async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    console.log(`  ${what}: did not run — ${errText(err)}`);
    return undefined;
  }
}

/** Runs the Yjs section; returns whether every target was met (undefined: no trace data). */
export async function benchYjs(options: YjsBenchOptions): Promise<boolean | undefined> {
  if (!traceFile('automerge-paper')) {
    console.log(`Yjs — ${TRACE_MISSING}`);
    return undefined;
  }
  const t0 = performance.now();
  const load0 = loadAvg();
  console.log(
    `Yjs — cairn vs the y-websocket reference server and Hocuspocus, same clients and workload (automerge-paper trace edits as Y.Text edits); space ${SPACE}`,
  );
  const live = await benchLive(options.edits);
  const floor = await attempt('raw SQLite commit latency', () =>
    measureRawCommitLatency(FLOOR_COMMITS, FANOUT.perSecond, 300),
  );
  const stored = await benchStorage(options.factor);
  console.log('');
  const met = [
    reportThroughput(live, options.edits),
    reportFanout(live, floor ? summarize(floor) : undefined),
    reportCold(stored),
  ];
  reportCompaction(live, stored);
  reportDisk(live, stored);
  console.log(
    `  (Yjs section: ${((performance.now() - t0) / 1000).toFixed(0)} s; load average at the start ${load0}, at the end ${loadAvg()} on ${os.cpus().length} cores)`,
  );
  return met.every(Boolean);
}

function reportThroughput(live: Partial<Record<Kind, LiveRun>>, edits: number): boolean {
  const rates = (r: LiveRun) => r.throughput.map((t) => t.delivered / t.seconds);
  /** Median of the per-run ratios to y-websocket (run i beside run i). */
  const ratioOf = (r: LiveRun, base: LiveRun) =>
    median(
      rates(r).flatMap((v, i) => (base.throughput[i] ? [v / (rates(base)[i] as number)] : [])),
    );
  const base = live['y-websocket'];
  const ours = live.cairn;
  const ratio = ours && base ? ratioOf(ours, base) : Number.NaN;
  const met = ratio >= 0.5;
  const rows: string[][] = [];
  const fmtRates = (values: number[]) =>
    `${rate(median(values))} [${rate(Math.min(...values))}–${rate(Math.max(...values))}]`;
  for (const kind of KINDS) {
    const r = live[kind];
    if (!r) {
      rows.push([LABEL[kind], 'did not run', '', '', '', '', '', '']);
      continue;
    }
    const runs = r.throughput;
    const delivered = runs.reduce((n, t) => n + t.delivered, 0);
    const sent = runs.reduce((n, t) => n + t.sent, 0);
    const cut = runs.filter((t) => !t.converged).length;
    const cpuMs = r.throughputCpuMs.reduce((a, b) => a + b, 0);
    const note =
      kind === 'cairn'
        ? base
          ? `${ratio.toFixed(2)}× y-websocket (target ≥ 0.5: ${yes(met)})`
          : 'no baseline (y-websocket did not run): target NOT met'
        : kind === 'y-websocket'
          ? 'baseline'
          : base
            ? `${ratioOf(r, base).toFixed(2)}× y-websocket`
            : '';
    rows.push([
      LABEL[kind],
      fmtRates(rates(r)),
      `${delivered}/${sent}${cut ? ` (${cut} run(s) cut at the time cap)` : ''}`,
      `${median(runs.map((t) => t.seconds)).toFixed(2)} s`,
      `${median(runs.map((t) => t.sendSeconds)).toFixed(2)} s`,
      String(median(runs.map((t) => t.messages))),
      `${((cpuMs * 1000) / Math.max(1, delivered)).toFixed(0)} µs`,
      note,
    ]);
  }
  printGrid(
    `1. Yjs updates/s end to end — one writer → one reader, the trace's first ${edits} edits, one update each, as fast as the writer makes them; ${THROUGHPUT_RUNS} runs per server, interleaved`,
    [
      'server',
      'updates/s median [min–max]',
      'delivered',
      'time',
      'writer done',
      'msgs to reader',
      'server CPU/update',
      '',
    ],
    rows,
  );
  console.log(
    '  time: first edit → the reader holds the writer\'s text (median); "writer done": when the writer had made and sent every update (the clients\' own ceiling, same for all); ratios: median of per-run ratios; Hocuspocus merges the updates of one event-loop turn into one message',
  );
  console.log('');
  return met;
}

function reportFanout(live: Partial<Record<Kind, LiveRun>>, floor: Summary | undefined): boolean {
  const peers = (['y-websocket', 'hocuspocus'] as const).filter((k) => live[k]);
  const complete = (r: LiveRun) => r.fanout.received === r.fanout.expected;
  // A peer that lost deliveries is no fair best: only complete runs compete.
  const best = peers
    .filter((k) => complete(live[k] as LiveRun))
    .sort((a, b) => (live[a] as LiveRun).fanout.p99 - (live[b] as LiveRun).fanout.p99)[0];
  const ours = live.cairn;
  const bestRun = best ? live[best] : undefined;
  const ratio = ours && bestRun ? ours.fanout.p99 / bestRun.fanout.p99 : Number.NaN;
  const met = ours !== undefined && complete(ours) && ratio <= 1;
  const rows: string[][] = [];
  for (const kind of ['cairn', 'y-websocket', 'hocuspocus'] as const) {
    const r = live[kind];
    if (!r) {
      rows.push([LABEL[kind], 'did not run', '', '', '', '', '', '', '']);
      continue;
    }
    const f = r.fanout;
    const note =
      kind === 'cairn'
        ? bestRun
          ? `p99 ${ratio.toFixed(2)}× the best peer's (${best}) (target ≤ 1.0: ${yes(met)})`
          : 'no complete peer run: target NOT met'
        : kind === best
          ? 'best peer p99 (baseline)'
          : '';
    rows.push([
      LABEL[kind],
      fmtMs(f.p50),
      fmtMs(f.p99),
      fmtMs(f.max),
      `${f.received}/${f.expected}`,
      fmtMs(f.writerLagMs),
      `${((r.fanoutCpuMs * 1000) / Math.max(1, f.received)).toFixed(0)} µs`,
      `${(f.clientCpuMs / 1000).toFixed(1)} s`,
      note,
    ]);
  }
  rows.push(
    floor
      ? [
          'floor: raw SQLite FULL commit (fsync)',
          fmtMs(floor.p50),
          fmtMs(floor.p99),
          fmtMs(floor.max),
          `${floor.n} commits`,
          '',
          '',
          '',
          `one 300-byte row per transaction at ${FANOUT.perSecond}/s, better-sqlite3 WAL, no server: what durability alone costs on this disk`,
        ]
      : ['floor: raw SQLite FULL commit (fsync)', 'did not run', '', '', '', '', '', '', ''],
  );
  printGrid(
    `2. Yjs fan-out — ${FANOUT.readers} readers, ${FANOUT.perSecond} updates/s for ${FANOUT.seconds} s (open loop), latency from each update's due time to each reader's receipt, all samples`,
    [
      'server',
      'p50',
      'p99',
      'max',
      'delivered',
      'writer lag',
      'server CPU/delivery',
      'client CPU',
      '',
    ],
    rows,
  );
  console.log('');
  return met;
}

function reportCold(stored: Partial<Record<'cairn' | 'hocuspocus', StorageRun>>): boolean {
  const ours = stored.cairn;
  const peer = stored.hocuspocus;
  const factor = ours?.seed.factor ?? peer?.seed.factor ?? 0;
  const rows: string[][] = [];
  let met = ours !== undefined && peer !== undefined;
  for (const which of ['trace', 'big'] as const) {
    const docLabel =
      which === 'trace'
        ? 'automerge-paper trace (1×)'
        : `${factor}× the trace${factor < 100 ? ` (cut from 100: generation bound)` : ''}`;
    const loads = (r: StorageRun) => r.cold.flatMap((c) => c[which] ?? []);
    const times = (r: StorageRun) => loads(r).map((c) => c.ms);
    const ok = (r: StorageRun) => loads(r).every((c) => c.complete);
    const oursMs = ours ? median(times(ours)) : Number.NaN;
    const peerMs = peer ? median(times(peer)) : Number.NaN;
    const ratio = oursMs / peerMs;
    const rowMet = ours !== undefined && peer !== undefined && ok(ours) && ratio <= 1;
    met &&= rowMet;
    for (const kind of ['cairn', 'hocuspocus'] as const) {
      const r = stored[kind];
      if (!r) {
        rows.push([kind === 'cairn' ? docLabel : '', LABEL[kind], 'did not run', '', '', '', '']);
        continue;
      }
      const state = which === 'trace' ? r.seed.traceStateBytes : r.seed.bigStateBytes;
      const note =
        kind === 'cairn'
          ? peer
            ? `${ratio.toFixed(2)}× Hocuspocus (target ≤ 1.0: ${yes(rowMet)})`
            : 'no Hocuspocus run: target NOT met'
          : 'baseline';
      const serverLoad =
        kind === 'cairn'
          ? `its load from storage ${fmtMs(median(loads(r).map((c) => c.serverMs ?? Number.NaN)))}`
          : '';
      rows.push([
        kind === 'cairn' ? docLabel : '',
        LABEL[kind],
        fmtMs(median(times(r))),
        times(r).map(fmtMs).join(', '),
        ok(r) ? 'yes' : 'NO',
        which === 'trace' ? kib(state) : mib(state),
        [note, serverLoad].filter(Boolean).join('; '),
      ]);
    }
  }
  printGrid(
    `3. Yjs cold load — a fresh client from connect until synced, on a freshly restarted server (the doc comes from storage); median of ${COLD_ROUNDS} restarts (the big doc: the first ${BIG_COLD_ROUNDS}), alternating cairn and Hocuspocus`,
    ['doc', 'server', 'median', 'rounds', 'complete', 'state', ''],
    rows,
  );
  if (ours) {
    console.log(
      `  seeding: trace ${ours.seed.traceUpdates} updates (${kib(ours.seed.traceBytes)} sent) in ${(ours.seed.traceMs / 1000).toFixed(1)} s; ${factor}× doc made in ${(ours.seed.genMs / 1000).toFixed(1)} s (each copy of the trace doc on a root of its own), sent as ${ours.seed.bigUpdates} updates (${mib(ours.seed.bigBytes)}) in ${(ours.seed.bigMs / 1000).toFixed(1)} s (cairn; Hocuspocus ${peer ? `${(peer.seed.traceMs / 1000).toFixed(1)} s and ${(peer.seed.bigMs / 1000).toFixed(1)} s` : '—'})`,
    );
    console.log(
      '  cairn\'s "its load from storage" is its /debug yjs.coldLoadMs (checkpoint + journal → Y.Doc); the rest is the sync (state encoded, sent, applied by the client)',
    );
  }
  console.log('');
  return met;
}

function reportCompaction(
  live: Partial<Record<Kind, LiveRun>>,
  stored: Partial<Record<'cairn' | 'hocuspocus', StorageRun>>,
): void {
  const ours = stored.cairn;
  const rows: string[][] = [];
  if (ours) {
    const t = ours.compactTraceMs;
    rows.push([
      'POST /admin/compact, trace doc',
      fmtMs(median(t)),
      t.map(fmtMs).join(', '),
      `load from storage + Y.encodeStateAsUpdate (${kib(ours.seed.traceStateBytes)}) + chunked write and flip; ${ours.backgroundCheckpoints ?? 0} checkpoint(s) made in the background while seeding`,
    ]);
    rows.push([
      `POST /admin/compact, ${ours.seed.factor}× doc`,
      fmtMs(median(ours.compactBigMs)),
      ours.compactBigMs.map(fmtMs).join(', '),
      `state ${mib(ours.seed.bigStateBytes)}`,
    ]);
  } else {
    rows.push(['POST /admin/compact', 'did not run', '', '']);
  }
  printGrid(
    '4a. cairn Yjs compaction (a checkpoint forced through the admin route; wall time from the client)',
    ['', 'median', 'runs', ''],
    rows,
  );
  const rss: string[][] = [];
  const hwm = (bytes: number | undefined) => (bytes === undefined ? '—' : mib(bytes));
  const ratioTo = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}×` : '—';
  for (const kind of ['cairn', 'y-websocket', 'hocuspocus'] as const) {
    const l = live[kind];
    const s = kind === 'y-websocket' ? undefined : stored[kind];
    const coldPeak = s ? Math.max(...s.cold.map((c) => c.peakBytes)) : undefined;
    rss.push([
      LABEL[kind],
      hwm(l?.peakBytes),
      kind === 'y-websocket' ? 'n/a' : hwm(s?.seedPeakBytes),
      kind === 'y-websocket' ? 'n/a' : hwm(coldPeak),
      kind === 'cairn'
        ? `live ${ratioTo(l?.peakBytes, live['y-websocket']?.peakBytes)} y-websocket, ${ratioTo(l?.peakBytes, live.hocuspocus?.peakBytes)} Hocuspocus; seed ${ratioTo(s?.seedPeakBytes, stored.hocuspocus?.seedPeakBytes)}, cold ${ratioTo(coldPeak, stored.hocuspocus ? Math.max(...stored.hocuspocus.cold.map((c) => c.peakBytes)) : undefined)} Hocuspocus`
        : '',
    ]);
  }
  printGrid(
    '4b. Server peak RSS (VmHWM) per phase — for information',
    ['server', 'updates/s + fan-out', 'seed (+ compaction)', 'cold load', ''],
    rss,
  );
  console.log('');
}

function reportDisk(
  live: Partial<Record<Kind, LiveRun>>,
  stored: Partial<Record<'cairn' | 'hocuspocus', StorageRun>>,
): void {
  const rows: string[][] = [];
  const perUpdate = (bytes: number, updates: number) => bytes / Math.max(1, updates);
  for (const kind of ['cairn', 'hocuspocus'] as const) {
    const l = live[kind];
    if (!l || l.diskBytes === undefined) {
      rows.push(['updates/s + fan-out docs', LABEL[kind], 'did not run', '', '', '']);
      continue;
    }
    const other = kind === 'cairn' ? live.hocuspocus : undefined;
    rows.push([
      kind === 'cairn' ? 'updates/s + fan-out docs' : '',
      LABEL[kind],
      kib(l.diskBytes),
      String(l.updates),
      `${perUpdate(l.diskBytes, l.updates).toFixed(0)} B`,
      other?.diskBytes !== undefined
        ? `${(perUpdate(l.diskBytes, l.updates) / perUpdate(other.diskBytes, other.updates)).toFixed(1)}× Hocuspocus`
        : '',
    ]);
  }
  for (const kind of ['cairn', 'hocuspocus'] as const) {
    const s = stored[kind];
    if (!s) {
      rows.push(['seeded docs', LABEL[kind], 'did not run', '', '', '']);
      continue;
    }
    const updates = s.seed.traceUpdates + s.seed.bigUpdates;
    const other = kind === 'cairn' ? stored.hocuspocus : undefined;
    const otherUpdates = other ? other.seed.traceUpdates + other.seed.bigUpdates : 0;
    rows.push([
      kind === 'cairn'
        ? `seeded docs (trace + ${s.seed.factor}×; ${mib(s.seed.traceStateBytes + s.seed.bigStateBytes)} of state)`
        : '',
      LABEL[kind],
      mib(s.diskBytes),
      String(updates),
      kib(perUpdate(s.diskBytes, updates)),
      other
        ? `${(perUpdate(s.diskBytes, updates) / perUpdate(other.diskBytes, otherUpdates)).toFixed(1)}× Hocuspocus`
        : '',
    ]);
  }
  const top = (tables: [string, number][] | undefined) =>
    (tables ?? [])
      .slice(0, 4)
      .map(([name, bytes]) => `${name} ${bytes >= 2 ** 20 ? mib(bytes) : kib(bytes)}`)
      .join(', ');
  printGrid(
    '5. Bytes on disk per update (after a clean stop) — for information: cairn keeps every update (journal + tx record) and its checkpoints; Hocuspocus keeps one row per doc, the latest whole state',
    ['workload', 'server', 'on disk', 'updates', 'per update', ''],
    rows,
  );
  if (live.cairn?.tables) {
    console.log(`  cairn, updates/s + fan-out docs, largest tables: ${top(live.cairn.tables)}`);
  }
  if (stored.cairn?.tables) {
    console.log(
      `  cairn, seeded docs, largest tables: ${top(stored.cairn.tables)} — an update over 1.5 MiB is stored as a checkpoint of the doc's whole state at its epoch (SPEC §11), kept since no journal covers it: the ${stored.cairn.seed.bigUpdates} updates of the big doc stored each state it passed through`,
    );
  }
  console.log('');
}

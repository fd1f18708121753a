import { startPeerServer, type PeerServer } from '../../../bench/lib/peers/run-peers.js';
import { summarize } from '../../../bench/lib/percentiles.js';
import { measureRawCommitLatency } from '../../../bench/lib/raw-sqlite.js';
import { withTempDir } from '../../../bench/lib/timing.js';
import { rawSqliteBaseline, openBackend, type Backend } from '../../lib/backend.js';
import { startCairnServer, type CairnServer } from '../../lib/server.js';
import type { StandaloneContext } from '../../scenario.js';
import { runTypists, type TypistRunResult } from './run-typists.js';
import type { DocPlan, TargetKind } from './schedule.js';
import { toRow, type TypistRow } from './typists-report.js';

const WINDOW_MS = 10_000;

/** One run of the matrix: a server, the docs and their typists. */
export interface MatrixRun {
  target: TargetKind;
  docs: DocPlan[];
  space: string;
}

export interface MatrixOptions {
  runs: MatrixRun[];
  processes: number;
  charsPerSecond: number;
  random: () => number;
}

export interface MatrixResult {
  rows: TypistRow[];
  backendDescribe: string;
  baselines: { name: string; commitsPerSecond: number }[];
  /**
   * One durable commit of raw SQLite on this disk (1 KiB row, WAL,
   * synchronous=FULL), ms: the floor cairn pays per update before it
   * broadcasts; the peers relay from memory and pay none.
   */
  rawCommitMs?: { p50: number; p99: number; max: number };
}

const RAW_LATENCY_COMMITS = 600;
const RAW_LATENCY_PER_SECOND = 200;

const isCairn = (t: TargetKind) => t === 'cairn-automerge' || t === 'cairn-yjs';

/**
 * Runs every (server, typists) pair in turn: cairn once on the chosen
 * backend for all its runs (a fresh space each), each peer server fresh per
 * run; everything stopped in `finally`.
 */
export async function runMatrix(o: MatrixOptions, ctx: StandaloneContext): Promise<MatrixResult> {
  const rows: TypistRow[] = [];
  let backend: Backend | undefined;
  let cairn: CairnServer | undefined;
  const baselines: MatrixResult['baselines'] = [];
  let rawCommitMs: MatrixResult['rawCommitMs'];
  try {
    if (o.runs.some((r) => isCairn(r.target))) {
      ctx.progress.update('measuring the raw SQLite commit rate (2 s)…');
      baselines.push(await rawSqliteBaseline());
      ctx.progress.update('measuring raw SQLite commit latency (3 s)…');
      const raw = summarize(
        await measureRawCommitLatency(RAW_LATENCY_COMMITS, RAW_LATENCY_PER_SECOND, 1024),
      );
      rawCommitMs = { p50: raw.p50, p99: raw.p99, max: raw.max };
      ctx.progress.update(`starting cairn on ${ctx.backend}…`);
      backend = await openBackend(ctx.backend);
      baselines.push(...backend.baselines);
      cairn = await startCairnServer(backend.store);
    }
    for (const run of o.runs) {
      if (ctx.signal.aborted) break;
      const label = `${run.target} ${run.docs.length > 1 ? `${run.docs.length} docs × ` : ''}${run.docs[0]?.typists ?? 0} typists`;
      const once = async (url: string, pid: number | undefined): Promise<TypistRunResult> =>
        runTypists({
          kind: run.target,
          url,
          serverPid: pid,
          space: run.space,
          docs: run.docs,
          processes: o.processes,
          charsPerSecond: o.charsPerSecond,
          warmupMs: ctx.warmup * 1000,
          measureMs: ctx.seconds * 1000,
          windowMs: WINDOW_MS,
          random: o.random,
          onProgress: (text) => ctx.progress.update(`${label}: ${text}`),
        });
      let result: TypistRunResult;
      if (isCairn(run.target) && cairn) {
        result = await once(cairn.url, cairn.pid);
      } else {
        result = await withTempDir('cairn-loadgen-peer-', async (dir) => {
          const peer: PeerServer = await startPeerServer(
            run.target === 'hocuspocus' ? 'hocuspocus' : 'y-websocket',
            dir,
          );
          try {
            return await once(peer.wsUrl, peer.pid);
          } finally {
            await peer.stop();
          }
        });
      }
      rows.push(toRow(run.target, run.docs.length, run.docs[0]?.typists ?? 0, result));
    }
  } finally {
    ctx.progress.done();
    await cairn?.stop();
    await backend?.close();
  }
  return {
    rows,
    backendDescribe: backend?.describe ?? ctx.backend,
    baselines: baselines.map((b) => ({ name: b.name, commitsPerSecond: b.commitsPerSecond })),
    ...(rawCommitMs ? { rawCommitMs } : {}),
  };
}

/**
 * `npm run bench` — single-change transactions per second through the
 * engine, each figure beside a raw baseline measured in the same run with
 * the same durability settings: on SQLite (issue "Foundation", against raw
 * better-sqlite3) and on PostgreSQL (a durable throwaway cluster, against
 * raw `pg` single-row transactions; no targets). Beside the SQLite figures,
 * a second baseline: the SPEC floor (bench/lib/spec-floor.ts), the least
 * work SPEC §2 asks per transaction written inline without an engine — the
 * ceiling for the sequential ratio.
 *
 * The History section (issue "History") replays the automerge-paper editing
 * trace as one change per keystroke: ingest rate early vs late, point-in-time
 * reads (cold, warm) beside `Automerge.load`, bytes on disk per change.
 *
 * The Stall section (issue "Integrity under hostile input", bench/stall.bench.ts)
 * times a second client's commits and `/healthz` while a server child
 * process takes a 3 MiB-string change and a cold read of a near-limit one.
 *
 * The Idle section (issue "Live sync", bench/live-idle.bench.ts) holds
 * BENCH_IDLE_CONNECTIONS (default 10,000) subscribed WebSockets and prints
 * the server's RSS per connection beside a bare `ws` server's.
 *
 * The Ingest section (bench/live-ingest.bench.ts) sends the automerge-paper
 * trace's first 20,000 edits through cairn/client with one follower (beside
 * the local production rate and the automerge-repo sync server's CPU per
 * edit), then times fresh clients loading the doc beside `Automerge.load`.
 *
 * The Auth section (bench/auth.bench.ts) counts UCAN verifications per
 * second (1-link and 3-link chains, cached and not) and compares sequential
 * commits through POST /tx with auth required and off.
 *
 * The Fan-out section (bench/live-fanout.bench.ts) times deliveries to 20
 * and 100 subscribers beside an in-memory relay in the same run.
 *
 * The Yjs section (bench/yjs.bench.ts) puts cairn's y-websocket endpoint
 * (SQLite FULL, durable before broadcast) beside the stock y-websocket
 * server (in memory) and Hocuspocus + SQLite on the same workload: updates/s
 * writer → reader, fan-out latency to 20 readers, cold load of the trace doc
 * and of a doc 100× larger after a restart, compaction time, peak RSS and
 * bytes on disk per update.
 *
 * Knobs (environment): BENCH_ONLY (`sqlite`, `postgres`, `history`,
 * `stall`, `idle`, `fanout`, `ingest`, `auth`, `observability`, `verify` or `yjs`: run one section), BENCH_YJS_EDITS
 * (trace edits of the Yjs updates/s figure, default 20,000), BENCH_YJS_FACTOR (copies of the trace doc in the
 * Yjs cold-load big doc, default 100), BENCH_INGEST_EDITS
 * (trace edits of the ingest and cold-load section, default 20,000), BENCH_HISTORY_READS / BENCH_HISTORY_READ_SECONDS (caps of the
 * point-in-time samples, default 200 / 90), BENCH_HISTORY_GEN_SECONDS /
 * BENCH_HISTORY_INGEST_SECONDS (caps of the trace's generation and ingest,
 * default 90 / 150; a trace cut short is read up to what was committed), BENCH_RUNS (runs per figure; default 5 for the SQLite target
 * configuration, 3 for the others), BENCH_SECONDS (timed window per figure,
 * default 2), BENCH_WRITERS (default 64), BENCH_PG_PROFILE=1 (per-statement
 * timings of the PostgreSQL engine path), CAIRN_PG_BIN (PostgreSQL binaries).
 */
import os from 'node:os';
import { measureEngineCommits, type EngineRate } from './engine-commit.bench.js';
import { benchHistory, DEFAULT_HISTORY_OPTIONS } from './history.bench.js';
import { benchPostgres } from './postgres-commit.bench.js';
import { benchFanout } from './live-fanout.bench.js';
import { benchIdle } from './live-idle.bench.js';
import { benchIngest } from './live-ingest.bench.js';
import { benchAuth } from './auth.bench.js';
import { benchObservability } from './observability.bench.js';
import { benchVerify } from './verify.bench.js';
import { benchStall } from './stall.bench.js';
import { benchYjs } from './yjs.bench.js';
import { measureRawOneRowPerTx, type SyncMode } from './lib/raw-sqlite.js';
import { withPreDefenceDecoder } from './lib/pre-defence-decoder.js';
import { printTable, type Row } from './lib/report.js';
import { measureSpecFloor } from './lib/spec-floor.js';
import { median, nowMs, type Phase, type Rate } from './lib/timing.js';
import { makeChain, meanBytes, type Chain } from './lib/workload.js';

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new Error(`${name} must be a number in [${min}, ${max}]`);
  }
  return n;
}

const RUNS_ENV = process.env.BENCH_RUNS ? Math.round(envNumber('BENCH_RUNS', 3, 1, 15)) : 0;
const TARGET_RUNS = RUNS_ENV || 5;
const INFO_RUNS = RUNS_ENV || 3;
const SECONDS = envNumber('BENCH_SECONDS', 2, 0.2, 20);
const WRITERS = Math.round(envNumber('BENCH_WRITERS', 64, 2, 256));
const WARMUP_SECONDS = 0.3;
const ONLY = process.env.BENCH_ONLY ?? '';
if (
  ![
    '',
    'sqlite',
    'postgres',
    'history',
    'stall',
    'idle',
    'fanout',
    'ingest',
    'auth',
    'observability',
    'verify',
    'yjs',
  ].includes(ONLY)
) {
  throw new Error(
    'BENCH_ONLY must be sqlite, postgres, history, stall, idle, fanout, ingest, auth, observability, verify or yjs (or unset for all)',
  );
}
const INGEST_EDITS = Math.round(envNumber('BENCH_INGEST_EDITS', 20_000, 100, 200_000));
const HISTORY_READS = Math.round(
  envNumber('BENCH_HISTORY_READS', DEFAULT_HISTORY_OPTIONS.reads, 1, 10_000),
);
const HISTORY_READ_SECONDS = envNumber(
  'BENCH_HISTORY_READ_SECONDS',
  DEFAULT_HISTORY_OPTIONS.readSeconds,
  1,
  600,
);
const HISTORY_GEN_SECONDS = envNumber(
  'BENCH_HISTORY_GEN_SECONDS',
  DEFAULT_HISTORY_OPTIONS.genMaxSeconds,
  1,
  3600,
);
const HISTORY_INGEST_SECONDS = envNumber(
  'BENCH_HISTORY_INGEST_SECONDS',
  DEFAULT_HISTORY_OPTIONS.ingestMaxSeconds,
  1,
  3600,
);
const PG_PROFILE = process.env.BENCH_PG_PROFILE === '1';
const IDLE_CONNECTIONS = Math.round(envNumber('BENCH_IDLE_CONNECTIONS', 10_000, 100, 15_000));
const YJS_EDITS = Math.round(envNumber('BENCH_YJS_EDITS', 20_000, 100, 250_000));
const YJS_FACTOR = Math.round(envNumber('BENCH_YJS_FACTOR', 100, 1, 100));

/** Count caps: a figure ends at its window or at its cap, whichever comes first. */
const SEQ_MAX_TX = 15_000;
const SEQ_WARMUP_TX = 300;
const PER_WRITER_MAX_TX = 500;
const PER_WRITER_WARMUP_TX = 4;
const RAW_MAX_TX = 200_000;
const RAW_WARMUP_TX = 300;

const seqPhase: Phase = {
  warmup: { maxOps: SEQ_WARMUP_TX, seconds: WARMUP_SECONDS },
  measure: { maxOps: SEQ_MAX_TX, seconds: SECONDS },
};
const concurrentPhase: Phase = {
  warmup: { maxOps: PER_WRITER_WARMUP_TX * WRITERS, seconds: WARMUP_SECONDS },
  measure: { maxOps: PER_WRITER_MAX_TX * WRITERS, seconds: SECONDS },
};
const rawPhase: Phase = {
  warmup: { maxOps: RAW_WARMUP_TX, seconds: WARMUP_SECONDS },
  measure: { maxOps: RAW_MAX_TX, seconds: SECONDS },
};

type Figure = 'raw' | 'floor' | 'seq' | 'concurrent' | 'seqBefore' | 'concurrentBefore';

interface RunResult {
  raw: Rate;
  floor: Rate;
  seq: EngineRate;
  concurrent: EngineRate;
  /** The engine with the pre-defence commit decoder (measured with `before`). */
  seqBefore?: EngineRate;
  concurrentBefore?: EngineRate;
}

async function runOnce(
  sync: SyncMode,
  run: number,
  seqChain: Chain,
  writerChains: Chain[],
  before: boolean,
): Promise<RunResult> {
  const out: Partial<RunResult> = {};
  const figures: Figure[] = ['raw', 'floor', 'seq', 'concurrent'];
  if (before) figures.push('seqBefore', 'concurrentBefore');
  // Rotate the order from run to run so drift on a noisy machine hits every figure alike.
  for (let i = 0; i < figures.length; i++) {
    const figure = figures[(i + run) % figures.length];
    if (figure === 'raw') out.raw = await measureRawOneRowPerTx(sync, seqChain.changes, rawPhase);
    if (figure === 'floor') out.floor = await measureSpecFloor(sync, seqChain, seqPhase);
    if (figure === 'seq') out.seq = await measureEngineCommits(sync, [seqChain], seqPhase);
    if (figure === 'concurrent') {
      out.concurrent = await measureEngineCommits(sync, writerChains, concurrentPhase);
    }
    if (figure === 'seqBefore') {
      out.seqBefore = await withPreDefenceDecoder(() =>
        measureEngineCommits(sync, [seqChain], seqPhase),
      );
    }
    if (figure === 'concurrentBefore') {
      out.concurrentBefore = await withPreDefenceDecoder(() =>
        measureEngineCommits(sync, writerChains, concurrentPhase),
      );
    }
  }
  if (!out.raw || !out.floor || !out.seq || !out.concurrent) {
    throw new Error('a figure was not measured');
  }
  return {
    raw: out.raw,
    floor: out.floor,
    seq: out.seq,
    concurrent: out.concurrent,
    ...(out.seqBefore ? { seqBefore: out.seqBefore } : {}),
    ...(out.concurrentBefore ? { concurrentBefore: out.concurrentBefore } : {}),
  };
}

function k(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n));
}

async function benchSync(
  sync: SyncMode,
  runs: number,
  seqChain: Chain,
  writerChains: Chain[],
  before = false,
): Promise<{ rows: Row[]; results: RunResult[] }> {
  const results: RunResult[] = [];
  for (let run = 0; run < runs; run++) {
    results.push(await runOnce(sync, run, seqChain, writerChains, before));
  }
  const raw = results.map((r) => r.raw.perSecond);
  const floor = results.map((r) => r.floor.perSecond);
  const seq = results.map((r) => r.seq.perSecond);
  const conc = results.map((r) => r.concurrent.perSecond);
  const ratioTo = (values: number[]) => values.map((v, i) => v / (raw[i] as number));
  const batch = (rates: EngineRate[]) =>
    `${median(rates.map((r) => r.txPerBatch)).toFixed(1)} tx/batch`;
  const docs = (rates: EngineRate[]) =>
    `doc ${k(median(rates.map((r) => r.docChangesFrom)))}→${k(median(rates.map((r) => r.docChangesTo)))} changes`;
  const target = sync === 'full';
  const seqs = results.map((r) => r.seq);
  const concs = results.map((r) => r.concurrent);
  const rows: Row[] = [
    { label: 'raw better-sqlite3, 1 row/tx', perSecond: raw, note: 'baseline' },
    {
      label: 'SPEC floor, sequential',
      perSecond: floor,
      ratios: ratioTo(floor),
      note: 'least SPEC §2 work per tx, inline on raw SQLite, no engine: the ceiling',
    },
    {
      label: 'engine, sequential',
      perSecond: seq,
      ratios: ratioTo(seq),
      ...(target ? { target: { text: '≥ 0.50×', met: (r: number) => r >= 0.5 } } : {}),
      note: `${batch(seqs)}, ${docs(seqs)}; ${median(seq.map((v, i) => v / (floor[i] as number))).toFixed(2)}× the floor`,
    },
    {
      label: `engine, ${WRITERS} writers`,
      perSecond: conc,
      ratios: ratioTo(conc),
      ...(target ? { target: { text: '> 1.00×', met: (r: number) => r > 1 } } : {}),
      note: `${batch(concs)}, ${docs(concs)} each`,
    },
  ];
  return { rows, results };
}

/**
 * Issue "Integrity under hostile input": the commit path with its defence
 * (checksum, hash and op-count checks in a header-only decoder) beside the
 * same engine with the decoder it replaced, as ratios to the SPEC floor of
 * the same run (steadier across machines than ratios to raw SQLite).
 */
function defenceRows(results: readonly RunResult[]): Row[] {
  const floor = results.map((r) => r.floor.perSecond);
  const row = (label: string, pick: (r: RunResult) => EngineRate | undefined): number[] =>
    results.map((r) => {
      const rate = pick(r);
      if (!rate) throw new Error(`${label} was not measured`);
      return rate.perSecond;
    });
  const perFloor = (values: number[]) => values.map((v, i) => v / (floor[i] as number));
  const seqBefore = row('seqBefore', (r) => r.seqBefore);
  const seqAfter = row('seq', (r) => r.seq);
  const concBefore = row('concurrentBefore', (r) => r.concurrentBefore);
  const concAfter = row('concurrent', (r) => r.concurrent);
  const cost = (before: number[], after: number[]) =>
    `after/before ${median(after.map((a, i) => a / (before[i] as number))).toFixed(2)}×`;
  return [
    { label: 'SPEC floor, sequential', perSecond: floor, note: 'baseline' },
    {
      label: 'before the defence, sequential',
      perSecond: seqBefore,
      ratios: perFloor(seqBefore),
      note: 'Automerge.decodeChange: no checksum, no op limit',
    },
    {
      label: 'after, sequential',
      perSecond: seqAfter,
      ratios: perFloor(seqAfter),
      target: { text: '≥ 0.50×', met: (r: number) => r >= 0.5 },
      note: cost(seqBefore, seqAfter),
    },
    {
      label: `before the defence, ${WRITERS} writers`,
      perSecond: concBefore,
      ratios: perFloor(concBefore),
    },
    {
      label: `after, ${WRITERS} writers`,
      perSecond: concAfter,
      ratios: perFloor(concAfter),
      target: { text: '≥ 2.50×', met: (r: number) => r >= 2.5 },
      note: cost(concBefore, concAfter),
    },
  ];
}

async function main(): Promise<void> {
  const t0 = nowMs();
  const commitSections = ONLY === '' || ONLY === 'sqlite' || ONLY === 'postgres';
  const seqChain = commitSections
    ? makeChain(1, 'bench-seq', SEQ_WARMUP_TX + SEQ_MAX_TX)
    : undefined;
  const writerChains = commitSections
    ? Array.from({ length: WRITERS }, (_, w) =>
        makeChain(w + 2, `bench-writer-${w}`, PER_WRITER_WARMUP_TX + PER_WRITER_MAX_TX),
      )
    : [];
  const genSeconds = (nowMs() - t0) / 1000;

  console.log(
    commitSections
      ? 'cairn bench — single-change transactions through the engine (SQLite, PostgreSQL)'
      : `cairn bench — ${ONLY}`,
  );
  console.log(
    `node ${process.version}, ${os.cpus().length} cpus, ${os.platform()}, temp dir ${os.tmpdir()}`,
  );
  if (seqChain) {
    console.log(
      `each figure: ${WARMUP_SECONDS}s warm-up, then min(cap, ${SECONDS}s); median [min–max] of the runs; ` +
        'ours/raw = median of per-run ratios (raw measured in the same run)',
    );
    console.log(
      `changes pre-generated untimed (${genSeconds.toFixed(1)}s, mean ${Math.round(meanBytes([seqChain, ...writerChains]))} B); ` +
        'timed engine path per tx: parseTxRequest + pipeline.commit, await the receipt',
    );
  }
  console.log('');

  let met: boolean | undefined;
  if (seqChain && ONLY !== 'postgres') met = await benchSqlite(seqChain, writerChains);
  if (seqChain && ONLY !== 'sqlite') {
    await benchPostgres({
      runs: INFO_RUNS,
      writers: WRITERS,
      seqChain,
      writerChains,
      seqPhase,
      concurrentPhase,
      rawPhase,
      profile: PG_PROFILE,
    });
    console.log('');
  }
  let historyMet: boolean | undefined;
  if (ONLY === '' || ONLY === 'history') {
    historyMet = await benchHistory({
      ...DEFAULT_HISTORY_OPTIONS,
      reads: HISTORY_READS,
      readSeconds: HISTORY_READ_SECONDS,
      genMaxSeconds: HISTORY_GEN_SECONDS,
      ingestMaxSeconds: HISTORY_INGEST_SECONDS,
    });
    console.log('');
  }
  let stallMet: boolean | undefined;
  if (ONLY === '' || ONLY === 'stall') {
    stallMet = await benchStall();
    console.log('');
  }
  let idleMet: boolean | undefined;
  if (ONLY === '' || ONLY === 'idle') {
    idleMet = await benchIdle(IDLE_CONNECTIONS);
    console.log('');
  }
  let fanoutMet: boolean | undefined;
  if (ONLY === '' || ONLY === 'fanout') {
    fanoutMet = await benchFanout();
    console.log('');
  }
  let authMet: boolean | undefined;
  if (ONLY === '' || ONLY === 'auth') {
    authMet = await benchAuth();
    console.log('');
  }
  let obsMet: boolean | undefined;
  if (ONLY === '' || ONLY === 'observability') {
    obsMet = await benchObservability();
    console.log('');
  }
  if (ONLY === '' || ONLY === 'verify') {
    await benchVerify();
    console.log('');
  }
  let ingestMet: boolean | undefined;
  if (ONLY === '' || ONLY === 'ingest') {
    ingestMet = await benchIngest(INGEST_EDITS);
    console.log('');
  }
  let yjsMet: boolean | undefined;
  if (ONLY === '' || ONLY === 'yjs') {
    yjsMet = await benchYjs({ edits: YJS_EDITS, factor: YJS_FACTOR });
    console.log('');
  }
  const verdicts = [
    met === undefined ? '' : `targets (SQLite, FULL): ${met ? 'MET' : 'NOT MET'}; `,
    historyMet === undefined ? '' : `targets (History): ${historyMet ? 'MET' : 'NOT MET'}; `,
    stallMet === undefined ? '' : `targets (Stall): ${stallMet ? 'MET' : 'NOT MET'}; `,
    idleMet === undefined ? '' : `targets (Idle connections): ${idleMet ? 'MET' : 'NOT MET'}; `,
    fanoutMet === undefined ? '' : `targets (Fan-out): ${fanoutMet ? 'MET' : 'NOT MET'}; `,
    ingestMet === undefined
      ? ''
      : `targets (Ingest, cold load): ${ingestMet ? 'MET' : 'NOT MET'}; `,
    authMet === undefined ? '' : `targets (Auth): ${authMet ? 'MET' : 'NOT MET'}; `,
    obsMet === undefined ? '' : `targets (Metrics + logging): ${obsMet ? 'MET' : 'NOT MET'}; `,
    yjsMet === undefined ? '' : `targets (Yjs): ${yjsMet ? 'MET' : 'NOT MET'}; `,
  ];
  console.log(`${verdicts.join('')}bench took ${((nowMs() - t0) / 1000).toFixed(0)}s`);
}

/** The SQLite section (issue "Foundation" targets); returns whether the targets were met. */
async function benchSqlite(seqChain: Chain, writerChains: Chain[]): Promise<boolean> {
  const full = await benchSync('full', TARGET_RUNS, seqChain, writerChains, true);
  const met = printTable(
    `SQLite synchronous=FULL, WAL — engine default, TARGET configuration (${TARGET_RUNS} runs)`,
    full.rows,
  );
  console.log('');
  const defenceMet = printTable(
    'SQLite FULL — commit-path cost of the integrity defence, same runs (ratios to the SPEC floor)',
    defenceRows(full.results),
    'ours/floor',
  );
  console.log('');
  const normal = await benchSync('normal', INFO_RUNS, seqChain, writerChains);
  printTable(
    `SQLite synchronous=NORMAL, WAL — engine sync:'normal', for information only, NOT the target (${INFO_RUNS} runs)`,
    normal.rows,
  );
  console.log('');
  return met && defenceMet;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import pg from 'pg';
import { PG_BIN, startPgCluster, type PgCluster } from '../test/helpers/postgres-cluster.js';
import { measureEngineCommitsPg, type EngineRate } from './engine-commit.bench.js';
import { startRecording, stopRecording, totals, type StatementStats } from './lib/pg-statements.js';
import { measureRawPgOneRowPerTx } from './lib/raw-pg.js';
import { printTable, type Row } from './lib/report.js';
import { median, nowMs, type Phase, type Rate } from './lib/timing.js';
import type { Chain } from './lib/workload.js';

export interface PgBenchOptions {
  runs: number;
  /** Concurrent writers (engine) and concurrent clients (raw). */
  writers: number;
  seqChain: Chain;
  writerChains: Chain[];
  seqPhase: Phase;
  concurrentPhase: Phase;
  rawPhase: Phase;
  /** Also print per-statement timings of one extra engine run of each kind. */
  profile: boolean;
}

/** An engine figure plus what its timed phase sent to PostgreSQL. */
interface EnginePgRate extends EngineRate {
  statements: StatementStats;
}

type Figure = 'rawSeq' | 'seq' | 'rawConc' | 'concurrent';

interface RunResult {
  rawSeq: Rate;
  seq: EnginePgRate;
  rawConc: Rate;
  concurrent: EnginePgRate;
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function pgFound(): boolean {
  return ['initdb', 'pg_ctl', 'postgres'].every((b) => fs.existsSync(path.join(PG_BIN, b)));
}

function driverVersion(): string {
  try {
    const req = createRequire(import.meta.url);
    return (req('pg/package.json') as { version: string }).version;
  } catch {
    return '?';
  }
}

/**
 * The PostgreSQL section of `npm run bench`: one durable throwaway cluster
 * for the whole section (stopped at the end, on error and on SIGINT/SIGTERM),
 * a fresh database per figure, engine figures beside raw `pg` single-row
 * transactions measured in the same run. No targets: figures for information.
 */
export async function benchPostgres(o: PgBenchOptions): Promise<void> {
  const title = `PostgreSQL — single-change transactions, durable cluster, driver pg ${driverVersion()}`;
  if (!pgFound()) {
    console.log(title);
    console.log(`  skipped: PostgreSQL not found (looked in ${PG_BIN}; set CAIRN_PG_BIN)`);
    return;
  }
  const startedAt = nowMs();
  const cluster = await startPgCluster({ durable: true });
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    cluster.stop();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    stop();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', stop);
  try {
    const settings = await serverSettings(cluster);
    console.log(title);
    console.log(
      `  server: ${settings}; cluster up in ${((nowMs() - startedAt) / 1000).toFixed(1)}s, fresh database per figure`,
    );
    console.log(
      `  raw: BEGIN; INSERT one change (bytea, prepared); COMMIT — the ${o.writers}-client figure uses ${o.writers} connections, one per client`,
    );
    console.log(
      '  engine: default pool (10 connections); one space → one write transaction at a time (group commit)',
    );
    const results: RunResult[] = [];
    for (let run = 0; run < o.runs; run++) results.push(await runOnce(cluster, o, run));
    printTable(
      `PostgreSQL, durable — no target set, for information (${o.runs} runs)`,
      rows(o, results),
    );
    if (o.profile) await profile(cluster, o);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('exit', stop);
    stop();
  }
}

async function serverSettings(cluster: PgCluster): Promise<string> {
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  try {
    const names = [
      'server_version',
      'fsync',
      'synchronous_commit',
      'full_page_writes',
      'wal_sync_method',
    ];
    const parts: string[] = [];
    for (const n of names) {
      const { rows } = await admin.query<Record<string, string>>(`SHOW ${n}`);
      parts.push(`${n}=${rows[0]?.[n] ?? '?'}`);
    }
    return parts.join(', ');
  } finally {
    await admin.end();
  }
}

let dbCounter = 0;

/** Runs `fn` against a fresh, empty database, dropped afterwards. */
async function withDatabase<T>(cluster: PgCluster, fn: (url: string) => Promise<T>): Promise<T> {
  const name = `bench_${process.pid}_${++dbCounter}`;
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    try {
      const url = new URL(cluster.adminUrl);
      url.pathname = `/${name}`;
      return await fn(url.toString());
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

async function engineFigure(
  cluster: PgCluster,
  chains: readonly Chain[],
  phase: Phase,
): Promise<EnginePgRate> {
  let statements: StatementStats = new Map();
  const rate = await withDatabase(cluster, (url) =>
    measureEngineCommitsPg(url, chains, phase, {
      onMeasureStart: () => {
        statements = startRecording();
      },
      onMeasureEnd: stopRecording,
    }),
  );
  return { ...rate, statements };
}

async function runOnce(cluster: PgCluster, o: PgBenchOptions, run: number): Promise<RunResult> {
  const out: Partial<RunResult> = {};
  const figures: Figure[] = ['rawSeq', 'seq', 'rawConc', 'concurrent'];
  // Rotate the order from run to run so drift on a noisy machine hits every figure alike.
  for (let i = 0; i < figures.length; i++) {
    const figure = figures[(i + run) % figures.length];
    const changes = o.seqChain.changes;
    if (figure === 'rawSeq') {
      out.rawSeq = await withDatabase(cluster, (url) =>
        measureRawPgOneRowPerTx(url, changes, o.rawPhase, 1),
      );
    }
    if (figure === 'rawConc') {
      out.rawConc = await withDatabase(cluster, (url) =>
        measureRawPgOneRowPerTx(url, changes, o.rawPhase, o.writers),
      );
    }
    if (figure === 'seq') out.seq = await engineFigure(cluster, [o.seqChain], o.seqPhase);
    if (figure === 'concurrent') {
      out.concurrent = await engineFigure(cluster, o.writerChains, o.concurrentPhase);
    }
  }
  const { rawSeq, seq, rawConc, concurrent } = out;
  if (!rawSeq || !seq || !rawConc || !concurrent) throw new Error('a figure was not measured');
  return { rawSeq, seq, rawConc, concurrent };
}

function engineNote(rates: EnginePgRate[], each: string): string {
  const perTx = (r: EnginePgRate) => {
    const t = totals(r.statements);
    return { stmts: t.calls / r.ops, ms: t.ms / r.ops };
  };
  const stmts = median(rates.map((r) => perTx(r).stmts));
  const ms = median(rates.map((r) => perTx(r).ms));
  const batch = median(rates.map((r) => r.txPerBatch));
  const from = median(rates.map((r) => r.docChangesFrom));
  const to = median(rates.map((r) => r.docChangesTo));
  return (
    `${batch.toFixed(1)} tx/batch, ${stmts.toFixed(1)} round trips/tx, ` +
    `${ms.toFixed(2)} ms/tx in PG round trips, doc ${int.format(from)}→${int.format(to)} changes${each}`
  );
}

function rows(o: PgBenchOptions, results: RunResult[]): Row[] {
  const rate = (pick: (r: RunResult) => Rate) => results.map((r) => pick(r).perSecond);
  const ratio = (ours: (r: RunResult) => Rate, raw: (r: RunResult) => Rate) =>
    results.map((r) => ours(r).perSecond / raw(r).perSecond);
  return [
    {
      label: 'raw pg, 1 client, 1 row/tx',
      perSecond: rate((r) => r.rawSeq),
      note: 'baseline for sequential (3 round trips/tx)',
    },
    {
      label: 'engine, sequential',
      perSecond: rate((r) => r.seq),
      ratios: ratio(
        (r) => r.seq,
        (r) => r.rawSeq,
      ),
      note: engineNote(
        results.map((r) => r.seq),
        '',
      ),
    },
    {
      label: `raw pg, ${o.writers} clients, 1 row/tx`,
      perSecond: rate((r) => r.rawConc),
      note: `baseline for ${o.writers} writers (${o.writers} connections)`,
    },
    {
      label: `engine, ${o.writers} writers`,
      perSecond: rate((r) => r.concurrent),
      ratios: ratio(
        (r) => r.concurrent,
        (r) => r.rawConc,
      ),
      note: engineNote(
        results.map((r) => r.concurrent),
        ' each',
      ),
    },
  ];
}

/** BENCH_PG_PROFILE=1: where an engine transaction's time goes, statement by statement. */
async function profile(cluster: PgCluster, o: PgBenchOptions): Promise<void> {
  const rtt = await withDatabase(cluster, async (url) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const one = { name: 'one', text: 'SELECT 1' };
      for (let i = 0; i < 200; i++) await c.query(one);
      const t0 = nowMs();
      const n = 2000;
      for (let i = 0; i < n; i++) await c.query(one);
      return (nowMs() - t0) / n;
    } finally {
      await c.end();
    }
  });
  console.log('');
  console.log(
    `profile (BENCH_PG_PROFILE=1): client-side time per statement, call → result; SELECT 1 round trip ${rtt.toFixed(3)} ms`,
  );
  const kinds: [string, Chain[], Phase][] = [
    ['engine, sequential', [o.seqChain], o.seqPhase],
    [`engine, ${o.writers} writers`, o.writerChains, o.concurrentPhase],
  ];
  for (const [label, chains, phase] of kinds) {
    const r = await engineFigure(cluster, chains, phase);
    const wallMsPerTx = (r.seconds * 1000) / r.ops;
    const t = totals(r.statements);
    console.log(
      `  ${label}: ${int.format(r.perSecond)} tx/s, ${r.txPerBatch.toFixed(1)} tx/batch, ` +
        `wall ${wallMsPerTx.toFixed(3)} ms/tx, in statements ${(t.ms / r.ops).toFixed(3)} ms/tx ` +
        `(${((100 * t.ms) / (r.seconds * 1000)).toFixed(0)}% of wall)`,
    );
    const sorted = [...r.statements.entries()].sort((a, b) => b[1].ms - a[1].ms);
    const w = Math.max(...sorted.map(([k]) => k.length));
    console.log(
      `    ${'statement'.padEnd(w)}  ${'per tx'.padStart(6)}  ${'mean ms'.padStart(7)}  ${'ms/tx'.padStart(6)}  share`,
    );
    for (const [key, s] of sorted) {
      console.log(
        `    ${key.padEnd(w)}  ${(s.calls / r.ops).toFixed(2).padStart(6)}  ${(s.ms / s.calls).toFixed(3).padStart(7)}  ` +
          `${(s.ms / r.ops).toFixed(3).padStart(6)}  ${((100 * s.ms) / t.ms).toFixed(0).padStart(4)}%`,
      );
    }
  }
}

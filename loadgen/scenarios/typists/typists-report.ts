import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fmtMs } from '../../../bench/lib/percentiles.js';
import { latencySummary, type LatencySummary } from '../../lib/histogram.js';
import type { TargetCheck } from '../../scenario.js';
import type { TypistRunResult } from './run-typists.js';
import type { TargetKind } from './schedule.js';

/** A send lag p99 over this means the typist processes, not the server, set the pace. */
export const CLIENT_BOUND_SEND_LAG_MS = 25;

/** One (server, typists) run, as reported. */
export interface TypistRow {
  target: TargetKind;
  docs: number;
  typistsPerDoc: number;
  /** Intended keystroke time → its frame reached another typist (the server's part). */
  latencyMs: LatencySummary;
  /** Intended keystroke time → in another typist's local doc (adds the client's applying). */
  visibleMs: LatencySummary;
  sendLagMs: LatencySummary;
  delivered: number;
  expected: number;
  drained: boolean;
  serverCpuPctPerWindow: number[];
  clientCpuPct: number;
  windowP99Ms: number[];
  clientBound: boolean;
}

export function toRow(
  target: TargetKind,
  docs: number,
  perDoc: number,
  r: TypistRunResult,
): TypistRow {
  const sendLagMs = latencySummary(r.sendLag);
  return {
    target,
    docs,
    typistsPerDoc: perDoc,
    latencyMs: latencySummary(r.latency),
    visibleMs: latencySummary(r.visible),
    sendLagMs,
    delivered: r.received,
    expected: Math.round(r.expected),
    drained: r.drained,
    serverCpuPctPerWindow: r.windows.map((w) => w.serverCpuPct),
    clientCpuPct: r.windows.reduce((n, w) => n + w.clientCpuPct, 0) / Math.max(1, r.windows.length),
    windowP99Ms: r.windows.map((w) => latencySummary(w.latency).p99),
    clientBound: sendLagMs.p99 > CLIENT_BOUND_SEND_LAG_MS,
  };
}

/**
 * Flat: after the warm-up the server's CPU does not climb — no window is
 * more than 25 % (and 5 points of one core) above the median window, and the
 * last is not that far above the first. A server whose work per keystroke
 * grows with the doc climbs window after window; one that settles after a
 * busy first window is flat.
 */
export function isFlat(cpu: readonly number[]): boolean {
  const finite = cpu.filter(Number.isFinite);
  if (finite.length < 2) return true;
  const sorted = [...finite].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  const within = (x: number, base: number) => x <= base * 1.25 + 5;
  return (
    within(Math.max(...finite), median) && within(finite.at(-1) as number, finite[0] as number)
  );
}

const pct = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)}%` : '—');
const int = (n: number) => n.toLocaleString('en-US');

/** The same run's baselines: raw commit rates and one raw durable commit's latency. */
export function printBaselines(m: {
  baselines: readonly { name: string; commitsPerSecond: number }[];
  rawCommitMs?: { p50: number; p99: number; max: number };
}): void {
  for (const b of m.baselines) {
    console.log(`${b.name}: ${Math.round(b.commitsPerSecond).toLocaleString('en-US')} commits/s`);
  }
  const r = m.rawCommitMs;
  if (r) {
    console.log(
      `raw SQLite durable commit (1 KiB row, WAL, synchronous=FULL, 200/s): p50 ${fmtMs(r.p50)}, ` +
        `p99 ${fmtMs(r.p99)}, max ${fmtMs(r.max)} — paid by cairn before every broadcast; the peers relay from memory`,
    );
  }
}

export function printRows(
  title: string,
  rows: readonly TypistRow[],
  targets: readonly TargetCheck[],
): void {
  const head = [
    'server'.padEnd(16),
    'typists'.padStart(8),
    'p50'.padStart(9),
    'p99'.padStart(9),
    'max'.padStart(9),
    'visible p99'.padStart(12),
    'delivered'.padStart(17),
    'server CPU / 10 s'.padEnd(22),
    'client CPU'.padStart(10),
    'send lag p99'.padStart(13),
  ].join(' ');
  console.log(`\n${title}\n${head}`);
  for (const r of rows) {
    console.log(
      [
        r.target.padEnd(16),
        `${r.docs > 1 ? `${r.docs}×` : ''}${r.typistsPerDoc}`.padStart(8),
        fmtMs(r.latencyMs.p50).padStart(9),
        fmtMs(r.latencyMs.p99).padStart(9),
        fmtMs(r.latencyMs.max).padStart(9),
        fmtMs(r.visibleMs.p99).padStart(12),
        `${int(r.delivered)}/${int(r.expected)}`.padStart(17),
        r.serverCpuPctPerWindow.map(pct).join(' ').padEnd(22),
        pct(r.clientCpuPct).padStart(10),
        `${fmtMs(r.sendLagMs.p99)}${r.clientBound ? ' (client-bound)' : ''}`.padStart(13),
      ].join(' '),
    );
  }
  if (targets.length > 0) console.log('\ntargets:');
  for (const t of targets) {
    const mark = t.met === undefined ? '  —' : t.met ? 'yes' : ' NO';
    console.log(`  ${mark}  ${t.name}: ${t.actual} (target ${t.target})`);
  }
}

const tag = (v: string) => v.replace(/[,= \\]/g, (c) => `\\${c}`);
const num = (v: number) => (Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : '0');

/** Writes `<scenario>-<backend>-<time>.json` and `.influx` (one point per run and per window). */
export function writeTypistReports(
  dir: string,
  head: { scenario: string; backend: string; startedAt: string; [k: string]: unknown },
  rows: readonly TypistRow[],
  targets: readonly TargetCheck[],
): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const runId = `${head.scenario}-${head.backend}-${head.startedAt.replace(/[:.]/g, '-')}`;
  const json = path.join(dir, `${runId}.json`);
  const influx = path.join(dir, `${runId}.influx`);
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    node: process.version,
  };
  fs.writeFileSync(
    json,
    `${JSON.stringify({ tool: 'cairn loadgen', runId, machine, ...head, rows, targets }, null, 2)}\n`,
  );
  const ts = `${Date.parse(head.startedAt)}000000`;
  const lines: string[] = [];
  for (const r of rows) {
    const base = `scenario=${tag(head.scenario)},backend=${tag(head.backend)},server=${tag(r.target)},typists=${r.typistsPerDoc},docs=${r.docs}`;
    const l = r.latencyMs;
    lines.push(
      `loadgen_typists,${base} p50_ms=${num(l.p50)},p99_ms=${num(l.p99)},max_ms=${num(l.max)},` +
        `visible_p99_ms=${num(r.visibleMs.p99)},` +
        `delivered=${r.delivered}i,expected=${r.expected}i,client_cpu_pct=${num(r.clientCpuPct)},` +
        `send_lag_p99_ms=${num(r.sendLagMs.p99)} ${ts}`,
    );
    r.serverCpuPctPerWindow.forEach((cpu, w) =>
      lines.push(
        `loadgen_typists_window,${base},window=${w} server_cpu_pct=${num(cpu)},p99_ms=${num(r.windowP99Ms[w] ?? Number.NaN)} ${ts}`,
      ),
    );
  }
  fs.writeFileSync(influx, `${lines.join('\n')}\n`);
  return [json, influx];
}

import { fmtMs } from '../../bench/lib/percentiles.js';
import { printGrid } from '../../bench/lib/report.js';
import type { OpGroup, TargetCheck } from '../scenario.js';
import type { Baseline } from './backend.js';
import { encodeHistogram, latencySummary, type LatencySummary } from './histogram.js';
import type { OpenLoopResult } from './open-loop.js';
import { OpStats, type ErrorSample } from './recorder.js';
import type { ServerLog } from './server.js';
import type { ServerProcessReport } from './server-metrics.js';

/** One row of the summary: an operation, or an exact merge of several. */
export interface OpRow {
  name: string;
  /** For a merged row: the operations merged. */
  ops?: readonly string[];
  /** Started in the window (intended start inside it). */
  intended: number;
  count: number;
  ok: number;
  expected: Record<string, number>;
  errors: Record<string, number>;
  intendedPerSecond: number;
  /** Answered as wanted (ok + expected) per second of window (or longer, if answers came late). */
  achievedPerSecond: number;
  /** From each op's intended start to its answer. */
  latencyMs: LatencySummary;
  /** From each op's actual send to its answer (diagnosis only: leaves out the generator's lag). */
  serviceMs: LatencySummary;
  /** The intended-start HDR histogram, µs, HdrHistogram compressed base64. */
  hdr: string;
}

/** One operation over one interval of the window (by intended start). */
export interface IntervalRow {
  /** Start of the interval, seconds into the window. */
  second: number;
  /** Its length, seconds. */
  seconds: number;
  op: string;
  intended: number;
  count: number;
  ok: number;
  expectedErrors: number;
  errors: number;
  latencyMs: LatencySummary;
}

export interface RunSummary {
  scenario: string;
  backend: string;
  describe: string;
  backendDescribe: string;
  startedAt: string;
  /** Wall-clock start of the measured window (interval 0). */
  windowStartedAt: string;
  warmupSeconds: number;
  seconds: number;
  ratePerSecond: number;
  /** False when the run was cut short by a signal. */
  complete: boolean;
  ops: OpRow[];
  groups: OpRow[];
  all: OpRow;
  intervals: IntervalRow[];
  /** How late the generator started operations against their schedule. */
  dispatchLagMs: LatencySummary;
  unexpectedErrors: number;
  errorSamples: ErrorSample[];
  baselines: Baseline[];
  server: {
    cpuPercentOfOneCore: number;
    peakRssBytes: number;
    log: ServerLog;
    /** GC and event-loop delay over the window and the drain, from the server's /metrics. */
    process?: ServerProcessReport;
  };
  loadgen: { cpuPercentOfOneCore: number };
  setup: Record<string, unknown>;
  facts: Record<string, unknown>;
  targets: TargetCheck[];
}

const toRecord = (m: ReadonlyMap<string, number>) => Object.fromEntries([...m].sort());

function row(
  name: string,
  s: OpStats,
  seconds: number,
  windowStartMs: number,
  windowEndMs: number,
  ops?: readonly string[],
): OpRow {
  const spanSeconds = (Math.max(windowEndMs, s.lastDoneMs) - windowStartMs) / 1000;
  return {
    name,
    ...(ops ? { ops } : {}),
    intended: s.intended,
    count: s.count,
    ok: s.ok,
    expected: toRecord(s.expected),
    errors: toRecord(s.errors),
    intendedPerSecond: s.intended / seconds,
    achievedPerSecond: spanSeconds > 0 ? s.answered / spanSeconds : 0,
    latencyMs: latencySummary(s.latency),
    serviceMs: latencySummary(s.service),
    hdr: encodeHistogram(s.latency),
  };
}

export interface SummaryInput {
  scenario: string;
  backend: string;
  describe: string;
  backendDescribe: string;
  startedAt: Date;
  warmupSeconds: number;
  ratePerSecond: number;
  ops: readonly string[];
  groups: readonly OpGroup[];
  result: OpenLoopResult;
  baselines: Baseline[];
  server: RunSummary['server'];
  loadgen: RunSummary['loadgen'];
  setup: Record<string, unknown>;
  facts: Record<string, unknown>;
}

/** Totals per op and per group are exact merges of the per-interval histograms. */
export function summarize(i: SummaryInput): RunSummary {
  const r = i.result;
  const rec = r.recorder;
  const seconds = (r.windowEndMs - r.windowStartMs) / 1000;
  const names = [...i.ops, ...rec.ops().filter((op) => !i.ops.includes(op))];
  const mk = (name: string, s: OpStats, ops?: readonly string[]) =>
    row(name, s, seconds, r.windowStartMs, r.windowEndMs, ops);
  const ops = names.map((op) => mk(op, rec.total(op)));
  const groups = i.groups.map((g) => mk(g.name, rec.group(g.ops), g.ops));
  const all = mk('all', rec.group(names), names);
  const intervals: IntervalRow[] = [];
  for (const op of names) {
    rec.intervalsOf(op).forEach((s, index) => {
      if (!s) return;
      intervals.push({
        second: (index * rec.intervalMs) / 1000,
        seconds: rec.intervalMs / 1000,
        op,
        intended: s.intended,
        count: s.count,
        ok: s.ok,
        expectedErrors: s.count - s.ok - s.errorCount,
        errors: s.errorCount,
        latencyMs: latencySummary(s.latency),
      });
    });
  }
  intervals.sort((a, b) => a.second - b.second || a.op.localeCompare(b.op));
  return {
    scenario: i.scenario,
    backend: i.backend,
    describe: i.describe,
    backendDescribe: i.backendDescribe,
    startedAt: i.startedAt.toISOString(),
    windowStartedAt: new Date(performance.timeOrigin + r.windowStartMs).toISOString(),
    warmupSeconds: i.warmupSeconds,
    seconds,
    ratePerSecond: i.ratePerSecond,
    complete: !r.aborted,
    ops,
    groups,
    all,
    intervals,
    dispatchLagMs: latencySummary(r.dispatchLag),
    unexpectedErrors: Object.values(all.errors).reduce((a, b) => a + b, 0),
    errorSamples: rec.samples,
    baselines: i.baselines,
    server: i.server,
    loadgen: i.loadgen,
    setup: i.setup,
    facts: i.facts,
    targets: [],
  };
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const rate = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });

function codes(r: OpRow): string {
  const parts = [
    ...Object.entries(r.errors).map(([c, n]) => `${c} ${int.format(n)}`),
    ...Object.entries(r.expected).map(([c, n]) => `${c} ${int.format(n)} (expected)`),
  ];
  return parts.join(', ');
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

const mib = (b: number) => (Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(0)} MiB` : '—');

/** The summary table, the targets and the context lines, on stdout. */
export function printSummary(s: RunSummary, files: readonly string[]): void {
  const cells = (r: OpRow, label = r.name) => [
    label,
    rate.format(r.intendedPerSecond),
    rate.format(r.achievedPerSecond),
    int.format(r.count),
    int.format(r.ok),
    int.format(sum(r.expected)),
    int.format(sum(r.errors)),
    fmtMs(r.latencyMs.p50),
    fmtMs(r.latencyMs.p95),
    fmtMs(r.latencyMs.p99),
    fmtMs(r.latencyMs.max),
    fmtMs(r.serviceMs.p95),
    codes(r),
  ];
  console.log('');
  console.log(
    `loadgen ${s.scenario} — ${s.backend}${s.complete ? '' : ' (CUT SHORT by a signal)'}`,
  );
  console.log(`  plan:    ${s.describe}`);
  console.log(`  store:   ${s.backendDescribe}`);
  console.log(
    `  window:  ${s.seconds.toFixed(1)} s after ${s.warmupSeconds} s warmup, open loop at ` +
      `${rate.format(s.ratePerSecond)} ops/s; latency from each op's intended start (loopback HTTP, keep-alive)`,
  );
  console.log('');
  printGrid(
    'Operations — latency from each intended start (HDR histograms; merged rows merge ' +
      'histograms, never percentiles); p95 svc: from the actual send, for diagnosis',
    [
      'op',
      'intended/s',
      'achieved/s',
      'count',
      'ok',
      'expected',
      'errors',
      'p50',
      'p95',
      'p99',
      'max',
      'p95 svc',
      'by code',
    ],
    [
      ...s.ops.map((r) => cells(r)),
      ...s.groups.map((r) => cells(r, `${r.name} (${(r.ops ?? []).join('+')})`)),
      cells(s.all),
    ],
  );
  console.log('');
  for (const b of s.baselines) {
    console.log(`${b.name}: ${int.format(b.commitsPerSecond)} commits/s  (${b.how})`);
  }
  if (s.targets.length) {
    console.log('');
    printGrid(
      'Targets',
      ['target', 'wanted', 'measured', 'met'],
      s.targets.map((t) => [
        t.name,
        t.target,
        t.actual,
        t.met === undefined ? '—' : t.met ? 'yes' : 'NO',
      ]),
    );
  }
  console.log('');

  console.log(
    `server:  CPU ${s.server.cpuPercentOfOneCore.toFixed(0)}% of one core over the window, ` +
      `peak RSS ${mib(s.server.peakRssBytes)}, log: ${s.server.log.errors} errors, ${s.server.log.warnings} warnings`,
  );
  const p = s.server.process;
  if (p) {
    console.log(
      `         event-loop delay max ${fmtMs(p.loopDelayMaxMs)}, p99 ${fmtMs(p.loopDelayP99Ms)} ` +
        `(10 ms resolution); GC ${int.format(p.gcPauses)} pauses (${p.gcMajor} major), ` +
        `${fmtMs(p.gcTotalMs)} in all, ${p.gcPausesOver100ms} over 100 ms; heap used ${mib(p.heapUsedBytes)} ` +
        `(window + drain, from /metrics)`,
    );
  }
  for (const line of s.server.log.samples) console.log(`  server log: ${line}`);
  console.log(
    `loadgen: CPU ${s.loadgen.cpuPercentOfOneCore.toFixed(0)}% of one core; start lag behind schedule ` +
      `p99 ${fmtMs(s.dispatchLagMs.p99)}, max ${fmtMs(s.dispatchLagMs.max)} (already inside every latency)`,
  );
  for (const e of s.errorSamples.slice(0, 5)) {
    console.log(
      `  error sample: ${e.op} ${e.code} at ${e.atSecond.toFixed(1)} s: ${e.detail.slice(0, 300)}`,
    );
  }
  if (files.length) console.log(`report:  ${files.join(', ')}`);
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LatencySummary } from './histogram.js';
import type { RunSummary } from './summary.js';

/** Influx line protocol: escapes for tag keys/values (commas, spaces, equals). */
function tag(v: string): string {
  return v.replace(/[,= \\]/g, (c) => `\\${c}`);
}

function num(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : '0';
}

function latencyFields(l: LatencySummary): string {
  return `p50_ms=${num(l.p50)},p95_ms=${num(l.p95)},p99_ms=${num(l.p99)},max_ms=${num(l.max)}`;
}

/**
 * Line protocol, nanosecond timestamps: `loadgen_interval` per op and second
 * of the window, `loadgen_op` per op and merged row for the whole window,
 * `loadgen_code` per op and error code, `loadgen_target` per target.
 */
export function toInflux(s: RunSummary, runId: string): string {
  const start = Date.parse(s.windowStartedAt);
  const ns = (ms: number) => `${Math.round(ms)}000000`;
  const base = `scenario=${tag(s.scenario)},backend=${tag(s.backend)},run=${tag(runId)}`;
  const lines: string[] = [];
  for (const iv of s.intervals) {
    lines.push(
      `loadgen_interval,${base},op=${tag(iv.op)} intended=${iv.intended}i,count=${iv.count}i,` +
        `ok=${iv.ok}i,expected=${iv.expectedErrors}i,errors=${iv.errors}i,${latencyFields(iv.latencyMs)} ` +
        ns(start + iv.second * 1000),
    );
  }
  const end = ns(start + s.seconds * 1000);
  for (const r of [...s.ops, ...s.groups, s.all]) {
    const kind = r.ops ? 'merged' : 'op';
    const expected = Object.values(r.expected).reduce((a, b) => a + b, 0);
    const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
    lines.push(
      `loadgen_op,${base},op=${tag(r.name)},kind=${kind} intended=${r.intended}i,count=${r.count}i,` +
        `ok=${r.ok}i,expected=${expected}i,errors=${errors}i,intended_per_s=${num(r.intendedPerSecond)},` +
        `achieved_per_s=${num(r.achievedPerSecond)},${latencyFields(r.latencyMs)},` +
        `p999_ms=${num(r.latencyMs.p999)} ${end}`,
    );
    if (r.ops) continue;
    for (const [code, n] of Object.entries(r.errors)) {
      lines.push(
        `loadgen_code,${base},op=${tag(r.name)},code=${tag(code)},expected=false count=${n}i ${end}`,
      );
    }
    for (const [code, n] of Object.entries(r.expected)) {
      lines.push(
        `loadgen_code,${base},op=${tag(r.name)},code=${tag(code)},expected=true count=${n}i ${end}`,
      );
    }
  }
  for (const b of s.baselines) {
    lines.push(
      `loadgen_baseline,${base},name=${tag(b.name)} commits_per_s=${num(b.commitsPerSecond)} ${end}`,
    );
  }
  for (const t of s.targets) {
    lines.push(
      `loadgen_target,${base},target=${tag(t.name)} met=${t.met === undefined ? '"none"' : t.met}` +
        ` ${end}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `<scenario>-<backend>-<time>.json` and `.influx` into `dir`; returns the paths. */
export function writeReports(dir: string, s: RunSummary): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const runId = `${s.scenario}-${s.backend}-${s.startedAt.replace(/[:.]/g, '-')}`;
  const json = path.join(dir, `${runId}.json`);
  const influx = path.join(dir, `${runId}.influx`);
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
  fs.writeFileSync(
    json,
    `${JSON.stringify({ tool: 'cairn loadgen', runId, machine, ...s }, null, 2)}\n`,
  );
  fs.writeFileSync(influx, toInflux(s, runId));
  return [json, influx];
}

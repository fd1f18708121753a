import type { Histogram } from 'hdr-histogram-js';
import { mergeHistograms, newLatencyHistogram, recordMs } from './histogram.js';

/**
 * How one operation ended: answered as the scenario wanted (`ok`), with an
 * error the scenario expects (`expected`, e.g. RevisionMismatch after a
 * conditional put), or anything else (`error`: a wrong status, a transport
 * failure, a timeout, an answer that breaks a rule the scenario checks).
 */
export type Outcome =
  | { kind: 'ok' }
  | { kind: 'expected'; code: string }
  | { kind: 'error'; code: string; detail?: string };

export const OK: Outcome = { kind: 'ok' };

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** Counts and latencies of one operation over one span of time. */
export class OpStats {
  /** From the intended start to the answer: the latency that counts. */
  readonly latency: Histogram;
  /** From the actual send to the answer (the generator's own lag left out), for diagnosis. */
  readonly service: Histogram;
  ok = 0;
  readonly expected = new Map<string, number>();
  readonly errors = new Map<string, number>();
  /** Operations whose intended start fell in this span. */
  intended = 0;
  /** The latest answer (performance.now() ms). */
  lastDoneMs = Number.NEGATIVE_INFINITY;

  constructor(
    latency: Histogram = newLatencyHistogram(),
    service: Histogram = newLatencyHistogram(),
  ) {
    this.latency = latency;
    this.service = service;
  }

  get answered(): number {
    let n = this.ok;
    for (const c of this.expected.values()) n += c;
    return n;
  }

  get errorCount(): number {
    let n = 0;
    for (const c of this.errors.values()) n += c;
    return n;
  }

  get count(): number {
    return this.answered + this.errorCount;
  }

  record(latencyMs: number, serviceMs: number, doneMs: number, outcome: Outcome): void {
    recordMs(this.latency, latencyMs);
    recordMs(this.service, serviceMs);
    this.lastDoneMs = Math.max(this.lastDoneMs, doneMs);
    if (outcome.kind === 'ok') this.ok++;
    else if (outcome.kind === 'expected') bump(this.expected, outcome.code);
    else bump(this.errors, outcome.code);
  }

  /** Sums of counts and an exact merge of the histograms. */
  static merge(parts: readonly OpStats[]): OpStats {
    const out = new OpStats(
      mergeHistograms(parts.map((p) => p.latency)),
      mergeHistograms(parts.map((p) => p.service)),
    );
    for (const p of parts) {
      out.ok += p.ok;
      out.intended += p.intended;
      out.lastDoneMs = Math.max(out.lastDoneMs, p.lastDoneMs);
      for (const [k, v] of p.expected) bump(out.expected, k, v);
      for (const [k, v] of p.errors) bump(out.errors, k, v);
    }
    return out;
  }
}

/** A few unexpected errors kept verbatim for the report. */
export interface ErrorSample {
  op: string;
  code: string;
  detail: string;
  atSecond: number;
}

/**
 * Per operation, one OpStats per interval (by intended start time, so a
 * stall shows in the second it was meant to happen); totals are merges.
 */
export class Recorder {
  private readonly series = new Map<string, OpStats[]>();
  readonly samples: ErrorSample[] = [];

  constructor(
    readonly windowStartMs: number,
    readonly intervalMs: number,
    readonly intervals: number,
  ) {}

  private slot(op: string, intendedMs: number): OpStats {
    let row = this.series.get(op);
    if (!row) {
      row = [];
      this.series.set(op, row);
    }
    const i = Math.min(
      this.intervals - 1,
      Math.max(0, Math.floor((intendedMs - this.windowStartMs) / this.intervalMs)),
    );
    let s = row[i];
    if (!s) {
      s = new OpStats();
      row[i] = s;
    }
    return s;
  }

  intend(op: string, intendedMs: number): void {
    this.slot(op, intendedMs).intended++;
  }

  record(op: string, intendedMs: number, sentMs: number, doneMs: number, outcome: Outcome): void {
    this.slot(op, intendedMs).record(doneMs - intendedMs, doneMs - sentMs, doneMs, outcome);
    if (outcome.kind === 'error' && this.samples.length < 20) {
      this.samples.push({
        op,
        code: outcome.code,
        detail: outcome.detail ?? '',
        atSecond: (intendedMs - this.windowStartMs) / 1000,
      });
    }
  }

  ops(): string[] {
    return [...this.series.keys()];
  }

  /** Per-interval stats of `op` (undefined where nothing was intended). */
  intervalsOf(op: string): readonly (OpStats | undefined)[] {
    return this.series.get(op) ?? [];
  }

  total(op: string): OpStats {
    return OpStats.merge(this.intervalsOf(op).filter((s): s is OpStats => s !== undefined));
  }

  /** An exact merge of the totals of several operations (e.g. every read). */
  group(ops: readonly string[]): OpStats {
    return OpStats.merge(ops.map((op) => this.total(op)));
  }

  /** The last interval's merged p99 over every op, for the progress line (ms). */
  recentP99(nowMs: number): number {
    const i = Math.floor((nowMs - this.windowStartMs) / this.intervalMs) - 1;
    if (i < 0 || i >= this.intervals) return Number.NaN;
    const parts: OpStats[] = [];
    for (const row of this.series.values()) {
      const s = row[i];
      if (s) parts.push(s);
    }
    const merged = mergeHistograms(parts.map((p) => p.latency));
    return merged.totalCount ? merged.getValueAtPercentile(99) / 1000 : Number.NaN;
  }
}

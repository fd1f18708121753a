import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

/**
 * Latencies go into HDR histograms in integer microseconds, 3 significant
 * digits (±0.1 %), from 1 µs up; the range grows by itself past 60 s.
 * Histograms are merged (`add`), never their percentiles averaged.
 */
export function newLatencyHistogram(): Histogram {
  return build({
    bitBucketSize: 32,
    numberOfSignificantValueDigits: 3,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    autoResize: true,
  });
}

/** Records a latency given in ms (clamped to at least 1 µs). */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}

/** A fresh histogram holding every value of `parts` (an exact merge). */
export function mergeHistograms(parts: readonly Histogram[]): Histogram {
  const merged = newLatencyHistogram();
  for (const p of parts) if (p.totalCount > 0) merged.add(p);
  return merged;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Percentiles in ms (NaN when empty). */
export function latencySummary(h: Histogram): LatencySummary {
  if (h.totalCount === 0) {
    const nan = Number.NaN;
    return { p50: nan, p90: nan, p95: nan, p99: nan, p999: nan, max: nan, mean: nan };
  }
  const at = (p: number) => h.getValueAtPercentile(p) / 1000;
  return {
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    p999: at(99.9),
    max: h.maxValue / 1000,
    mean: h.mean / 1000,
  };
}

/** The histogram in the HdrHistogram compressed base64 form (values in µs), for later merges. */
export function encodeHistogram(h: Histogram): string {
  return encodeIntoCompressedBase64(h);
}

export type { Histogram };

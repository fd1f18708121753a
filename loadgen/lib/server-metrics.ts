import type { HttpClient } from './http.js';

/** What the server's GET /metrics says about its process (prom-client default metrics). */
export interface ProcessSample {
  /** GC pauses by kind (major, minor, incremental, weakcb): count and seconds. */
  gc: Map<string, { count: number; seconds: number; over100ms: number }>;
  /** Event-loop delay since the previous scrape (prom-client resets it), seconds. */
  loopDelayMax: number;
  loopDelayP99: number;
  heapUsedBytes: number;
}

/** Over the measured window: the server's GC and event-loop delay. */
export interface ServerProcessReport {
  gcPauses: number;
  gcMajor: number;
  gcTotalMs: number;
  gcPausesOver100ms: number;
  /** Event-loop delay (10 ms resolution), ms. */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  /** V8 heap in use at the end. */
  heapUsedBytes: number;
}

const PREFIX = 'cairn_process_nodejs_';

function value(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** Scrapes /metrics; undefined when the server has none (or answers otherwise). */
export async function scrapeProcess(http: HttpClient): Promise<ProcessSample | undefined> {
  try {
    const a = await http.request('GET', '/metrics');
    if (a.status !== 200) return undefined;
    const gc = new Map<string, { count: number; seconds: number; over100ms: number }>();
    const line = new RegExp(
      `^${PREFIX}gc_duration_seconds_(count|sum|bucket)\\{([^}]*)\\} (\\S+)$`,
      'gm',
    );
    const le01 = new Map<string, number>();
    for (const m of a.text.matchAll(line)) {
      const [, kind, labels, v] = m as unknown as [string, string, string, string];
      const gcKind = /kind="([^"]+)"/.exec(labels)?.[1] ?? '?';
      const row = gc.get(gcKind) ?? { count: 0, seconds: 0, over100ms: 0 };
      gc.set(gcKind, row);
      if (kind === 'count') row.count = Number(v);
      else if (kind === 'sum') row.seconds = Number(v);
      else if (/le="0\.1"/.test(labels)) le01.set(gcKind, Number(v));
    }
    for (const [k, row] of gc) row.over100ms = row.count - (le01.get(k) ?? row.count);
    return {
      gc,
      loopDelayMax: value(a.text, `${PREFIX}eventloop_lag_max_seconds`),
      loopDelayP99: value(a.text, `${PREFIX}eventloop_lag_p99_seconds`),
      heapUsedBytes: value(a.text, `${PREFIX}heap_size_used_bytes`),
    };
  } catch {
    return undefined;
  }
}

/** The difference of two scrapes (the second one's event-loop delay covers the span). */
export function processDelta(
  before: ProcessSample | undefined,
  after: ProcessSample | undefined,
): ServerProcessReport | undefined {
  if (!before || !after) return undefined;
  let pauses = 0;
  let seconds = 0;
  let over = 0;
  for (const [kind, a] of after.gc) {
    const b = before.gc.get(kind) ?? { count: 0, seconds: 0, over100ms: 0 };
    pauses += a.count - b.count;
    seconds += a.seconds - b.seconds;
    over += a.over100ms - b.over100ms;
  }
  const major = (after.gc.get('major')?.count ?? 0) - (before.gc.get('major')?.count ?? 0);
  return {
    gcPauses: pauses,
    gcMajor: major,
    gcTotalMs: seconds * 1000,
    gcPausesOver100ms: over,
    loopDelayMaxMs: after.loopDelayMax * 1000,
    loopDelayP99Ms: after.loopDelayP99 * 1000,
    heapUsedBytes: after.heapUsedBytes,
  };
}

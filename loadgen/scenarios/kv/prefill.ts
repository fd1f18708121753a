import { errorCodeOf, HttpFailure, type HttpClient } from '../../lib/http.js';
import type { Progress } from '../../lib/progress.js';
import type { Namespace } from './ops.js';
import { BULK_ITEMS, makeValue, valueBytes } from './values.js';

/** One bulk put of the prefill: its namespace and its items' keys and sizes. */
interface PrefillBulk {
  ns: Namespace;
  items: { key: string; bytes: number }[];
}

export interface PrefillPlan {
  /** Namespaces with `records` list-scan records `p-0000`… (values 400–800 B). */
  big: readonly Namespace[];
  records: number;
  /** Every other namespace gets this many records of the plan's sizes (one bulk). */
  seed: readonly Namespace[];
  seedRecords: number;
  concurrency: number;
  /** A deadline: what is not sent by then is left out (and reported). */
  maxSeconds: number;
}

export interface PrefillReport {
  bulkPuts: number;
  records: number;
  bigNamespaces: number;
  recordsPerBigNamespace: number;
  seededNamespaces: number;
  seconds: number;
  cutShort: boolean;
}

/**
 * Before the timed run (not measured): the list-scan namespaces, filled in
 * 20-item bulk puts, interleaved across tenants, `concurrency` at a time;
 * every record acknowledged is tracked, so the run reads keys that exist.
 * Any error stops the run: a load test on a broken setup measures nothing.
 */
export async function prefill(
  http: HttpClient,
  plan: PrefillPlan,
  rand: () => number,
  progress: Progress,
  signal: AbortSignal,
): Promise<PrefillReport> {
  const bulks: PrefillBulk[] = [];
  const perBig = Math.ceil(plan.records / BULK_ITEMS);
  for (let b = 0; b < perBig; b++) {
    for (const ns of plan.big) {
      const items = [];
      for (let i = b * BULK_ITEMS; i < Math.min(plan.records, (b + 1) * BULK_ITEMS); i++) {
        items.push({
          key: `p-${String(i).padStart(4, '0')}`,
          bytes: 400 + Math.floor(rand() * 400),
        });
      }
      bulks.push({ ns, items });
    }
  }
  for (const ns of plan.seed) {
    if (plan.seedRecords <= 0) break;
    const items = [];
    for (let i = 0; i < plan.seedRecords; i++) {
      items.push({ key: ns.keys.freshKey(), bytes: Math.min(valueBytes(rand), 16 * 1024) });
    }
    bulks.push({ ns, items });
  }
  const started = performance.now();
  const deadline = started + plan.maxSeconds * 1000;
  let next = 0;
  let done = 0;
  let records = 0;
  const ticker = setInterval(() => {
    progress.update(
      `prefill: ${done.toLocaleString('en-US')}/${bulks.length.toLocaleString('en-US')} bulk puts, ` +
        `${records.toLocaleString('en-US')} records, ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 200);
  let failed = false;
  const worker = async () => {
    while (next < bulks.length && performance.now() < deadline && !signal.aborted && !failed) {
      const bulk = bulks[next++] as PrefillBulk;
      const body = {
        items: bulk.items.map((it) => ({ key: it.key, value: makeValue(it.bytes, it.key) })),
      };
      let answer;
      try {
        answer = await http.request('POST', `${bulk.ns.base}/records`, body);
      } catch (err) {
        throw new Error(
          `prefill: ${err instanceof HttpFailure ? err.code : 'error'}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const items = (answer.body as { items?: { key: string; revision: number }[] })?.items;
      if (answer.status !== 200 || !Array.isArray(items)) {
        throw new Error(
          `prefill: bulk put answered ${answer.status} ${errorCodeOf(answer)}: ` +
            JSON.stringify(answer.body).slice(0, 300),
        );
      }
      for (const it of items) bulk.ns.keys.ack(it.key, it.revision, undefined);
      done++;
      records += items.length;
    }
  };
  const guarded = () =>
    worker().catch((err: unknown) => {
      failed = true;
      throw err;
    });
  try {
    await Promise.all(Array.from({ length: plan.concurrency }, guarded));
  } finally {
    clearInterval(ticker);
    progress.done();
  }
  return {
    bulkPuts: done,
    records,
    bigNamespaces: plan.big.length,
    recordsPerBigNamespace: plan.records,
    seededNamespaces: plan.seedRecords > 0 ? plan.seed.length : 0,
    seconds: (performance.now() - started) / 1000,
    cutShort: done < bulks.length,
  };
}

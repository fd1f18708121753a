/**
 * Issue "Operations": the commit-path cost of metrics and logging —
 * sequential single-change transactions through `POST /v1/:space/tx`
 * (in-process fetch, SQLite FULL, auth off) with Prometheus metrics and an
 * info-level JSON access log line per request (written to a file) ÷ with
 * both off (target ≥ 0.95). Runs alternate off / on; the median of the
 * paired ratios is the verdict.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { createCairn } from '../src/app/create-cairn.js';
import { silentLogger } from '../src/core/logger.js';
import { printGrid } from './lib/report.js';
import { median, nowMs, withTempDir } from './lib/timing.js';
import { makeChain } from './lib/workload.js';

const SPACE = 'did:key:z6MkObservabilityBench';
const COMMIT_MS = 2000;
const RUNS = 3;

async function commitRate(on: boolean): Promise<{ rate: number; logBytes: number }> {
  return withTempDir('cairn-bench-obs-', async (dir) => {
    const logFile = path.join(dir, 'log.jsonl');
    const dest = pino.destination({ dest: logFile, sync: false });
    const logger = on ? pino({ level: 'info' }, dest) : silentLogger;
    const cairn = await createCairn({
      dataDir: path.join(dir, 'data'),
      sync: 'full',
      auth: 'off',
      logger,
      metrics: on,
      serverKey: Buffer.alloc(32, 12).toString('base64url'),
    });
    try {
      const chain = makeChain(9, 'doc', 20_000);
      const url = `http://cairn.bench/v1/${SPACE}/tx`;
      let k = 0;
      const send = async () => {
        const body = JSON.stringify(chain.bodies[k++]);
        const res = await cairn.fetch(new Request(url, { method: 'POST', body }));
        if (res.status !== 200) throw new Error(`commit answered ${res.status}`);
      };
      for (let i = 0; i < 200; i++) await send();
      const t0 = nowMs();
      const start = k;
      while (nowMs() - t0 < COMMIT_MS && k < chain.bodies.length) await send();
      const rate = ((k - start) * 1000) / (nowMs() - t0);
      if (on) await cairn.fetch(new Request('http://cairn.bench/metrics')); // scraped at least once
      return { rate, logBytes: on ? (dest.flushSync(), fs.statSync(logFile).size) : 0 };
    } finally {
      await cairn.close();
      dest.end();
    }
  });
}

/** Prints the table; returns whether metrics + logging kept ≥ 0.95 of the rate. */
export async function benchObservability(): Promise<boolean> {
  const off: number[] = [];
  const on: number[] = [];
  const ratios: number[] = [];
  let logBytes = 0;
  for (let run = 0; run < RUNS; run++) {
    const a = await commitRate(false);
    const b = await commitRate(true);
    off.push(a.rate);
    on.push(b.rate);
    ratios.push(b.rate / a.rate);
    logBytes = b.logBytes;
  }
  const ratio = median(ratios);
  const met = ratio >= 0.95;
  const fmt = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
  printGrid(
    `Metrics and logging on the sequential commit path — POST /tx one at a time, SQLite FULL, ${RUNS} runs of ${COMMIT_MS} ms (median)`,
    ['metrics + access log', 'tx/s', 'ratio', 'target'],
    [
      ['off (baseline)', fmt(median(off)), '', ''],
      [
        `on (info log line per request; ${Math.round(logBytes / 1024)} KiB in the last run)`,
        fmt(median(on)),
        `${ratio.toFixed(2)}× off (paired median)`,
        `≥ 0.95: ${met ? 'yes' : 'NO'}`,
      ],
    ],
  );
  return met;
}

/**
 * Issue "Capability auth", in the same run:
 * - UCAN verifications per second of a 1-link token (minted by the space
 *   key) and a 3-link chain (space → app → device → server), each with the
 *   verified-chain cache and without it (every signature checked);
 * - the cost of auth on the sequential commit path: single-change
 *   transactions through `POST /v1/:space/tx` (in-process fetch, SQLite
 *   FULL), one after another, with auth required (a 3-link chain on every
 *   request) ÷ auth off (target ≥ 0.9).
 */
import { createCairn } from '../src/app/create-cairn.js';
import { Authorizer } from '../src/auth/authorizer.js';
import type { Capability } from '../src/auth/capabilities.js';
import { identityFromSeed } from '../src/auth/server-identity.js';
import { mintUcan } from '../src/auth/ucan-mint.js';
import { DEFAULT_UCAN_LIMITS, UcanVerifier } from '../src/auth/ucan-verifier.js';
import { printGrid } from './lib/report.js';
import { median, nowMs, withTempDir } from './lib/timing.js';
import { makeChain } from './lib/workload.js';

const SERVER_SEED = new Uint8Array(32).fill(11);
const server = identityFromSeed(SERVER_SEED);
const seed = (n: number) => new Uint8Array(32).fill(n);
const space = identityFromSeed(seed(41));
const VERIFY_MS = 1000;
const COMMIT_MS = 2000;
const RUNS = 3;

const cap = (can: Capability['can']): Capability => ({ with: space.did, can });

function oneLink(): string {
  return mintUcan({
    issuerSeed: seed(41),
    audience: server.did,
    capabilities: [cap('storage/write')],
    ttlSec: 3600,
  });
}

function threeLinks(): string {
  const toApp = mintUcan({
    issuerSeed: seed(41),
    audience: identityFromSeed(seed(42)).did,
    capabilities: [cap('storage/admin')],
    ttlSec: 7200,
  });
  const toDevice = mintUcan({
    issuerSeed: seed(42),
    audience: identityFromSeed(seed(43)).did,
    capabilities: [cap('storage/write')],
    ttlSec: 5400,
    proofs: [toApp],
  });
  return mintUcan({
    issuerSeed: seed(43),
    audience: server.did,
    capabilities: [cap('storage/write')],
    ttlSec: 3600,
    proofs: [toDevice],
  });
}

/** Verifications per second of `token` (and the authorizer's capability check). */
function verifyRate(token: string, cached: boolean): number {
  const auth = new Authorizer(
    'required',
    server.did,
    new UcanVerifier(DEFAULT_UCAN_LIMITS, Date.now, cached),
  );
  let n = 0;
  const t0 = nowMs();
  while (nowMs() - t0 < VERIFY_MS) {
    for (let i = 0; i < 64; i++) auth.require(auth.grant(token), space.did, 'storage/write');
    n += 64;
  }
  return (n * 1000) / (nowMs() - t0);
}

/** Sequential single-change transactions per second through POST /tx. */
async function commitRate(auth: 'required' | 'off', token: string): Promise<number> {
  return withTempDir('cairn-bench-auth-', async (dataDir) => {
    const cairn = await createCairn({
      dataDir,
      sync: 'full',
      auth,
      serverKey: Buffer.from(SERVER_SEED).toString('base64url'),
    });
    try {
      const chain = makeChain(7, 'doc', 20_000);
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
      const url = `http://cairn.bench/v1/${space.did}/tx`;
      let k = 0;
      const send = async () => {
        const res = await cairn.fetch(
          new Request(url, { method: 'POST', headers, body: JSON.stringify(chain.bodies[k++]) }),
        );
        if (res.status !== 200)
          throw new Error(`commit answered ${res.status}: ${await res.text()}`);
      };
      for (let i = 0; i < 200; i++) await send(); // warm-up
      const t0 = nowMs();
      const start = k;
      while (nowMs() - t0 < COMMIT_MS && k < chain.bodies.length) await send();
      return ((k - start) * 1000) / (nowMs() - t0);
    } finally {
      await cairn.close();
    }
  });
}

/** Prints both tables; returns whether auth kept ≥ 0.9 of the commit rate. */
export async function benchAuth(): Promise<boolean> {
  const one = oneLink();
  const three = threeLinks();
  const fmt = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
  const rates = {
    oneCached: verifyRate(one, true),
    oneFresh: verifyRate(one, false),
    threeCached: verifyRate(three, true),
    threeFresh: verifyRate(three, false),
  };
  printGrid(
    `UCAN verification — grant + capability check per request, ${VERIFY_MS} ms each`,
    ['token', 'cached (by token hash)', 'uncached (every signature)', 'cached ÷ uncached'],
    [
      [
        '1 link (space key → server)',
        fmt(rates.oneCached),
        fmt(rates.oneFresh),
        `${(rates.oneCached / rates.oneFresh).toFixed(0)}×`,
      ],
      [
        '3 links (space → app → device → server)',
        fmt(rates.threeCached),
        fmt(rates.threeFresh),
        `${(rates.threeCached / rates.threeFresh).toFixed(0)}×`,
      ],
    ],
  );
  const ratios: number[] = [];
  const on: number[] = [];
  const off: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const a = await commitRate('off', three);
    const b = await commitRate('required', three);
    off.push(a);
    on.push(b);
    ratios.push(b / a);
  }
  // Runs alternate off / on; the paired ratio of each run, then the median.
  const ratio = median(ratios);
  const met = ratio >= 0.9;
  printGrid(
    `Auth on the sequential commit path — POST /tx one at a time, SQLite FULL, ${RUNS} runs of ${COMMIT_MS} ms (median)`,
    ['auth', 'tx/s', 'ratio', 'target'],
    [
      ['off (baseline)', fmt(median(off)), '', ''],
      [
        'required, 3-link chain per request',
        fmt(median(on)),
        `${ratio.toFixed(2)}× off (paired median; medians ${(median(on) / median(off)).toFixed(2)}×)`,
        `≥ 0.90: ${met ? 'yes' : 'NO'}`,
      ],
    ],
  );
  return met;
}

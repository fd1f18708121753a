import pg from 'pg';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REQUEST_TIMEOUT_MS } from '../helpers/http.js';
import { startPgCluster, type PgCluster } from '../helpers/postgres-cluster.js';
import { SeededRandom, testSeed } from '../helpers/seeded-random.js';
import { startServer, stopAllServers } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { expectVerifyPasses, MixedLoad } from '../proof/crash/mixed-load.js';
import { pause, unknownOutcomes } from '../proof/crash/outcome.js';
import { proofScale } from '../proof/proof-scale.js';

/**
 * Issue 15 item 2 with PostgreSQL: the database, not the server, goes away
 * (`pg_ctl stop -m fast` on a cluster of this test's own) and comes back,
 * at seeded moments, while the mixed load (Automerge transactions, Yjs
 * providers and HTTP updates, KV puts) runs against a `cairn serve` child.
 * Writes during the outage get typed 503s (SPEC §8); the process stays up
 * and takes writes again by itself; afterwards every acknowledged write is
 * there, a write whose answer was a 503 is there in full or not at all,
 * every update broadcast to a provider is in the Yjs state (those relayed
 * during the outage once relay mode has written them, SPEC §11), and
 * `cairn verify` passes.
 */

const OUTAGES = proofScale(2, 10);
const LOAD_BEFORE_MS = 300;
const OUTAGE_MS = 300;
/** Seeded extra time on top of each of the two above. */
const SPREAD_MS = proofScale(900, 2_000);
/** After the database is back: this many more transactions must be answered. */
const ACKED_AFTER_RESTART = 3;
const RECOVERY_CAP_MS = 30_000;
/** Before each outage, this many more writes of each kind must have been answered. */
const MIN_ACKED_BEFORE = 3;

const ackedCounts = (load: MixedLoad) => [load.automerge.acked, load.kv.acked, load.yjs.ackedTotal];

let cluster: PgCluster | undefined;
afterAll(async () => {
  await stopAllServers();
  cluster?.stop();
});

/** Waits (bounded) until `/readyz` passes: storage back, no Yjs doc left in relay mode. */
async function untilReady(url: string): Promise<void> {
  const deadline = Date.now() + RECOVERY_CAP_MS;
  for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (res.status === 200) return;
    await pause(100);
  }
  throw new Error('the server did not become ready after the database came back');
}

describe('proof: PostgreSQL restarted under a mixed load', () => {
  it(
    'answers 503 while the database is down, stays up, recovers by itself and loses nothing acknowledged',
    async () => {
      const seed = testSeed();
      console.log(`proof: db-restart seed=${seed} (replay with CAIRN_SEED=${seed})`);
      const rng = new SeededRandom(seed);
      cluster = await startPgCluster();
      const pgCluster = cluster;
      const admin = new pg.Client({ connectionString: pgCluster.adminUrl });
      await admin.connect();
      await admin.query('CREATE DATABASE proof_db_restart');
      await admin.end();
      const databaseUrl = pgCluster.adminUrl.replace(/\/postgres$/, '/proof_db_restart');
      const { dir, cleanup } = makeTempDir('cairn-proof-db-restart-');
      const space = 'did:key:z6MkProofDbRestart';
      const load = new MixedLoad(space, rng);
      let outages = 0;
      const refusedDuringOutage: number[] = [];
      const recoveredAfterMs: number[] = [];
      try {
        const server = await startServer({ dataDir: path.join(dir, 'data'), databaseUrl });
        await load.run(server, async (ctx, stop) => {
          for (let i = 0; i < OUTAGES && !ctx.stopped(); i++) {
            // Load first: a seeded time, and at least some writes of every kind answered.
            const loadMs = LOAD_BEFORE_MS + rng.int(SPREAD_MS);
            const before = ackedCounts(load);
            const started = Date.now();
            while (
              !ctx.stopped() &&
              Date.now() - started < RECOVERY_CAP_MS &&
              (Date.now() - started < loadMs ||
                ackedCounts(load).some((n, k) => n < (before[k] as number) + MIN_ACKED_BEFORE))
            ) {
              await pause(10);
            }
            const unknownBefore = unknownOutcomes.count;
            pgCluster.halt();
            outages++;
            await pause(OUTAGE_MS + rng.int(SPREAD_MS));
            refusedDuringOutage.push(unknownOutcomes.count - unknownBefore);
            const ackedAtRestart = load.automerge.acked;
            pgCluster.restart();
            const restartedAt = Date.now();
            while (
              !ctx.stopped() &&
              load.automerge.acked < ackedAtRestart + ACKED_AFTER_RESTART &&
              Date.now() - restartedAt < RECOVERY_CAP_MS
            ) {
              await pause(20);
            }
            recoveredAfterMs.push(Date.now() - restartedAt);
            expect(load.automerge.acked, 'writes come back by themselves').toBeGreaterThanOrEqual(
              ackedAtRestart + ACKED_AFTER_RESTART,
            );
          }
          stop();
        });
        // One more run with the database up: writers resend what a 503 left unknown.
        await load.run(server, async () => pause(300));
        expect(server.alive, 'the server process stayed up').toBe(true);
        await untilReady(server.url);
        await load.check(server);
        expect(server.alive).toBe(true);
        expectVerifyPasses(server, space);
        console.log(
          `proof: db-restart backend=postgres seed=${seed} restarts=${outages} ${load.ackedLine} refused-during-outages=${refusedDuringOutage.join(',')} recovered-after-ms=${recoveredAfterMs.join(',')} lost-answers: tx=${JSON.stringify(load.automerge.lost)} kv=${JSON.stringify(load.kv.lost)} epochs=${load.epochsChecked}`,
        );
        for (const n of refusedDuringOutage)
          expect(n, 'writes were refused while down').toBeGreaterThan(0);
        await server.stop();
      } catch (err) {
        console.log(`proof: db-restart FAILED seed=${seed} after ${outages} restarts`);
        throw err;
      } finally {
        await stopAllServers();
        cleanup();
      }
    },
    proofScale(120_000, 900_000),
  );
});

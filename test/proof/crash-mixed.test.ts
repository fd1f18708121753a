import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../helpers/backend.js';
import { SeededRandom, testSeed } from '../helpers/seeded-random.js';
import { restartServer, startServer, stopAllServers } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { expectVerifyPasses, MixedLoad } from './crash/mixed-load.js';
import { pause } from './crash/outcome.js';
import { proofScale } from './proof-scale.js';

/**
 * Issue 15 item 2, SPEC §2 step 9 / §11 / §12: a receipt, a Yjs broadcast
 * and a KV answer all mean "durable". A mixed load (Automerge transactions,
 * some multi-doc; Yjs providers and HTTP updates; KV puts, bulk puts and
 * compare-and-set) runs against `cairn serve --sync full` (the default),
 * which is SIGKILLed at seeded random moments and restarted on the same
 * data dir or database. After each kill `cairn verify` passes on the data
 * as the crash left it; after each restart every acknowledged write is
 * there, epochs are dense with the tx chain intact, and a write whose answer
 * was lost is there in full or not at all.
 */

const KILLS = proofScale(4, 24);
/** A kill comes this long after the load starts, at least (plus a seeded part). */
const MIN_KILL_AFTER_MS = 300;
const KILL_SPREAD_MS = proofScale(1_500, 3_000);
/** The load must have had this many transactions answered before a kill. */
const MIN_ACKED_TX_PER_CYCLE = 3;
const CYCLE_CAP_MS = 20_000;

afterAll(async () => {
  await stopAllServers();
});

describe('proof: crash under a mixed load', () => {
  it(
    'keeps every acknowledged Automerge, Yjs and KV write across SIGKILLs and restarts, with nothing half-visible',
    async () => {
      const seed = testSeed();
      console.log(`proof: crash-mixed seed=${seed} (replay with CAIRN_SEED=${seed})`);
      const rng = new SeededRandom(seed);
      const { dir, cleanup } = makeTempDir('cairn-proof-crash-');
      const space = 'did:key:z6MkProofCrashMixed';
      const load = new MixedLoad(space, rng);
      let kills = 0;
      try {
        let server = await startServer({ dataDir: path.join(dir, 'data') });
        expect(server.options.sync, 'the default durability (--sync full)').toBeUndefined();
        for (let cycle = 0; cycle < KILLS; cycle++) {
          const killAfterMs = MIN_KILL_AFTER_MS + rng.int(KILL_SPREAD_MS);
          const ackedBefore = load.automerge.acked;
          const current = server;
          await load.run(current, async (ctx, stop) => {
            const started = Date.now();
            while (
              !ctx.stopped() &&
              Date.now() - started < CYCLE_CAP_MS &&
              (Date.now() - started < killAfterMs ||
                load.automerge.acked < ackedBefore + MIN_ACKED_TX_PER_CYCLE)
            ) {
              await pause(5);
            }
            // Kill first, then stop the writers: requests are in flight when it dies.
            current.child.kill('SIGKILL');
            stop();
          });
          const exit = await current.exited();
          expect(exit.signal, `cycle ${cycle}: killed`).toBe('SIGKILL');
          kills++;
          // The data exactly as the crash left it is sound.
          expectVerifyPasses(current, space);
          server = await restartServer(current);
          await load.check(server);
          console.log(
            `proof: crash-mixed cycle=${cycle} killAfterMs=${killAfterMs} epochs=${load.epochsChecked} ${load.ackedLine}`,
          );
        }
        // One last run with no kill: the writers resend what the last kill lost, then stop.
        await load.run(server, async () => pause(300));
        await load.check(server);
        await server.stop();
        expectVerifyPasses(server, space);
        console.log(
          `proof: crash-mixed backend=${TEST_BACKEND} seed=${seed} kills=${kills} ${load.ackedLine} lost-answers: tx=${JSON.stringify(load.automerge.lost)} kv=${JSON.stringify(load.kv.lost)} epochs=${load.epochsChecked}`,
        );
        expect(load.automerge.acked).toBeGreaterThan(0);
        expect(load.kv.acked).toBeGreaterThan(0);
        expect(load.yjs.counts.http).toBeGreaterThan(0);
        expect(load.yjs.counts.broadcast).toBeGreaterThan(0);
      } catch (err) {
        console.log(`proof: crash-mixed FAILED seed=${seed} after ${kills} kills`);
        throw err;
      } finally {
        await stopAllServers();
        cleanup();
      }
    },
    proofScale(120_000, 1_800_000),
  );
});

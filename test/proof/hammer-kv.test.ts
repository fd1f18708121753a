import { afterAll, describe, it } from 'vitest';
import { runKvScenario } from './hammer/kv-counter.js';
import { proofScale } from './proof-scale.js';
import { testSeed } from '../helpers/seeded-random.js';
import { startServer, stopAllServers } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * Issue 15, hammer (SPEC §12): 100 KV writers increment a counter in ONE key
 * over real HTTP to a `cairn serve` child, read-modify-write with
 * `ifRevision`, retrying on `409 RevisionMismatch`, for several rounds.
 * Every answer is a success or the typed mismatch (never a 5xx, never a
 * hang), the final counter equals the number of successful puts (no lost
 * update), and the revisions strictly increase. (test/kv/kv-concurrency
 * covers mixed operations of a few writers through the library; this is the
 * single-key stampede over HTTP.)
 */

const WRITERS = proofScale(100, 100);
const ROUNDS = proofScale(2, 10);
const DEADLINE_MS = proofScale(120_000, 900_000);

const cleanups: (() => void)[] = [];
afterAll(async () => {
  await stopAllServers();
  for (const fn of cleanups.splice(0)) fn();
});

describe(`hammer: ${WRITERS} KV writers on one key`, () => {
  it(
    `${WRITERS} read-modify-write increments per round × ${ROUNDS} with ifRevision: no lost update, revisions strictly increase, only typed RevisionMismatch`,
    async () => {
      const tmp = makeTempDir();
      cleanups.push(tmp.cleanup);
      await runKvScenario({
        name: 'kv-counter',
        space: 'did:key:z6MkHammerKv',
        servers: [await startServer({ dataDir: tmp.dir })],
        setup: {
          key: 'counter',
          writers: WRITERS,
          rounds: ROUNDS,
          seed: testSeed(),
          maxAttempts: 4 * WRITERS,
          deadlineMs: DEADLINE_MS,
        },
      });
    },
    DEADLINE_MS + 60_000,
  );
});

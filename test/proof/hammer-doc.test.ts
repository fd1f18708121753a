import { afterAll, describe, it } from 'vitest';
import { expectEveryEdit, expectGuardedEdits, rebaseRun, roundsRun } from './hammer/doc-runs.js';
import { runDocScenario } from './hammer/doc-scenario.js';
import { proofScale } from './proof-scale.js';
import { testSeed } from '../helpers/seeded-random.js';
import { startServer, stopAllServers } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * Issue 15, hammer (SPEC §2): 100 clients read the same heads of ONE doc,
 * each makes its own Automerge change on that base, and all POST /tx at once
 * over real HTTP to a `cairn serve` child. No deadlock (every answer within a
 * bound), every answer a receipt or a typed 409 conflict (never a 5xx), and
 * the final state sound: dense epochs, every receipted change stored and no
 * refused one, the served doc equal to the receipted changes applied
 * locally, and `cairn verify` passing.
 */

const CLIENTS = proofScale(100, 100);
/** Fresh docs per scenario: each a new shared base and a new stampede. */
const ROUNDS = proofScale(1, 5);
const REBASE_DOCS = proofScale(1, 3);
/** Bound of one rebase doc (the clients' retry loops stop there); the test's own bound is above it. */
const REBASE_DEADLINE_MS = 120_000;
const REBASE_TIMEOUT_MS = REBASE_DOCS * REBASE_DEADLINE_MS + 60_000;

const cleanups: (() => void)[] = [];
afterAll(async () => {
  await stopAllServers();
  for (const fn of cleanups.splice(0)) fn();
});

async function oneServer() {
  const tmp = makeTempDir();
  cleanups.push(tmp.cleanup);
  return [await startServer({ dataDir: tmp.dir })];
}

describe(`hammer: ${CLIENTS} concurrent transactions on one doc`, () => {
  it(`${CLIENTS} plain concurrent changes on one base all commit and merge; state sound, verify passes`, async () => {
    const seed = testSeed();
    const values = await runDocScenario({
      name: 'doc-concurrent',
      space: 'did:key:z6MkHammerDocConcurrent',
      seed,
      servers: await oneServer(),
      clients: CLIENTS,
      run: roundsRun(['concurrent'], { rounds: ROUNDS, clients: CLIENTS, seed }),
    });
    for (const value of values.values()) expectEveryEdit(value, CLIENTS);
  });

  it(`${CLIENTS} transactions guarding one base: exactly the first commits, the rest get StaleBaseHeads/ReadConflict; state sound`, async () => {
    const seed = testSeed();
    const values = await runDocScenario({
      name: 'doc-precondition',
      space: 'did:key:z6MkHammerDocPrecondition',
      seed,
      servers: await oneServer(),
      clients: CLIENTS,
      run: roundsRun(['precondition', 'mixed'], { rounds: ROUNDS, clients: CLIENTS, seed }),
    });
    for (const [docId, value] of values) expectGuardedEdits(docId, value, CLIENTS);
  });

  it(
    `refused clients rebase on the new heads and retry: all ${CLIENTS} commit, the doc holds every edit`,
    async () => {
      const seed = testSeed();
      const values = await runDocScenario({
        name: 'doc-rebase',
        space: 'did:key:z6MkHammerDocRebase',
        seed,
        servers: await oneServer(),
        clients: CLIENTS,
        run: rebaseRun({
          docs: REBASE_DOCS,
          clients: CLIENTS,
          seed,
          deadlineMs: REBASE_DEADLINE_MS,
        }),
      });
      for (const value of values.values()) expectEveryEdit(value, CLIENTS);
    },
    REBASE_TIMEOUT_MS,
  );
});

import { afterAll, describe, it } from 'vitest';
import {
  expectEveryEdit,
  expectGuardedEdits,
  rebaseRun,
  roundsRun,
} from '../proof/hammer/doc-runs.js';
import { runDocScenario } from '../proof/hammer/doc-scenario.js';
import { runKvScenario } from '../proof/hammer/kv-counter.js';
import { proofScale } from '../proof/proof-scale.js';
import { createTestDatabase } from '../helpers/backend.js';
import { testSeed } from '../helpers/seeded-random.js';
import { startServer, stopAllServers, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * Issue 15, hammer across processes: the doc and KV hammers of
 * test/proof/hammer-*.test.ts against TWO `cairn serve` processes on one
 * PostgreSQL database, the clients split between them (client i talks to
 * process i % 2). Writes to a space are serialized across processes by the
 * space's row lock: every answer must still be a receipt or a typed
 * conflict, epochs dense across both, both processes serve the same sound
 * state, and `cairn verify` passes.
 */

const CLIENTS = proofScale(100, 100);
const ROUNDS = proofScale(1, 5);
const REBASE_DOCS = proofScale(1, 3);
const REBASE_DEADLINE_MS = 120_000;
const REBASE_TIMEOUT_MS = REBASE_DOCS * REBASE_DEADLINE_MS + 60_000;
const KV_ROUNDS = proofScale(1, 10);
const KV_DEADLINE_MS = proofScale(120_000, 900_000);

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  await stopAllServers();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Two server processes (own data dirs, same server key) on one fresh database. */
async function twoProcesses(): Promise<ServerProcess[]> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const servers: ServerProcess[] = [];
  for (let i = 0; i < 2; i++) {
    const tmp = makeTempDir();
    cleanups.push(tmp.cleanup);
    servers.push(await startServer({ dataDir: tmp.dir, databaseUrl: db.url }));
  }
  return servers;
}

describe(`hammer across two processes on one database: ${CLIENTS} clients`, () => {
  it(`${CLIENTS} concurrent, guarded and mixed transactions on one base: receipts or typed conflicts only, one sound state`, async () => {
    const seed = testSeed();
    const values = await runDocScenario({
      name: 'doc-two-processes',
      space: 'did:key:z6MkHammerTwoProcesses',
      seed,
      servers: await twoProcesses(),
      clients: CLIENTS,
      run: roundsRun(['concurrent', 'precondition', 'mixed'], {
        rounds: ROUNDS,
        clients: CLIENTS,
        seed,
      }),
    });
    for (const [docId, value] of values) {
      if (docId.startsWith('concurrent')) expectEveryEdit(value, CLIENTS);
      else expectGuardedEdits(docId, value, CLIENTS);
    }
  });

  it(
    `refused clients of both processes rebase and retry: all ${CLIENTS} commit`,
    async () => {
      const seed = testSeed();
      const values = await runDocScenario({
        name: 'doc-rebase-two-processes',
        space: 'did:key:z6MkHammerRebaseTwoProcesses',
        seed,
        servers: await twoProcesses(),
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

  it(
    `${CLIENTS} KV read-modify-write writers on one key across both processes: no lost update`,
    async () => {
      await runKvScenario({
        name: 'kv-counter-two-processes',
        space: 'did:key:z6MkHammerKvTwoProcesses',
        servers: await twoProcesses(),
        setup: {
          key: 'counter',
          writers: CLIENTS,
          rounds: KV_ROUNDS,
          seed: testSeed(),
          maxAttempts: 4 * CLIENTS,
          deadlineMs: KV_DEADLINE_MS,
        },
      });
    },
    KV_DEADLINE_MS + 60_000,
  );
});

import { createCairn, type Cairn, type CairnOptions } from '../../src/app/create-cairn.js';
import type { TxOutcome, TxReceipt, TxFailure } from '../../src/protocol/receipt.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { createTestDatabase, TEST_BACKEND } from './backend.js';
import { makeTempDir } from './temp-dir.js';

/** A key so every test run signs with the same identity (fast start, stable DIDs). */
export const TEST_SERVER_KEY = Buffer.alloc(32, 7).toString('base64url');
export const SPACE = 'did:key:z6MkTestSpaceOne';
export const OTHER_SPACE = 'did:key:z6MkTestSpaceTwo';

export interface TestEngine {
  cairn: Cairn;
  dataDir: string;
  /** Runs a raw (JSON-shaped) transaction body through shape checks and the pipeline. */
  tx(body: unknown, space?: string): Promise<TxOutcome>;
  /** Like tx, but fails the test unless it committed. */
  ok(body: unknown, space?: string): Promise<TxReceipt>;
  /** Like tx, but fails the test unless it was refused; returns the failure. */
  refused(body: unknown, space?: string): Promise<TxFailure>;
  /** Closes and reopens the engine on the same data dir. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The engine in-process on the backend under test: real SQLite files in a
 * temp dir (`sync: normal` keeps tests fast; durability under SIGKILL is
 * tested end-to-end with the default `full`), or a fresh PostgreSQL database
 * in the run's cluster.
 */
export async function startEngine(options: CairnOptions = {}): Promise<TestEngine> {
  const { dir, cleanup } = makeTempDir();
  const database = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
  const open = () =>
    createCairn({
      dataDir: dir,
      sync: 'normal',
      serverKey: TEST_SERVER_KEY,
      // Auth has its own tests (test/auth); the rest test everything else.
      auth: 'off',
      ...(database ? { databaseUrl: database.url } : {}),
      ...options,
    });
  let cairn = await open();
  const tx = async (body: unknown, space = SPACE) => {
    const request = parseTxRequest(body, cairn.limits);
    return cairn.pipeline.commit(space, request);
  };
  const engine: TestEngine = {
    get cairn() {
      return cairn;
    },
    dataDir: dir,
    tx,
    ok: async (body, space) => {
      const out = await tx(body, space);
      if (!out.ok) throw new Error(`expected commit, got ${JSON.stringify(out.error)}`);
      return out;
    },
    refused: async (body, space) => {
      const out = await tx(body, space);
      if (out.ok) throw new Error(`expected refusal, got commit at epoch ${out.epoch}`);
      return out;
    },
    reopen: async () => {
      await cairn.close();
      cairn = await open();
    },
    close: async () => {
      await cairn.close();
      await database?.drop();
      cleanup();
    },
  };
  return engine;
}

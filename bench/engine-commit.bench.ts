import { createCairn, type Cairn } from '../src/app/create-cairn.js';
import { parseTxRequest } from '../src/protocol/tx-request.js';
import type { SyncMode } from './lib/raw-sqlite.js';
import { nowMs, rateOf, withTempDir, type Bounds, type Phase, type Rate } from './lib/timing.js';
import type { Chain } from './lib/workload.js';

export const BENCH_SPACE = 'did:key:z6MkBenchSpaceFoundation';
/** A fixed server key: no key generation or settings write at start. */
const BENCH_SERVER_KEY = Buffer.alloc(32, 11).toString('base64url');

export interface EngineRate extends Rate {
  /** Mean transactions per database transaction (group commit batch) in the timed phase. */
  txPerBatch: number;
  /** Changes in the longest doc when the timed phase started and ended. */
  docChangesFrom: number;
  docChangesTo: number;
}

/** One writer's position in its chain; a chain is sent strictly in order. */
interface Cursor {
  chain: Chain;
  next: number;
}

/** Optional hooks around the timed phase only (not the warm-up). */
export interface MeasureHooks {
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
}

/**
 * Single-change transactions through the engine on SQLite (a fresh data dir
 * with the given `synchronous`): see `measureCommits`.
 */
export async function measureEngineCommits(
  sync: SyncMode,
  chains: readonly Chain[],
  phase: Phase,
): Promise<EngineRate> {
  return withTempDir('cairn-bench-engine-', (dataDir) =>
    measureCommits(
      () => createCairn({ dataDir, sync, serverKey: BENCH_SERVER_KEY, auth: 'off' }),
      chains,
      phase,
    ),
  );
}

/** The same through the engine on PostgreSQL (`databaseUrl` names a fresh, empty database). */
export async function measureEngineCommitsPg(
  databaseUrl: string,
  chains: readonly Chain[],
  phase: Phase,
  hooks: MeasureHooks = {},
): Promise<EngineRate> {
  return measureCommits(
    () => createCairn({ databaseUrl, serverKey: BENCH_SERVER_KEY, auth: 'off' }),
    chains,
    phase,
    hooks,
  );
}

/**
 * Single-change transactions through the engine: every writer sends its
 * chain's next change (shape check with `parseTxRequest`, then
 * `pipeline.commit`), awaits the receipt, and sends the next one. One writer
 * is the sequential case; N writers each own a doc in the same space.
 */
export async function measureCommits(
  open: () => Promise<Cairn>,
  chains: readonly Chain[],
  phase: Phase,
  hooks: MeasureHooks = {},
): Promise<EngineRate> {
  if (chains.length === 0) throw new Error('no writers');
  const cairn = await open();
  try {
    const cursors: Cursor[] = chains.map((chain) => ({ chain, next: 0 }));
    // Warm-up: each writer's first changes (creating its doc), untimed.
    await runWriters(cairn, cursors, perWriter(phase.warmup, cursors.length));

    let batches = 0;
    let batchedTx = 0;
    const unsubscribe = cairn.pipeline.onCommitted((committed) => {
      batches++;
      batchedTx += committed.length;
    });
    const longest = () => Math.max(...cursors.map((c) => c.next));
    const docChangesFrom = longest();
    hooks.onMeasureStart?.();
    const start = nowMs();
    let done: number;
    try {
      done = await runWriters(cairn, cursors, phase.measure);
    } finally {
      hooks.onMeasureEnd?.();
    }
    const rate = rateOf(done, nowMs() - start);
    unsubscribe();
    return {
      ...rate,
      txPerBatch: batches > 0 ? batchedTx / batches : 0,
      docChangesFrom,
      docChangesTo: longest(),
    };
  } finally {
    await cairn.close();
  }
}

function perWriter(bounds: Bounds, writers: number): Bounds {
  return {
    maxOps: Math.max(1, Math.floor(bounds.maxOps / writers)) * writers,
    seconds: bounds.seconds,
  };
}

/**
 * Runs all writers until `bounds` (total transactions or seconds) is reached
 * or any writer runs out of pre-generated changes; returns how many committed.
 */
async function runWriters(cairn: Cairn, cursors: Cursor[], bounds: Bounds): Promise<number> {
  const deadline = nowMs() + bounds.seconds * 1000;
  let started = 0;
  let stop = false;
  const writer = async (cursor: Cursor): Promise<number> => {
    let committed = 0;
    while (!stop) {
      if (started >= bounds.maxOps || nowMs() >= deadline) break;
      const body = cursor.chain.bodies[cursor.next];
      if (body === undefined) {
        stop = true; // out of changes: stop everyone so concurrency stays what it says
        break;
      }
      started++;
      const outcome = await cairn.pipeline.commit(BENCH_SPACE, parseTxRequest(body, cairn.limits));
      if (!outcome.ok) {
        stop = true;
        throw new Error(
          `bench tx refused (${cursor.chain.docId} #${cursor.next}): ${JSON.stringify(outcome.error)}`,
        );
      }
      cursor.next++;
      committed++;
    }
    return committed;
  };
  const counts = await Promise.all(cursors.map(writer));
  return counts.reduce((a, b) => a + b, 0);
}

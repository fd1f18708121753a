import { setTimeout as sleep } from 'node:timers/promises';
import { clientsOnBase, type RoundSetup, type RoundStats } from './doc-rounds.js';
import type { DocClient } from './doc-client.js';
import { backoffMs } from './hammer-http.js';
import { SeededRandom } from '../../helpers/seeded-random.js';

/**
 * The optimistic client of SPEC §2 under full contention: every client sends
 * its change on the shared base with `baseHeads` (so all but one are refused
 * at first); a refused client reads what it missed, makes a *new* change on
 * the new heads and retries, until committed. Bounded in attempts and time;
 * a client that runs out of either is reported in the ledger.
 */

/** Bounds of the retry loop. */
export interface RebaseBounds {
  /** Attempts per client (the first send included). */
  maxAttempts: number;
  /** Wall-clock bound on the whole round. */
  deadlineMs: number;
  /** Seed of the clients' backoff jitter. */
  seed: number;
}

async function untilCommitted(
  c: DocClient,
  setup: RoundSetup,
  bounds: RebaseBounds,
  stopAt: number,
  stats: RoundStats,
): Promise<boolean> {
  const rng = new SeededRandom(bounds.seed + c.id);
  for (let attempt = 1; attempt <= bounds.maxAttempts && Date.now() < stopAt; attempt++) {
    if (attempt > 1) {
      // Back off first, then rebase: read what was committed since, and build
      // the new change on it right before sending (the freshest base).
      await sleep(backoffMs(rng, attempt - 1));
      await c.catchUp();
    }
    const change = c.makeChange();
    const answer = await c.send(change, 'base');
    const what = `rebase client ${c.id} attempt ${attempt} of ${setup.docId}`;
    const outcome = setup.ledger.record(what, setup.docId, [change], answer);
    if (outcome.kind === 'committed') {
      stats.committed++;
      return true;
    }
    if (outcome.kind === 'failed') return false;
    if (outcome.code !== 'StaleBaseHeads') {
      setup.ledger.unexpected.push(`${what}: refused with ${outcome.code}`);
    }
    stats.conflicts++;
    stats.retries++;
  }
  setup.ledger.unexpected.push(
    `rebase client ${c.id} of ${setup.docId}: not committed after ${c.attempts} attempts`,
  );
  return false;
}

/** Runs the round; every client ends committed unless the ledger says why not. */
export async function hammerRebase(setup: RoundSetup, bounds: RebaseBounds): Promise<RoundStats> {
  const clients = await clientsOnBase(setup);
  const stats: RoundStats = { committed: 0, conflicts: 0, retries: 0 };
  const stopAt = Date.now() + bounds.deadlineMs;
  await Promise.all(clients.map((c) => untilCommitted(c, setup, bounds, stopAt, stats)));
  return stats;
}

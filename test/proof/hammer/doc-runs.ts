import { expect } from 'vitest';
import type { DocLedger } from './doc-ledger.js';
import { hammerRebase } from './doc-rebase.js';
import { hammerRound, type RoundKind, type RoundStats } from './doc-rounds.js';
import { SeededRandom } from '../../helpers/seeded-random.js';

/**
 * The doc hammer's runs, for `runDocScenario`: rounds of stampedes (each on
 * a fresh doc of one space) and rebase-and-retry runs, with their figures
 * summed; and the checks of the merged docs' content.
 */

/** What `runDocScenario` calls with the servers' bases and the space's ledger. */
export type DocRun = (
  bases: string[],
  ledger: DocLedger,
) => Promise<{ docIds: string[]; stats: RoundStats }>;

const add = (a: RoundStats, b: RoundStats): RoundStats => ({
  committed: a.committed + b.committed,
  conflicts: a.conflicts + b.conflicts,
  retries: a.retries + b.retries,
});
const NONE: RoundStats = { committed: 0, conflicts: 0, retries: 0 };

/** `rounds` rounds of each kind, each on its own doc (`<kind>/<round>`). */
export function roundsRun(
  kinds: RoundKind[],
  sizes: { rounds: number; clients: number; seed: number },
): DocRun {
  return async (bases, ledger) => {
    const rng = new SeededRandom(sizes.seed);
    const docIds: string[] = [];
    let stats = NONE;
    for (let r = 0; r < sizes.rounds; r++) {
      for (const kind of kinds) {
        const docId = `${kind}/${r}`;
        docIds.push(docId);
        const setup = { bases, docId, clients: sizes.clients, rng, ledger };
        stats = add(stats, await hammerRound(kind, setup));
      }
    }
    return { docIds, stats };
  };
}

/** Rebase-and-retry on `docs` docs (`rebase/<n>`), one after another. */
export function rebaseRun(sizes: {
  docs: number;
  clients: number;
  seed: number;
  deadlineMs: number;
}): DocRun {
  return async (bases, ledger) => {
    const docIds: string[] = [];
    let stats = NONE;
    for (let d = 0; d < sizes.docs; d++) {
      const docId = `rebase/${d}`;
      docIds.push(docId);
      const rng = new SeededRandom(sizes.seed + d);
      const setup = { bases, docId, clients: sizes.clients, rng, ledger };
      const bounds = {
        maxAttempts: 4 * sizes.clients,
        deadlineMs: sizes.deadlineMs,
        seed: sizes.seed + d,
      };
      stats = add(stats, await hammerRebase(setup, bounds));
    }
    return { docIds, stats };
  };
}

/** Every client's edit is in the merged doc: its own key, and its counter increment. */
export function expectEveryEdit(value: Record<string, unknown>, clients: number): void {
  expect(value.counter).toBe(clients);
  for (let i = 0; i < clients; i++) expect(value[`c${i}`], `c${i}`).toBeGreaterThan(0);
}

/**
 * Guarded rounds keep exactly one edit; mixed rounds every merge write (the
 * odd clients) and at most one guarded one (only as the round's first commit).
 */
export function expectGuardedEdits(docId: string, value: Record<string, unknown>, clients: number) {
  const expected = docId.startsWith('precondition') ? [1] : [clients / 2, clients / 2 + 1];
  expect(expected, docId).toContain(value.counter);
}

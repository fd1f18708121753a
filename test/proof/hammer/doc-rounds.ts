import { baseChange, DocClient, type Precondition } from './doc-client.js';
import type { DocLedger } from './doc-ledger.js';
import { call } from './hammer-http.js';
import { b64 } from '../../helpers/changes.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';

/**
 * One hammer round on a fresh doc: a setup client commits the base, every
 * client reads it (all must see the same heads), makes its own change on it,
 * and all transactions are sent at once. Violations of SPEC §2 are added to
 * the ledger's `unexpected` list; the counts are returned for the `proof:` line.
 */

/**
 * `concurrent`: every write is a merge write (plain concurrent changes, all
 * must commit). `precondition`: every transaction guards its base — by the
 * write's `baseHeads` or by a read set — so exactly one commits. `mixed`:
 * half of each; a guarded one may only commit as the round's first commit.
 */
export type RoundKind = 'concurrent' | 'precondition' | 'mixed';

/** Where and how big a round is. */
export interface RoundSetup {
  /** `http://127.0.0.1:<port>/v1/<space>` per server; client i talks to `bases[i % n]`. */
  bases: string[];
  docId: string;
  clients: number;
  rng: SeededRandom;
  ledger: DocLedger;
}

/** The figures of one round. */
export interface RoundStats {
  committed: number;
  conflicts: number;
  retries: number;
}

/** Commits the base of `docId` and returns clients that have all read it. */
export async function clientsOnBase(setup: RoundSetup): Promise<DocClient[]> {
  const { bases, docId, ledger } = setup;
  const change = baseChange(docId);
  const body = { writes: [{ docId, baseHeads: [], changes: [b64(change)] }] };
  const answer = await call(`${bases[0] as string}/tx`, 'POST', body);
  const outcome = ledger.record(`base of ${docId}`, docId, [change], answer);
  if (outcome.kind !== 'committed') throw new Error(`base of ${docId}: ${answer.text}`);
  const clients = Array.from(
    { length: setup.clients },
    (_, i) => new DocClient(i, bases[i % bases.length] as string, docId),
  );
  await Promise.all(clients.map((c) => c.catchUp()));
  const baseHeads = JSON.stringify(outcome.receipt.results[0]?.newHeads);
  for (const c of clients) {
    if (JSON.stringify(c.heads) !== baseHeads) {
      ledger.unexpected.push(`client ${c.id} read ${JSON.stringify(c.heads)}, not ${baseHeads}`);
    }
  }
  return clients;
}

function preconditionOf(kind: RoundKind, i: number, rng: SeededRandom): Precondition {
  if (kind === 'concurrent' || (kind === 'mixed' && i % 2 === 1)) return 'none';
  return rng.chance(0.5) ? 'base' : 'read';
}

/** One round of `kind`: every client sends one change at once, none retries. */
export async function hammerRound(kind: RoundKind, setup: RoundSetup): Promise<RoundStats> {
  const { docId, rng, ledger } = setup;
  const clients = await clientsOnBase(setup);
  const guards = clients.map((_, i) => preconditionOf(kind, i, rng));
  const changes = clients.map((c) => c.makeChange());
  // All at once: every request is on the wire before the first answer is read.
  const answers = await Promise.all(clients.map((c, i) => c.send(changes[i]!, guards[i]!)));
  const outcomes = answers.map((answer, i) =>
    ledger.record(`${kind} client ${i} of ${docId}`, docId, [changes[i]!], answer),
  );
  const epochs = outcomes.flatMap((o) => (o.kind === 'committed' ? [o.receipt.epoch] : []));
  const firstEpoch = Math.min(...epochs);
  const problem = (i: number, text: string) =>
    ledger.unexpected.push(`${kind} client ${i} (${guards[i]}) of ${docId}: ${text}`);
  outcomes.forEach((o, i) => {
    const guard = guards[i];
    if (o.kind === 'committed' && guard !== 'none' && o.receipt.epoch !== firstEpoch) {
      problem(i, `committed at epoch ${o.receipt.epoch} on a stale base (first ${firstEpoch})`);
    }
    if (o.kind === 'conflict') {
      if (guard === 'none') problem(i, `a merge write was refused with ${o.code}`);
      const expected = guard === 'base' ? 'StaleBaseHeads' : 'ReadConflict';
      if (o.code !== expected) problem(i, `refused with ${o.code}, not ${expected}`);
      if (o.currentHeads.length === 0) problem(i, `${o.code} without currentHeads`);
    }
  });
  const committed = epochs.length;
  if (kind === 'precondition' && committed !== 1) {
    ledger.unexpected.push(`precondition round of ${docId}: ${committed} commits, not exactly 1`);
  }
  return { committed, conflicts: outcomes.filter((o) => o.kind === 'conflict').length, retries: 0 };
}

import { expect } from 'vitest';
import { checkSpace, verifySpace } from './doc-checks.js';
import { DocLedger } from './doc-ledger.js';
import type { RoundStats } from './doc-rounds.js';
import { TEST_BACKEND } from '../../helpers/backend.js';
import type { ServerProcess } from '../../helpers/server-process.js';

/**
 * Runs one hammer scenario on running servers of one dataset and asserts the
 * whole outcome: only receipts and typed conflicts, the final state sound
 * (`checkSpace`) on every server, then — with the servers stopped —
 * `cairn verify` passes. Prints the `proof: hammer-<name>` line.
 */
export async function runDocScenario(options: {
  name: string;
  space: string;
  seed: number;
  servers: ServerProcess[];
  clients: number;
  /** Runs the rounds; returns the docs it wrote and the summed figures. */
  run: (bases: string[], ledger: DocLedger) => Promise<{ docIds: string[]; stats: RoundStats }>;
}): Promise<Map<string, Record<string, unknown>>> {
  const { name, space, seed, servers } = options;
  const bases = servers.map((s) => `${s.url}/v1/${space}`);
  const ledger = new DocLedger();
  const { docIds, stats } = await options.run(bases, ledger);
  console.log(
    `proof: hammer-${name} backend=${TEST_BACKEND} clients=${options.clients} ` +
      `committed=${stats.committed} conflicts=${stats.conflicts} retries=${stats.retries} ` +
      `docs=${docIds.length} processes=${servers.length} seed=${seed}`,
  );
  const context = `seed=${seed} (replay: CAIRN_SEED=${seed})`;
  // The servers' own account of a 5xx (logged with its request id), for the failure message.
  const errors = servers.flatMap((s) =>
    s
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":50'))
      .slice(0, 3),
  );
  expect(ledger.unexpected, `${context}; server errors: ${errors.join('\n')}`).toEqual([]);
  for (const s of servers) expect(s.alive, `server :${s.port} is running`).toBe(true);

  let values = new Map<string, Record<string, unknown>>();
  for (const base of bases) {
    const checked = await checkSpace(base, ledger, docIds);
    expect(checked.problems, `${base}; ${context}`).toEqual([]);
    values = checked.values;
  }

  // verify refuses a SQLite data dir in use: stop the servers first.
  for (const s of servers) await s.stop();
  const first = servers[0] as ServerProcess;
  const verified = verifySpace(space, {
    dataDir: first.dataDir,
    ...(first.options.databaseUrl ? { databaseUrl: first.options.databaseUrl } : {}),
  });
  expect(verified.code, verified.out).toBe(0);
  expect(verified.report.ok).toBe(true);
  expect(verified.report.checked?.epochs).toBe(ledger.receipts.length);
  expect(verified.report.checked?.changes).toBe(ledger.committed.size);
  return values;
}

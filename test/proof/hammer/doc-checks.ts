import * as A from '@automerge/automerge';
import { call, changesFrom, txRecords } from './hammer-http.js';
import type { DocLedger } from './doc-ledger.js';
import type { Doc } from '../../helpers/changes.js';
import { runCli } from '../../helpers/cli.js';

/**
 * The final state of a hammered space, read back over HTTP and held against
 * the clients' ledger: each doc's log is exactly its receipted changes (each
 * at its receipt's epoch, seqs dense, no refused change), the served doc and
 * heads equal a local Automerge doc of those changes, and the space's epochs
 * are dense — one tx record per receipt, with the receipt's txHash, linked.
 * Returns the problems found (empty when sound) and each doc's value.
 */
export async function checkSpace(
  base: string,
  ledger: DocLedger,
  docIds: readonly string[],
): Promise<{ problems: string[]; values: Map<string, Record<string, unknown>> }> {
  const problems: string[] = [];
  const values = new Map<string, Record<string, unknown>>();
  for (const docId of docIds) {
    const mine = ledger.changesOf(docId);
    const log = await changesFrom(base, docId, 1);
    const hashes = log.map((i) => i.hash);
    if (log.some((item, i) => item.seq !== i + 1)) problems.push(`${docId}: seqs not dense`);
    const expected = mine.map((c) => A.decodeChange(c.bytes).hash as string);
    if (JSON.stringify([...hashes].sort()) !== JSON.stringify([...expected].sort())) {
      problems.push(`${docId}: log has ${hashes.length} changes, ${expected.length} receipted`);
    }
    for (const item of log) {
      if (ledger.refused.has(item.hash)) problems.push(`${docId}: refused ${item.hash} stored`);
      const epoch = ledger.committed.get(item.hash)?.epoch;
      if (epoch !== item.epoch)
        problems.push(`${docId} seq ${item.seq}: epoch ${item.epoch}≠${epoch}`);
    }
    const [local] = A.applyChanges(
      A.init() as Doc,
      mine.map((c) => c.bytes),
    );
    const served = await call<{ heads: string[]; value: Record<string, unknown> }>(
      `${base}/docs/${encodeURIComponent(docId)}`,
      'GET',
    );
    if (served.status !== 200) problems.push(`${docId}: read ${served.status} ${served.text}`);
    const localValue = JSON.parse(JSON.stringify(A.toJS(local))) as Record<string, unknown>;
    if (JSON.stringify(served.body.value) !== JSON.stringify(localValue)) {
      problems.push(`${docId}: served doc ≠ receipted changes applied locally`);
    }
    if (JSON.stringify(served.body.heads) !== JSON.stringify([...A.getHeads(local)].sort())) {
      problems.push(`${docId}: served heads ≠ local heads`);
    }
    values.set(docId, served.body.value);
  }
  problems.push(...(await checkEpochs(base, ledger)));
  return { problems, values };
}

/** Dense epochs 1..N, N = number of receipts, each record carrying its receipt's txHash, linked. */
async function checkEpochs(base: string, ledger: DocLedger): Promise<string[]> {
  const problems: string[] = [];
  const records = await txRecords(base);
  const epochs = ledger.receipts.map((r) => r.epoch).sort((a, b) => a - b);
  if (JSON.stringify(epochs) !== JSON.stringify(epochs.map((_, i) => i + 1))) {
    problems.push(`receipt epochs are not 1..${epochs.length} (each once)`);
  }
  if (records.length !== ledger.receipts.length) {
    problems.push(`${records.length} tx records for ${ledger.receipts.length} receipts`);
  }
  for (const r of ledger.receipts) {
    if (records[r.epoch - 1]?.txHash !== r.txHash)
      problems.push(`epoch ${r.epoch}: txHash differs`);
  }
  records.forEach((rec, i) => {
    if (rec.epoch !== i + 1) problems.push(`record ${i + 1} has epoch ${rec.epoch}`);
    if (i > 0 && rec.prevTxHash !== records[i - 1]?.txHash)
      problems.push(`epoch ${rec.epoch}: link`);
  });
  return problems;
}

/**
 * `cairn verify --space` (SPEC §8) on the stopped server's data: the whole
 * stored history re-derived (records, signatures, change bytes, heads).
 * Returns its exit code and JSON report.
 */
export function verifySpace(
  space: string,
  where: { dataDir: string; databaseUrl?: string },
): {
  code: number | null;
  report: { ok?: boolean; checked?: Record<string, number> };
  out: string;
} {
  const target = where.databaseUrl ? ['--database', where.databaseUrl] : ['--data', where.dataDir];
  const run = runCli(['verify', '--space', space, ...target, '--json'], {}, 120_000);
  let report: { ok?: boolean; checked?: Record<string, number> } = {};
  try {
    report = JSON.parse(run.stdout) as typeof report;
  } catch {
    // Reported through `out` below.
  }
  return { code: run.code, report, out: `${run.stdout}\n${run.stderr}` };
}

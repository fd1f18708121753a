/**
 * Issue "Operations": `cairn verify` speed — the automerge-paper trace's
 * first 20,000 edits committed as one change per transaction (in batches,
 * SQLite), then the whole space verified (tx chain, every change's hash,
 * snapshots) as `cairn verify` does; changes/s beside the rate at which the
 * same changes were committed in the same run.
 */
import * as A from '@automerge/automerge';
import { createCairn } from '../src/app/create-cairn.js';
import { verifyStoredSpace } from '../src/app/verify.js';
import { parseTxRequest } from '../src/protocol/tx-request.js';
import { loadTrace, traceFile, TRACE_MISSING } from '../test/helpers/trace-data.js';
import { printGrid } from './lib/report.js';
import { nowMs, withTempDir } from './lib/timing.js';

const SPACE = 'did:key:z6MkVerifyBench';
const EDITS = 20_000;
/** Transactions submitted at once (group commit takes them together). */
const WINDOW = 256;

interface Trace {
  startContent: string;
  txns: { patches: [number, number, string][] }[];
}

function traceChanges(trace: Trace): Uint8Array[] {
  let doc = A.init<{ text: string }>({ actor: 'ab'.repeat(16) });
  const out: Uint8Array[] = [];
  trace.txns.slice(0, EDITS).forEach((t, i) => {
    doc = A.change(doc, (d) => {
      if (i === 0) d.text = trace.startContent;
      for (const [pos, del, ins] of t.patches) A.splice(d, ['text'], pos, del, ins);
    });
    out.push(A.getLastLocalChange(doc) as Uint8Array);
  });
  return out;
}

export async function benchVerify(): Promise<void> {
  const file = traceFile('automerge-paper');
  if (!file) {
    console.log(`\nVerify — ${TRACE_MISSING}`);
    return;
  }
  const changes = traceChanges(loadTrace<Trace>(file));
  await withTempDir('cairn-bench-verify-', async (dataDir) => {
    const cairn = await createCairn({ dataDir, sync: 'full', auth: 'off' });
    try {
      const t0 = nowMs();
      for (let at = 0; at < changes.length; at += WINDOW) {
        const window = changes.slice(at, at + WINDOW).map((c) => {
          const body = {
            writes: [{ docId: 'paper', merge: true, changes: [Buffer.from(c).toString('base64')] }],
          };
          return cairn.pipeline.commit(SPACE, parseTxRequest(body, cairn.limits));
        });
        for (const outcome of await Promise.all(window))
          if (!outcome.ok) throw new Error('commit refused');
      }
      const commitMs = nowMs() - t0;
      await cairn.snapshots.idle();
      const v0 = nowMs();
      const report = await verifyStoredSpace(cairn, SPACE);
      const verifyMs = nowMs() - v0;
      if (!report.ok)
        throw new Error(`verify found problems: ${JSON.stringify(report.problems[0])}`);
      const rate = (n: number, ms: number) =>
        `${Math.round((n * 1000) / ms).toLocaleString('en-US')} changes/s`;
      printGrid(
        `cairn verify — the automerge-paper trace's first ${EDITS} edits, one change per transaction, SQLite FULL`,
        ['', 'time', 'rate', 'checked'],
        [
          [
            'verify (chain, change hashes, snapshots)',
            `${(verifyMs / 1000).toFixed(2)} s`,
            rate(report.checked.changes, verifyMs),
            `${report.checked.epochs} epochs, ${report.checked.changes} changes, ${report.checked.snapshots} snapshots`,
          ],
          [
            'committing the same changes (baseline)',
            `${(commitMs / 1000).toFixed(2)} s`,
            rate(changes.length, commitMs),
            '',
          ],
        ],
      );
    } finally {
      await cairn.close();
    }
  });
}

import * as A from '@automerge/automerge';
import type { TxReceipt } from '../../../src/protocol/receipt.js';
import type { HttpClient } from '../../lib/http.js';
import { withTimeout, type LiveClients } from '../../lib/live-clients.js';
import type { Progress } from '../../lib/progress.js';
import { splicePatches, TextEditor, traceFor, type EditCorpus } from '../../lib/trace-edits.js';

/** One commit of the history, as its receipt told it. */
export interface Commit {
  epoch: number;
  committedAt: number;
  /** The branch log length after it. */
  seq: number;
  heads: string[];
  rootRef: string;
}

/** One doc of the history: its commits in order and the history cursors collected. */
export interface HistoryDoc {
  docId: string;
  commits: Commit[];
  /** `nextCursor`s of the history feed (pages of `HISTORY_PAGE`), to read pages deep in it. */
  historyCursors: string[];
}

export interface HistoryPlan {
  space: string;
  docs: number;
  /** Commits (= epochs) in all, round-robin over the docs. */
  epochs: number;
  changesPerEpoch: number;
  maxSeconds: number;
}

export const HISTORY_PAGE = 100;
/** Transactions in flight on the pipelined connection (the server allows 1,024). */
const WINDOW = 256;
const TX_TIMEOUT_MS = 60_000;

/**
 * Untimed, bounded by `maxSeconds` (then what was committed is the
 * history): each doc replays a trace, `changesPerEpoch` trace txns (one
 * change each) per commit, the commits round-robin over the docs so every
 * epoch of the space is a version of one doc. The fast path: one live
 * client pipelines the transactions (`merge` writes, committed in the order
 * sent, group-committed by the server), `WINDOW` in flight.
 */
export async function buildHistory(
  plan: HistoryPlan,
  clients: LiveClients,
  http: HttpClient,
  corpus: EditCorpus,
  random: () => number,
  progress: Progress,
  signal: AbortSignal,
): Promise<{ docs: HistoryDoc[]; seconds: number; cutShort: boolean; changes: number }> {
  const started = performance.now();
  const deadline = started + plan.maxSeconds * 1000;
  const client = clients.open(plan.space);
  await clients.connected(30_000, signal);
  const docs: HistoryDoc[] = [];
  const replicas = Array.from({ length: plan.docs }, (_, i) => {
    docs.push({ docId: `doc-${i}`, commits: [], historyCursors: [] });
    const actor = (i + 1).toString(16).padStart(32, 'c');
    const doc = A.change(A.init<Record<string, unknown>>({ actor }), (d) => {
      d.text = '';
    });
    return { doc, editor: new TextEditor(traceFor(corpus, i), random), first: true };
  });
  let committed = 0;
  let changes = 0;
  const inFlight = new Set<Promise<void>>();
  const tick = setInterval(() => {
    progress.update(
      `pit-reads: history ${committed.toLocaleString('en-US')}/${plan.epochs.toLocaleString('en-US')} ` +
        `epochs, ${changes.toLocaleString('en-US')} changes, ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 200);
  try {
    for (let e = 0; e < plan.epochs; e++) {
      if (performance.now() > deadline || signal.aborted) break;
      const i = e % plan.docs;
      const r = replicas[i] as (typeof replicas)[number];
      const bytes: Uint8Array[] = [];
      if (r.first) bytes.push(A.getLastLocalChange(r.doc) as Uint8Array);
      r.first = false;
      for (let c = bytes.length; c < plan.changesPerEpoch; c++) {
        const patches = r.editor.nextEdit();
        r.doc = A.change(r.doc, (d) => splicePatches(d, 'text', patches));
        bytes.push(A.getLastLocalChange(r.doc) as Uint8Array);
      }
      const doc = docs[i] as HistoryDoc;
      const write = {
        docId: doc.docId,
        merge: true,
        changes: bytes.map((b) => Buffer.from(b).toString('base64')),
      };
      const p = withTimeout(client.tx([write]), TX_TIMEOUT_MS, 'history tx').then(
        (receipt: TxReceipt) => {
          const w = receipt.results[0];
          if (!w) throw new Error(`history tx: no write result: ${JSON.stringify(receipt)}`);
          doc.commits.push({
            epoch: receipt.epoch,
            committedAt: receipt.committedAt,
            seq: w.seq,
            heads: w.newHeads,
            rootRef: w.rootRef,
          });
          committed++;
          changes += w.applied;
          inFlight.delete(p);
        },
      );
      inFlight.add(p);
      if (inFlight.size >= WINDOW) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    // Receipts come back in the order sent; sorted anyway, as everything below relies on it.
    for (const d of docs) d.commits.sort((a, b) => a.epoch - b.epoch);
    for (const d of docs) d.historyCursors = await historyCursors(http, plan.space, d, deadline);
  } finally {
    clearInterval(tick);
    progress.done();
  }
  return {
    docs,
    seconds: (performance.now() - started) / 1000,
    cutShort: committed < plan.epochs,
    changes,
  };
}

/** Walks the doc's history feed once (bounded by the deadline) and keeps every `nextCursor`. */
async function historyCursors(
  http: HttpClient,
  space: string,
  doc: HistoryDoc,
  deadline: number,
): Promise<string[]> {
  const cursors: string[] = [];
  const base = `/v1/${space}/docs/${doc.docId}/history?limit=${HISTORY_PAGE}`;
  let cursor: string | undefined;
  const maxPages = Math.ceil(((doc.commits.at(-1)?.seq ?? 0) + 1) / HISTORY_PAGE) + 1;
  for (let page = 0; page < maxPages && performance.now() < deadline; page++) {
    const a = await http.request('GET', cursor ? `${base}&cursor=${cursor}` : base);
    if (a.status !== 200) throw new Error(`history walk: ${a.status} ${a.text.slice(0, 200)}`);
    const next = (a.body as { nextCursor?: string }).nextCursor;
    if (!next) break;
    cursors.push(next);
    cursor = encodeURIComponent(next);
  }
  return cursors;
}

import type { CairnClient } from '../../../src/client/index.js';
import type { Started } from '../../lib/open-loop.js';
import { clientFailure, waitUntil, withTimeout, type LiveClients } from '../../lib/live-clients.js';
import type { Progress } from '../../lib/progress.js';
import { OK } from '../../lib/recorder.js';
import {
  lastLocalHash,
  splicePatches,
  TextEditor,
  traceFor,
  type EditCorpus,
} from '../../lib/trace-edits.js';
import { DocDeliveries } from './deliveries.js';

/** The op row of a writer's edit: from its intended time to its transaction's receipt. */
export const COMMIT_OP = 'commit';
const COMMIT_TIMEOUT_MS = 15_000;
const DELIVERY_TIMEOUT_MS = 15_000;
const SETUP_WAIT_MS = 60_000;

/** One writer: its own live client, and the text field of the doc it edits. */
export interface Writer {
  doc: EditedDoc;
  index: number;
  client: CairnClient;
  field: string;
  editor: TextEditor;
}

/** One doc of one space: its writers and its subscribers (each a live client). */
export interface EditedDoc {
  space: string;
  docId: string;
  writers: Writer[];
  subscribers: CairnClient[];
  deliveries: DocDeliveries;
}

export interface Topology {
  spaces: number;
  docsPerSpace: number;
  writers: number;
  subscribersPerDoc: number;
}

/**
 * Opens every client: per doc, `writers` writers (each replaying a trace
 * into a text field of its own, `w0`, `w1`…, so its positions stay exact
 * while they all edit one doc) and `subscribersPerDoc` subscribers.
 */
export function openDocs(
  t: Topology,
  clients: LiveClients,
  corpus: EditCorpus,
  random: () => number,
): EditedDoc[] {
  const docs: EditedDoc[] = [];
  let writerNo = 0;
  for (let s = 0; s < t.spaces; s++) {
    const space = `did:key:z6MkLoadgenDocEdits${String(s).padStart(4, '0')}`;
    for (let d = 0; d < t.docsPerSpace; d++) {
      const doc: EditedDoc = {
        space,
        docId: `doc-${d}`,
        writers: [],
        subscribers: [],
        deliveries: new DocDeliveries(t.writers, t.subscribersPerDoc, DELIVERY_TIMEOUT_MS),
      };
      for (let w = 0; w < t.writers; w++) {
        doc.writers.push({
          doc,
          index: w,
          client: clients.open(space),
          field: `w${w}`,
          editor: new TextEditor(traceFor(corpus, writerNo++), random),
        });
      }
      for (let i = 0; i < t.subscribersPerDoc; i++) doc.subscribers.push(clients.open(space));
      docs.push(doc);
    }
  }
  return docs;
}

const hasFields = (c: CairnClient, doc: EditedDoc) => {
  const d = c.doc(doc.docId);
  return d !== undefined && doc.writers.every((w) => typeof d[w.field] === 'string');
};

/**
 * Untimed: writer 0 of each doc creates every writer's field in one
 * transaction, then every client subscribes and the setup waits (bounded)
 * until each holds the created doc — a writer must never create its field
 * itself (two text objects under one key would conflict).
 */
export async function createDocs(
  docs: readonly EditedDoc[],
  clients: LiveClients,
  progress: Progress,
  signal: AbortSignal,
): Promise<void> {
  progress.update(`doc-edits: connecting ${clients.size} live clients…`);
  await clients.connected(SETUP_WAIT_MS, signal);
  progress.update(`doc-edits: creating ${docs.length} docs…`);
  await Promise.all(
    docs.map(async (doc) => {
      const creator = (doc.writers[0] as Writer).client;
      creator.subscribe(doc.docId, () => undefined);
      const receipt = creator.change(doc.docId, (d) => {
        for (const w of doc.writers) d[w.field] = w.editor.text;
      });
      if (!receipt) throw new Error(`doc-edits: creating ${doc.docId} changed nothing`);
      await withTimeout(receipt, COMMIT_TIMEOUT_MS, `creating ${doc.space}/${doc.docId}`);
    }),
  );
  for (const doc of docs) {
    for (const w of doc.writers.slice(1)) w.client.subscribe(doc.docId, () => undefined);
    doc.subscribers.forEach((c, i) => {
      const watch = doc.deliveries.watches[i];
      c.subscribe(doc.docId, (d) => watch?.onDoc(d));
    });
  }
  progress.update(`doc-edits: waiting for ${clients.size} clients to hold their doc…`);
  await waitUntil(
    () =>
      docs.every(
        (doc) =>
          doc.writers.every((w) => hasFields(w.client, doc)) &&
          doc.subscribers.every((c) => hasFields(c, doc)),
      ),
    'every client to receive its created doc',
    SETUP_WAIT_MS,
    signal,
  );
  progress.done();
}

/**
 * One edit: the writer's next trace txn spliced into its field through
 * `client.change` (the library commits it as a pipelined `merge`
 * transaction); `commit` ends at the receipt, and each subscriber's
 * `delivery` when the change is in its doc.
 */
export function startEdit(w: Writer): Started {
  const patches = w.editor.nextEdit();
  const receipt = w.client.change(w.doc.docId, (d) => splicePatches(d, w.field, patches));
  const local = w.client.doc(w.doc.docId);
  const hash = receipt && local ? lastLocalHash(local) : undefined;
  if (!receipt || !hash) {
    return {
      op: COMMIT_OP,
      done: Promise.resolve({ kind: 'error', code: 'NoChange', detail: JSON.stringify(patches) }),
    };
  }
  const what = `edit of ${w.doc.space}/${w.doc.docId}/${w.field}`;
  return {
    op: COMMIT_OP,
    done: withTimeout(receipt, COMMIT_TIMEOUT_MS, what).then(
      (r) =>
        r.results.some((x) => x.docId === w.doc.docId)
          ? OK
          : { kind: 'error', code: 'BadReceipt', detail: `${what}: ${JSON.stringify(r)}` },
      (err: unknown) => clientFailure(err, what),
    ),
    derived: w.doc.deliveries.track(w.index, hash),
  };
}

/** Subscribers whose doc differs from a writer's text, after the run (0: all converged). */
export function divergentSubscribers(docs: readonly EditedDoc[]): {
  checked: number;
  divergent: string[];
} {
  const divergent: string[] = [];
  let checked = 0;
  for (const doc of docs) {
    doc.subscribers.forEach((c, i) => {
      checked++;
      const d = c.doc(doc.docId);
      const bad = doc.writers.filter((w) => d?.[w.field] !== w.editor.text);
      if (bad.length) {
        divergent.push(`${doc.space}/${doc.docId} subscriber ${i}: ${bad.map((w) => w.field)}`);
      }
    });
  }
  return { checked, divergent };
}

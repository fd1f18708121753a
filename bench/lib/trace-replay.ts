import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** One txn of a sequential editing trace: patches `[pos, deleteCount, insertText]`. */
export interface TraceTxn {
  time: string;
  patches: [number, number, string][];
}

/** A sequential trace (ATTRIBUTION.md): applying every patch in order yields `endContent`. */
export interface SequentialTrace {
  startContent: string;
  endContent: string;
  txns: TraceTxn[];
}

/** What replaying a trace through one Automerge replica produced. */
export interface Replay {
  /** Change k (0-based) is the one made for trace txn k: the doc's seq k + 1. */
  changes: Uint8Array[];
  /** `Automerge.save()` of the doc right after seq s, for each requested s that was reached. */
  savedAt: Map<number, Uint8Array>;
  /** `Automerge.save()` of the last state reached. */
  finalSave: Uint8Array;
  /** Wall time of the replay inside the worker (generation only). */
  ms: number;
  /** Every txn replayed (false: the time cap stopped it). */
  complete: boolean;
  /** The final text equals the trace's `endContent` (only checked when complete). */
  textMatches: boolean;
}

/** The trace's text holds characters outside the BMP: code-point positions differ from UTF-16 ones. */
export function hasNonBmp(trace: SequentialTrace): boolean {
  const astral = /[\uD800-\uDFFF]/;
  if (astral.test(trace.startContent) || astral.test(trace.endContent)) return true;
  return trace.txns.some((t) => t.patches.some((p) => astral.test(p[2])));
}

/**
 * Runs in a worker so that the 260k `Automerge.change` calls use a WebAssembly
 * instance of their own: in one instance, the first large `load` after such a
 * replay took 15-19 s instead of ~0.55 s (allocator state), which would
 * distort every read measured afterwards on the main thread.
 *
 * One change per txn, each `Automerge.splice` on a text object at `text`
 * (the first change also creates it). Positions are used as UTF-16 indexes:
 * the caller checks there are no non-BMP characters. Linear: each change costs
 * the same whatever the history (~55 µs here).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const A = require(workerData.automergePath);
const { txns, saveAt, actor, maxMs, startContent, endContent } = workerData;
const want = new Set(saveAt);
const t0 = Date.now();
let doc = A.init({ actor });
const changes = [];
const saved = [];
let total = 0;
let complete = true;
for (let i = 0; i < txns.length; i++) {
  if ((i & 1023) === 0 && Date.now() - t0 > maxMs) { complete = false; break; }
  const txn = txns[i];
  const time = Math.floor(Date.parse(txn.time) / 1000);
  doc = A.change(doc, { time: Number.isFinite(time) ? time : 0 }, (d) => {
    if (i === 0) d.text = startContent;
    for (const [pos, del, ins] of txn.patches) A.splice(d, ['text'], pos, del, ins);
  });
  const change = A.getLastLocalChange(doc);
  if (!change) throw new Error('txn ' + i + ' made no change');
  changes.push(change);
  total += change.byteLength;
  if (want.has(i + 1)) saved.push([i + 1, A.save(doc)]);
}
const ms = Date.now() - t0;
const bytes = new Uint8Array(total);
const offsets = new Uint32Array(changes.length + 1);
let at = 0;
for (let i = 0; i < changes.length; i++) {
  bytes.set(changes[i], at);
  at += changes[i].byteLength;
  offsets[i + 1] = at;
}
const finalSave = A.save(doc);
const textMatches = complete && A.toJS(doc).text === endContent;
parentPort.postMessage(
  { bytes, offsets, saved, finalSave, ms, complete, textMatches },
  [bytes.buffer, offsets.buffer],
);
`;

interface WorkerResult {
  bytes: Uint8Array;
  offsets: Uint32Array;
  saved: [number, Uint8Array][];
  finalSave: Uint8Array;
  ms: number;
  complete: boolean;
  textMatches: boolean;
}

/**
 * Replays a sequential trace through one Automerge replica (actor `actor`,
 * 32 hex chars) on a worker thread, stopping after `maxSeconds`. `saveAt`
 * lists the seqs (1-based) after which to keep `Automerge.save()` of the doc.
 */
export async function replayTrace(
  trace: SequentialTrace,
  options: { actor: string; saveAt: readonly number[]; maxSeconds: number },
): Promise<Replay> {
  const automergePath = createRequire(import.meta.url).resolve('@automerge/automerge');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      automergePath,
      txns: trace.txns,
      saveAt: [...options.saveAt],
      actor: options.actor,
      maxMs: options.maxSeconds * 1000,
      startContent: trace.startContent,
      endContent: trace.endContent,
    },
  });
  try {
    const result = await new Promise<WorkerResult>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`trace replay worker exited (${code})`)));
    });
    const { bytes, offsets } = result;
    const changes: Uint8Array[] = [];
    for (let i = 0; i + 1 < offsets.length; i++) {
      changes.push(bytes.subarray(offsets[i] as number, offsets[i + 1] as number));
    }
    return {
      changes,
      savedAt: new Map(result.saved),
      finalSave: result.finalSave,
      ms: result.ms,
      complete: result.complete,
      textMatches: result.textMatches,
    };
  } finally {
    await worker.terminate();
  }
}

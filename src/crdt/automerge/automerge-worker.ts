import * as Automerge from '@automerge/automerge';
import { CairnError } from '../../core/errors.js';
import { jsonText } from '../../core/json.js';
import {
  BASE_CORRUPT,
  DOC_BROKEN,
  type BisectJob,
  type BisectResult,
  type BuildJob,
  type BuildResult,
  type ConflictsJob,
  type KindJob,
  type MergeConflictResult,
  type SavedBase,
} from '../kind-jobs.js';
import { docHeads, estimateDocBytes, type AutomergeDoc } from './automerge-doc.js';
import { newConflicts } from './conflicts.js';
import { WorkerDocCache } from './worker-doc-cache.js';
import { docToJson } from './to-json.js';

/*
 * The Automerge kind's worker (run by crdt/worker-pool.ts): every Automerge
 * call on stored or incoming data runs here, never on the event loop. The
 * worker asks to be retired (a fresh one takes over) instead of running on a
 * heap that only grows: after PANIC_BUDGET panics (an op that does not apply
 * makes Automerge panic, and a panic leaks what it had allocated), and when
 * its WebAssembly heap — which never shrinks — has grown past what its doc
 * cache may hold plus HEAP_HEADROOM_BYTES (one heavy build's memory is given
 * back once it has answered).
 */

const PANIC_BUDGET = 16;
const HEAP_HEADROOM_BYTES = 192 * 1024 * 1024;
let panics = 0;
/** The largest doc-cache budget a job has named (the heap this worker may keep). */
let cacheBudgetBytes = 0;
const cache = new WorkerDocCache();

type Answer = { result: unknown; transfer?: ArrayBuffer[]; retire?: boolean };

export async function handle(job: KindJob): Promise<Answer> {
  if (job.op === 'build') cacheBudgetBytes = Math.max(cacheBudgetBytes, job.cacheBytes);
  try {
    return { ...run(job), ...(shouldRetire() ? { retire: true } : {}) };
  } catch (err) {
    noteFailure(err);
    if (shouldRetire()) Object.assign(err as object, { retire: true });
    throw err;
  }
}

function shouldRetire(): boolean {
  if (panics >= PANIC_BUDGET) return true;
  // Estimated cache bytes understate the heap about twofold; WebAssembly
  // memory counts as the isolate's external memory.
  return process.memoryUsage().external > 2 * cacheBudgetBytes + HEAP_HEADROOM_BYTES;
}

function run(job: KindJob): Answer {
  switch (job.op) {
    case 'build': {
      const result = build(job);
      return { result, transfer: result.saved ? [result.saved.buffer as ArrayBuffer] : [] };
    }
    case 'bisect':
      return { result: bisect(job) };
    case 'forget':
      for (const key of job.keys) cache.drop(key);
      return { result: null };
    case 'changesOfSaved':
      return { result: changesOfSaved(job.saved) };
    case 'conflicts':
      return { result: conflicts(job) };
  }
}

/** Counts Automerge's panics (ops that do not apply end in one). */
function noteFailure(err: unknown): void {
  const name = (err as { name?: string }).name;
  const ctor = (err as { constructor?: { name?: string } }).constructor?.name;
  if (name === 'PanicError' || ctor === 'RuntimeError') panics++;
}

function failure(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const concat = (parts: readonly Uint8Array[]) =>
  parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);

function loadBase(base: SavedBase): AutomergeDoc {
  let doc: AutomergeDoc;
  try {
    doc = Automerge.load(base.saved);
  } catch (err) {
    noteFailure(err);
    throw failure(BASE_CORRUPT, `the base does not load: ${(err as Error).message}`);
  }
  if (docHeads(doc).join() !== [...base.heads].sort().join()) {
    throw failure(BASE_CORRUPT, 'the base does not load to its heads');
  }
  return doc;
}

/** Base + tail as reads build it: one load from nothing, else applied onto the base. */
function assemble(base: BuildJob['base'], tail: readonly Uint8Array[]): AutomergeDoc {
  let doc: AutomergeDoc;
  if (!base) return tail.length > 0 ? Automerge.load(concat(tail)) : Automerge.init();
  if ('cached' in base) {
    const hit = cache.get(base.cached);
    if (!hit) throw failure('NOT_CACHED', `no cached doc ${base.cached}`);
    if (base.consume) cache.drop(base.cached);
    doc = base.consume ? hit : Automerge.clone(hit);
  } else doc = loadBase(base);
  return tail.length > 0 ? Automerge.loadIncremental(doc, concat(tail)) : doc;
}

function build(job: BuildJob): BuildResult {
  let doc: AutomergeDoc;
  try {
    doc = assemble(job.base, job.tail);
  } catch (err) {
    if ((err as { code?: string }).code) throw err;
    noteFailure(err);
    throw failure(DOC_BROKEN, `the changes do not load: ${(err as Error).message}`);
  }
  const heads = docHeads(doc);
  const result: BuildResult = { heads, evicted: [], docBytes: estimateDocBytes(doc) };
  if (job.want.json) {
    try {
      result.jsonText = jsonText(docToJson(doc));
    } catch (err) {
      noteFailure(err);
      throw failure(DOC_BROKEN, `the doc does not convert to JSON: ${(err as Error).message}`);
    }
  }
  if (job.want.saved || job.want.verify) {
    const saved = Automerge.save(doc);
    if (job.want.verify) verifySaved(saved, heads);
    if (job.want.saved) result.saved = saved;
  }
  if (job.cacheAs !== undefined) {
    result.evicted = cache.keep(job.cacheAs, doc, result.docBytes, job.cacheBytes);
  }
  return result;
}

/** Saved bytes must load again, to the same heads (what a served byte read must do). */
function verifySaved(saved: Uint8Array, heads: string[]): void {
  let reloaded: AutomergeDoc;
  try {
    reloaded = Automerge.load(saved);
  } catch (err) {
    noteFailure(err);
    throw failure(DOC_BROKEN, `the saved doc does not load again: ${(err as Error).message}`);
  }
  if (docHeads(reloaded).join() !== heads.join()) {
    throw failure(DOC_BROKEN, 'the saved doc reloads to other heads');
  }
}

/**
 * Why these changes break, or undefined if they do not: loaded from nothing
 * in one batch (the build a read falls back to when any other fails),
 * converted to JSON, saved and reloaded.
 */
function brokenBy(base: SavedBase | undefined, changes: readonly Uint8Array[]): string | undefined {
  try {
    let doc: AutomergeDoc;
    if (base) doc = Automerge.loadIncremental(Automerge.load(base.saved), concat(changes));
    else doc = changes.length > 0 ? Automerge.load(concat(changes)) : Automerge.init();
    docToJson(doc);
    verifySaved(Automerge.save(doc), docHeads(doc));
    return undefined;
  } catch (err) {
    noteFailure(err);
    return (err as Error).message;
  }
}

function bisect(job: BisectJob): BisectResult {
  if (job.base && brokenBy(job.base, []) !== undefined) {
    // A base that does not build on its own is no base.
    throw failure(BASE_CORRUPT, 'the base does not build on its own');
  }
  const whole = brokenBy(job.base, job.tail);
  if (whole === undefined) return { firstBad: null };
  // Invariant: the prefix of `good` changes builds, the prefix of `bad` does not.
  let good = 0;
  let bad = job.tail.length;
  let reason = whole;
  while (bad - good > 1) {
    const mid = (good + bad) >>> 1;
    const why = brokenBy(job.base, job.tail.slice(0, mid));
    if (why === undefined) good = mid;
    else {
      bad = mid;
      reason = why;
    }
  }
  return { firstBad: bad - 1, reason };
}

function changesOfSaved(saved: Uint8Array): Uint8Array[] {
  try {
    return Automerge.getAllChanges(Automerge.load(saved));
  } catch (err) {
    noteFailure(err);
    throw new CairnError('InvalidChange', `not an Automerge document: ${(err as Error).message}`);
  }
}

function conflicts(job: ConflictsJob): MergeConflictResult[] {
  const before = assemble(job.base, job.before);
  const after = Automerge.loadIncremental(Automerge.clone(before), concat(job.added));
  return newConflicts(before, after);
}

import * as Automerge from '@automerge/automerge';
import {
  BASE_CORRUPT,
  DOC_BROKEN,
  type BisectJob,
  type BisectResult,
  type BuildJob,
  type BuildResult,
  type KindJob,
  type SavedBase,
} from '../kind-jobs.js';
import { docHeads, estimateDocBytes, type AutomergeDoc } from './automerge-doc.js';
import { docToJson } from './to-json.js';

/*
 * The Automerge kind's worker (run by crdt/worker-pool.ts): builds documents
 * off the event loop, keeps the ones it is asked to (an LRU bounded by
 * estimated bytes), and finds the change that breaks a document.
 */

const cache = new Map<string, { doc: AutomergeDoc; bytes: number }>();
let cacheTotal = 0;

export async function handle(
  job: KindJob,
): Promise<{ result: BuildResult | BisectResult | null; transfer?: ArrayBuffer[] }> {
  switch (job.op) {
    case 'build': {
      const result = build(job);
      const transfer = result.saved ? [result.saved.buffer as ArrayBuffer] : [];
      return { result, transfer };
    }
    case 'bisect':
      return { result: bisect(job) };
    case 'forget':
      for (const key of job.keys) drop(key);
      return { result: null };
  }
}

function failure(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const concat = (parts: readonly Uint8Array[]) =>
  parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);

/** The base as a doc of its own (a clone when it comes from the cache). */
function startFrom(base: BuildJob['base']): AutomergeDoc {
  if (!base) return Automerge.init();
  if ('cached' in base) {
    const hit = cache.get(base.cached);
    if (!hit) throw failure('NOT_CACHED', `no cached doc ${base.cached}`);
    touch(base.cached, hit);
    return Automerge.clone(hit.doc);
  }
  return loadBase(base);
}

function loadBase(base: SavedBase): AutomergeDoc {
  let doc: AutomergeDoc;
  try {
    doc = Automerge.load(base.saved);
  } catch (err) {
    throw failure(BASE_CORRUPT, `the base does not load: ${(err as Error).message}`);
  }
  if (docHeads(doc).join() !== [...base.heads].sort().join()) {
    throw failure(BASE_CORRUPT, 'the base does not load to its heads');
  }
  return doc;
}

function build(job: BuildJob): BuildResult {
  let doc = startFrom(job.base);
  try {
    if (job.tail.length > 0) doc = Automerge.loadIncremental(doc, concat(job.tail));
  } catch (err) {
    throw failure(DOC_BROKEN, `the changes do not load: ${(err as Error).message}`);
  }
  const heads = docHeads(doc);
  const result: BuildResult = { heads, evicted: [], docBytes: estimateDocBytes(doc) };
  if (job.want.json) {
    try {
      result.json = docToJson(doc);
    } catch (err) {
      throw failure(DOC_BROKEN, `the doc does not convert to JSON: ${(err as Error).message}`);
    }
  }
  if (job.want.saved || job.want.verify) {
    const saved = Automerge.save(doc);
    if (job.want.verify) verifySaved(saved, heads);
    if (job.want.saved) result.saved = saved;
  }
  if (job.cacheAs !== undefined)
    result.evicted = keep(job.cacheAs, doc, result.docBytes, job.cacheBytes);
  return result;
}

/** Saved bytes must load again, to the same heads (what a served byte read must do). */
function verifySaved(saved: Uint8Array, heads: string[]): void {
  let reloaded: AutomergeDoc;
  try {
    reloaded = Automerge.load(saved);
  } catch (err) {
    throw failure(DOC_BROKEN, `the saved doc does not load again: ${(err as Error).message}`);
  }
  if (docHeads(reloaded).join() !== heads.join()) {
    throw failure(DOC_BROKEN, 'the saved doc reloads to other heads');
  }
}

/** Why base + these changes break, or undefined if they do not. */
function brokenBy(base: SavedBase | undefined, changes: readonly Uint8Array[]): string | undefined {
  try {
    let doc = base ? Automerge.load(base.saved) : Automerge.init();
    if (changes.length > 0) doc = Automerge.loadIncremental(doc, concat(changes));
    docToJson(doc);
    verifySaved(Automerge.save(doc), docHeads(doc));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function bisect(job: BisectJob): BisectResult {
  if (job.base && brokenBy(job.base, []) !== undefined) {
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

function touch(key: string, entry: { doc: AutomergeDoc; bytes: number }): void {
  cache.delete(key);
  cache.set(key, entry);
}

function drop(key: string): void {
  const entry = cache.get(key);
  if (!entry) return;
  cache.delete(key);
  cacheTotal -= entry.bytes;
}

/** Keeps a doc (if it fits the budget at all), evicting the least recently used; returns those. */
function keep(key: string, doc: AutomergeDoc, bytes: number, budget: number): string[] {
  drop(key);
  if (bytes > budget) return [key];
  cache.set(key, { doc, bytes });
  cacheTotal += bytes;
  const evicted: string[] = [];
  for (const [k, e] of cache) {
    if (cacheTotal <= budget) break;
    cache.delete(k);
    cacheTotal -= e.bytes;
    evicted.push(k);
  }
  return evicted;
}

import type { JsonValue } from '../core/json.js';

/*
 * The jobs a document kind's worker runs (src/crdt/<kind>/<kind>-worker.ts):
 * everything that costs O(document) happens there, never on the event loop.
 */

/** A saved document to start from, with the heads it must load to. */
export interface SavedBase {
  saved: Uint8Array;
  heads: string[];
}

/**
 * Builds a document from a base (a saved one, a doc the worker keeps under
 * `cached`, or nothing) plus a tail of changes in causal order, in one batch.
 * `want` says what to send back; `verify` saves, reloads and compares heads
 * (what a snapshot must pass). `cacheAs` keeps the result for later builds.
 */
export interface BuildJob {
  op: 'build';
  /**
   * `consume`: the cached doc is taken out of the cache and built on in
   * place (no clone: a cloned doc rebuilds its indexes on the next apply,
   * about 3× the apply itself) — for a caller that caches the result again.
   */
  base?: SavedBase | { cached: string; consume?: boolean };
  tail: Uint8Array[];
  want: { json?: boolean; saved?: boolean; verify?: boolean };
  cacheAs?: string;
  /** Budget of the worker's cache of built docs, in estimated bytes. */
  cacheBytes: number;
}

export interface BuildResult {
  heads: string[];
  /** The doc's JSON as text (a string crosses threads as one copy, at any nesting depth). */
  jsonText?: string;
  saved?: Uint8Array;
  /** Keys the worker's cache dropped (LRU) while keeping this one. */
  evicted: string[];
  /** Estimated memory of the built doc (what it costs in the cache). */
  docBytes: number;
}

/**
 * Finds the first change of `tail` that breaks the document built on `base`
 * (it does not load, does not convert to JSON, or does not survive a save and
 * reload), by bisection: each step builds a prefix. `null` if none does.
 */
export interface BisectJob {
  op: 'bisect';
  base?: SavedBase;
  tail: Uint8Array[];
}

export interface BisectResult {
  firstBad: number | null;
  reason?: string;
}

/** Forgets cached docs (after their space's quarantine changed what they hold). */
export interface ForgetJob {
  op: 'forget';
  keys: string[];
}

/**
 * The changes of a saved document (a file to import), in causal order;
 * `InvalidChange` when the bytes are not a document of the kind.
 */
export interface ChangesOfSavedJob {
  op: 'changesOfSaved';
  saved: Uint8Array;
}

/**
 * The keys that changes `added` set concurrently with the doc built from
 * `base` + `before`, with their values (winner first): a server merge's report.
 */
export interface ConflictsJob {
  op: 'conflicts';
  base?: SavedBase;
  before: Uint8Array[];
  added: Uint8Array[];
}

export interface MergeConflictResult {
  path: (string | number)[];
  values: JsonValue[];
}

export type KindJob = BuildJob | BisectJob | ForgetJob | ChangesOfSavedJob | ConflictsJob;

/** Error codes a build answers with (beside typed CairnErrors). */
export const BASE_CORRUPT = 'BASE_CORRUPT';
export const DOC_BROKEN = 'DOC_BROKEN';

/**
 * The job that checks stored snapshot bytes: they load to `heads` (else the
 * worker fails it with BASE_CORRUPT); nothing is built or sent back.
 */
export function snapshotCheckJob(saved: Uint8Array, heads: string[]): BuildJob {
  return { op: 'build', base: { saved, heads }, tail: [], want: {}, cacheBytes: 0 };
}

import type { JsonValue } from '../core/json.js';
import type { DocKind } from '../crdt/doc-kind.js';

/** A materialized doc of any kind (the kind's implementation knows its type). */
export type AnyDoc = object;

/** `Automerge.save()` bytes of a version with the heads they load to. */
export interface SavedDoc {
  bytes: Uint8Array;
  heads: string[];
}

/** A version built on the read worker: its JSON and heads (the doc stays in the worker). */
export interface DocView {
  json: JsonValue;
  heads: string[];
  /** Estimated memory (the worker's estimate of the doc; JSON is of the same order). */
  bytes: number;
}

interface Entry {
  doc: AnyDoc;
  bytes: number;
}

/**
 * A byte-bounded LRU of materialized docs, so hot reads do not reload. Keys
 * are (space, branch that owns the seq, seq): the state of a history prefix
 * is the same for every branch that shares it. Cached docs are never
 * mutated: extending one starts from a clone.
 */
export class DocCache {
  private readonly entries = new Map<string, Entry>();
  /** Seqs cached per (space, owner branch), for "nearest below". */
  private readonly seqsByBranch = new Map<string, Set<number>>();
  private totalBytes = 0;
  /** JSON of docs already converted (warm reads skip the conversion); freed with the doc. */
  private readonly json = new WeakMap<AnyDoc, JsonValue>();
  /** Canonical saved bytes of versions (see DocReader.readDocBytes), a quarter of the budget. */
  private readonly saved = new Map<string, SavedDoc>();
  private savedBytes = 0;
  /** JSON of versions built on the read worker, a quarter of the budget. */
  private readonly views = new Map<string, DocView>();
  private viewBytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {}

  /** The document's JSON, converted once per materialized doc. Callers must not mutate it. */
  jsonOf(doc: AnyDoc, kind: DocKind): JsonValue {
    let value = this.json.get(doc);
    if (value === undefined) {
      value = kind.toJson(doc);
      this.json.set(doc, value);
    }
    return value;
  }

  getBytes(key: string): SavedDoc | undefined {
    const hit = this.saved.get(key);
    if (hit) {
      this.saved.delete(key);
      this.saved.set(key, hit);
    }
    return hit;
  }

  putBytes(key: string, value: SavedDoc): void {
    const budget = this.maxBytes / 4;
    if (value.bytes.byteLength > budget) return;
    const old = this.saved.get(key);
    if (old) this.savedBytes -= old.bytes.byteLength;
    this.saved.delete(key);
    this.saved.set(key, value);
    this.savedBytes += value.bytes.byteLength;
    for (const [k, v] of this.saved) {
      if (this.savedBytes <= budget) break;
      this.saved.delete(k);
      this.savedBytes -= v.bytes.byteLength;
    }
  }

  getView(key: string): DocView | undefined {
    const hit = this.views.get(key);
    if (hit) {
      this.views.delete(key);
      this.views.set(key, hit);
    }
    return hit;
  }

  putView(key: string, view: DocView): void {
    const budget = this.maxBytes / 4;
    if (view.bytes > budget) return;
    const old = this.views.get(key);
    if (old) this.viewBytes -= old.bytes;
    this.views.delete(key);
    this.views.set(key, view);
    this.viewBytes += view.bytes;
    for (const [k, v] of this.views) {
      if (this.viewBytes <= budget) break;
      this.views.delete(k);
      this.viewBytes -= v.bytes;
    }
  }

  /** Forgets everything of a space (its quarantine changed what its versions hold). */
  dropSpace(spaceId: string): void {
    const ofSpace = (key: string) => (JSON.parse(key) as [string])[0] === spaceId;
    for (const key of [...this.entries.keys()].filter(ofSpace)) this.remove(key);
    for (const [key, v] of [...this.saved].filter(([k]) => ofSpace(k))) {
      this.saved.delete(key);
      this.savedBytes -= v.bytes.byteLength;
    }
    for (const [key, v] of [...this.views].filter(([k]) => ofSpace(k))) {
      this.views.delete(key);
      this.viewBytes -= v.bytes;
    }
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get size(): number {
    return this.entries.size;
  }

  get(spaceId: string, branchId: number, seq: number): AnyDoc | undefined {
    const key = entryKey(spaceId, branchId, seq);
    const entry = this.entries.get(key);
    if (!entry) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.doc;
  }

  /** The cached doc of this branch with the highest seq ≤ `maxSeq`, without counting a hit. */
  nearest(
    spaceId: string,
    branchId: number,
    maxSeq: number,
  ): { seq: number; doc: AnyDoc; bytes: number } | undefined {
    let best: number | undefined;
    for (const seq of this.seqsByBranch.get(branchKey(spaceId, branchId)) ?? []) {
      if (seq <= maxSeq && (best === undefined || seq > best)) best = seq;
    }
    if (best === undefined) return undefined;
    const entry = this.entries.get(entryKey(spaceId, branchId, best));
    return entry ? { seq: best, doc: entry.doc, bytes: entry.bytes } : undefined;
  }

  put(spaceId: string, branchId: number, seq: number, doc: AnyDoc, kind: DocKind): void {
    const bytes = kind.estimateBytes(doc);
    if (bytes > this.maxBytes) return;
    const key = entryKey(spaceId, branchId, seq);
    this.remove(key);
    this.entries.set(key, { doc, bytes });
    this.totalBytes += bytes;
    const bk = branchKey(spaceId, branchId);
    let seqs = this.seqsByBranch.get(bk);
    if (!seqs) this.seqsByBranch.set(bk, (seqs = new Set()));
    seqs.add(seq);
    for (const oldest of this.entries.keys()) {
      if (this.totalBytes <= this.maxBytes) break;
      this.remove(oldest);
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
    const [spaceId, branchId, seq] = JSON.parse(key) as [string, number, number];
    const bk = branchKey(spaceId, branchId);
    const seqs = this.seqsByBranch.get(bk);
    seqs?.delete(seq);
    if (seqs?.size === 0) this.seqsByBranch.delete(bk);
  }
}

function entryKey(spaceId: string, branchId: number, seq: number): string {
  return JSON.stringify([spaceId, branchId, seq]);
}

function branchKey(spaceId: string, branchId: number): string {
  return JSON.stringify([spaceId, branchId]);
}

import type { JsonValue } from '../core/json.js';

/** Saved bytes of a version with the heads they load to. */
export interface SavedDoc {
  bytes: Uint8Array;
  heads: string[];
}

/** A version built on the read worker: its JSON and heads (the doc itself stays in the worker). */
export interface DocView {
  /** The JSON as text, parsed on first use (`json`). */
  jsonText: string;
  json?: JsonValue;
  heads: string[];
  /** Estimated memory (the worker's estimate of the doc; its JSON is of the same order). */
  bytes: number;
}

/** The parsed JSON of a view (parsed once; JSON.parse has no nesting limit). */
export function viewJson(view: DocView): JsonValue {
  return (view.json ??= JSON.parse(view.jsonText) as JsonValue);
}

/**
 * What the event loop keeps of built versions, so hot reads cost no build:
 * byte-bounded LRUs of their JSON (views) and of their canonical saved bytes.
 * Keys name a version (`[space, branch that owns the seq, seq, …]`); views
 * and bytes each get half the budget. The docs themselves live in the read
 * worker (its own cache, see read/worker-builds.ts).
 */
export class DocCache {
  private readonly views = new Lru<DocView>((v) => v.bytes);
  private readonly saved = new Lru<SavedDoc>((v) => v.bytes.byteLength);

  constructor(readonly maxBytes: number) {}

  getView(key: string): DocView | undefined {
    return this.views.get(key);
  }

  putView(key: string, view: DocView): void {
    this.views.put(key, view, this.maxBytes / 2);
  }

  getBytes(key: string): SavedDoc | undefined {
    return this.saved.get(key);
  }

  putBytes(key: string, value: SavedDoc): void {
    this.saved.put(key, value, this.maxBytes / 2);
  }

  /** Forgets everything of a space (its quarantine changed what its versions hold). */
  dropSpace(spaceId: string): void {
    const ofSpace = (key: string) => (JSON.parse(key) as [string])[0] === spaceId;
    this.views.dropWhere(ofSpace);
    this.saved.dropWhere(ofSpace);
  }
}

/** An LRU map bounded by the sum of its values' sizes. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  private total = 0;

  constructor(private readonly sizeOf: (v: V) => number) {}

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.map.delete(key);
      this.map.set(key, hit);
    }
    return hit;
  }

  put(key: string, value: V, budget: number): void {
    if (this.sizeOf(value) > budget) return;
    this.drop(key);
    this.map.set(key, value);
    this.total += this.sizeOf(value);
    for (const [k, v] of this.map) {
      if (this.total <= budget) break;
      this.map.delete(k);
      this.total -= this.sizeOf(v);
    }
  }

  dropWhere(match: (key: string) => boolean): void {
    for (const key of [...this.map.keys()]) if (match(key)) this.drop(key);
  }

  private drop(key: string): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.map.delete(key);
    this.total -= this.sizeOf(old);
  }
}

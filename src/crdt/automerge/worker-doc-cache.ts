import type { AutomergeDoc } from './automerge-doc.js';

/**
 * The read worker's cache of built docs: an LRU bounded by their estimated
 * bytes. Cached docs are never changed: a build from one starts from a clone,
 * or takes it out of the cache first (a snapshot build consuming its base).
 */
export class WorkerDocCache {
  private readonly entries = new Map<string, { doc: AutomergeDoc; bytes: number }>();
  private total = 0;

  get(key: string): AutomergeDoc | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.doc;
  }

  drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.total -= entry.bytes;
  }

  /** Keeps a doc (if it fits the budget at all), evicting the least recently used; returns those. */
  keep(key: string, doc: AutomergeDoc, bytes: number, budget: number): string[] {
    this.drop(key);
    if (bytes > budget) return [key];
    this.entries.set(key, { doc, bytes });
    this.total += bytes;
    const evicted: string[] = [];
    for (const [k, e] of this.entries) {
      if (this.total <= budget) break;
      this.entries.delete(k);
      this.total -= e.bytes;
      evicted.push(k);
    }
    return evicted;
  }
}

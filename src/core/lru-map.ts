import { assert } from './assert.js';

/**
 * A Map bounded to `capacity` entries that forgets the least recently used
 * one when full. For bookkeeping that only saves work (a forgotten entry is
 * looked up or rebuilt again), so memory stays bounded whatever the number
 * of spaces or keys seen.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, 'LRU capacity must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, now the most recently used; undefined if absent. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value as K);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** The keys, least recently used first (a snapshot: safe to change the map meanwhile). */
  keys(): K[] {
    return [...this.entries.keys()];
  }
}

import { assert } from '../../core/assert.js';

interface Entry<T> {
  value: T;
  leases: number;
}

/**
 * An LRU of open handles with leases: a handle in use is never closed, so the
 * pool may briefly exceed `capacity` when every handle is leased.
 */
export class LeasePool<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly opening = new Map<string, Promise<T>>();

  constructor(
    private readonly capacity: number,
    private readonly closeValue: (value: T) => void,
  ) {
    assert(capacity >= 1, 'pool capacity must be at least 1');
  }

  get size(): number {
    return this.entries.size;
  }

  /** Leases the handle for `key`, opening it with `open` if needed (once, even under concurrency). */
  async acquire(key: string, open: () => Promise<T>): Promise<{ value: T; release: () => void }> {
    let entry = this.entries.get(key);
    if (!entry) {
      let pending = this.opening.get(key);
      if (!pending) {
        pending = open();
        this.opening.set(key, pending);
      }
      try {
        const value = await pending;
        entry = this.entries.get(key);
        if (!entry) {
          entry = { value, leases: 0 };
          this.entries.set(key, entry);
        }
      } finally {
        this.opening.delete(key);
      }
    }
    // Re-insert to mark as most recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.leases++;
    this.evict();
    const held = entry;
    let released = false;
    return {
      value: held.value,
      release: () => {
        if (released) return;
        released = true;
        held.leases--;
        this.evict();
      },
    };
  }

  private evict(): void {
    if (this.entries.size <= this.capacity) return;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.capacity) return;
      if (entry.leases > 0) continue;
      this.entries.delete(key);
      this.closeValue(entry.value);
    }
  }

  /** Closes and forgets the handle of `key` if nobody holds it; returns whether it did. */
  discard(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return true;
    if (entry.leases > 0) return false;
    this.entries.delete(key);
    this.closeValue(entry.value);
    return true;
  }

  closeAll(): void {
    for (const entry of this.entries.values()) this.closeValue(entry.value);
    this.entries.clear();
  }
}

/**
 * What the read worker keeps in its cache of built docs, mirrored on the
 * main thread so that a build can start from the nearest one (the worker
 * reports what its LRU dropped with every answer). Keys are
 * `space|branch|seq` like the main doc cache's.
 */
export class WorkerDocIndex {
  private readonly seqs = new Map<string, Set<number>>();
  private readonly keys = new Set<string>();

  static key(spaceId: string, branchId: number, seq: number): string {
    return JSON.stringify([spaceId, branchId, seq]);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    const [spaceId, branchId, seq] = JSON.parse(key) as [string, number, number];
    this.keys.add(key);
    const bk = JSON.stringify([spaceId, branchId]);
    let set = this.seqs.get(bk);
    if (!set) this.seqs.set(bk, (set = new Set()));
    set.add(seq);
  }

  remove(key: string): void {
    if (!this.keys.delete(key)) return;
    const [spaceId, branchId, seq] = JSON.parse(key) as [string, number, number];
    const bk = JSON.stringify([spaceId, branchId]);
    const set = this.seqs.get(bk);
    set?.delete(seq);
    if (set?.size === 0) this.seqs.delete(bk);
  }

  /** The highest cached seq ≤ maxSeq of a branch. */
  nearest(spaceId: string, branchId: number, maxSeq: number): number | undefined {
    let best: number | undefined;
    for (const s of this.seqs.get(JSON.stringify([spaceId, branchId])) ?? []) {
      if (s <= maxSeq && (best === undefined || s > best)) best = s;
    }
    return best;
  }

  clear(): void {
    this.seqs.clear();
    this.keys.clear();
  }

  /** Every key of a space (to forget them all when its quarantine changes). */
  keysOf(spaceId: string): string[] {
    return [...this.keys].filter((k) => (JSON.parse(k) as [string])[0] === spaceId);
  }
}

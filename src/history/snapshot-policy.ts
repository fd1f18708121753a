/** When snapshots are made and how many are kept (SPEC §5); configurable per space. */
export interface SnapshotPolicy {
  /** Make one after this many changes since the branch's last snapshot. */
  everyChanges: number;
  /** …or after this many bytes of changes. */
  everyBytes: number;
  /** Automatic snapshots kept per branch (newest first); ones made on request are kept too. */
  keep: number;
  /**
   * Also keep the oldest automatic snapshot of every stretch of this many
   * seqs, so reads of old versions start near them (0: only the newest `keep`).
   */
  anchorEvery: number;
}

export const DEFAULT_SNAPSHOT_POLICY: Readonly<SnapshotPolicy> = Object.freeze({
  everyChanges: 500,
  everyBytes: 1024 * 1024,
  keep: 3,
  anchorEvery: 10_000,
});

/** Ids of automatic snapshots (any order) that the policy no longer keeps. */
export function snapshotsToDrop(
  automatic: readonly { id: number; seq: number }[],
  policy: SnapshotPolicy,
): number[] {
  const newestFirst = [...automatic].sort((a, b) => b.seq - a.seq || b.id - a.id);
  const kept = new Set(newestFirst.slice(0, policy.keep).map((s) => s.id));
  if (policy.anchorEvery > 0) {
    const anchors = new Map<number, { id: number; seq: number }>();
    for (const s of newestFirst) anchors.set(Math.floor(s.seq / policy.anchorEvery), s);
    for (const s of anchors.values()) kept.add(s.id);
  }
  return newestFirst.filter((s) => !kept.has(s.id)).map((s) => s.id);
}

/** Tracks, per branch, what was appended since its last snapshot. */
export class SnapshotDebt {
  private readonly byBranch = new Map<string, { changes: number; bytes: number }>();

  constructor(private readonly maxTracked = 100_000) {}

  has(key: string): boolean {
    return this.byBranch.has(key);
  }

  /** Starts tracking a branch at a known debt (read from storage). */
  set(key: string, changes: number, bytes: number): void {
    if (!this.byBranch.has(key) && this.byBranch.size >= this.maxTracked) {
      // Forgetting a branch only delays its next snapshot until it is tracked again.
      const oldest = this.byBranch.keys().next().value as string;
      this.byBranch.delete(oldest);
    }
    this.byBranch.set(key, { changes, bytes });
  }

  /** Stops tracking a branch: its next job reads the debt from storage again. */
  forget(key: string): void {
    this.byBranch.delete(key);
  }

  add(key: string, changes: number, bytes: number): { changes: number; bytes: number } {
    const d = this.byBranch.get(key) ?? { changes: 0, bytes: 0 };
    d.changes += changes;
    d.bytes += bytes;
    this.byBranch.set(key, d);
    return d;
  }

  isDue(key: string, policy: SnapshotPolicy): boolean {
    const d = this.byBranch.get(key);
    return !!d && (d.changes >= policy.everyChanges || d.bytes >= policy.everyBytes);
  }
}

import { LruMap } from '../core/lru-map.js';
import { findInHistory, readHistory, readHistoryBytes, type Lineage } from '../storage/lineage.js';
import type { SpaceReadOps } from '../storage/types.js';

/** Spaces whose quarantine lists are kept in memory (each usually empty). */
const SPACES_KEPT = 10_000;

const NONE: ReadonlySet<string> = new Set();

/**
 * The quarantined changes of each space, read once and kept until the
 * space's quarantine changes (`forget`). A change is quarantined when it was
 * accepted (its header was valid) but its ops do not apply; every read
 * leaves it out, and with it every change that depends on it.
 */
export class QuarantineView {
  private readonly bySpace = new LruMap<string, ReadonlyMap<string, string>>(SPACES_KEPT);

  async of(ops: SpaceReadOps, spaceId: string): Promise<ReadonlyMap<string, string>> {
    let q = this.bySpace.get(spaceId);
    if (!q) {
      q = await ops.quarantined();
      this.bySpace.set(spaceId, q);
    }
    return q;
  }

  forget(spaceId: string): void {
    this.bySpace.delete(spaceId);
  }

  /**
   * The hashes of this history's seqs 1..seq that reads leave out: the
   * quarantined ones and, transitively, every change depending on one.
   */
  async excludedAt(
    ops: SpaceReadOps,
    spaceId: string,
    lineage: Lineage,
    seq: number,
  ): Promise<ReadonlySet<string>> {
    const quarantined = await this.of(ops, spaceId);
    if (quarantined.size === 0) return NONE;
    const found = await findInHistory(ops, lineage, [...quarantined.keys()]);
    const first = Math.min(...[...found.values()].filter((s) => s <= seq));
    if (!Number.isFinite(first)) return NONE;
    const excluded = new Set<string>();
    const entries = await readHistory(ops, lineage, first, seq, Number.MAX_SAFE_INTEGER, false);
    for (const e of entries) {
      if (quarantined.has(e.hash) || e.deps.some((d) => excluded.has(d))) excluded.add(e.hash);
    }
    return excluded;
  }
}

/** The changes of seqs from..to of a history, in log order, without the excluded ones. */
export async function readTail(
  ops: SpaceReadOps,
  lineage: Lineage,
  fromSeq: number,
  toSeq: number,
  excluded: ReadonlySet<string>,
): Promise<{ bytes: Uint8Array[]; hashes?: string[] }> {
  if (fromSeq > toSeq) return { bytes: [] };
  if (excluded.size === 0) return { bytes: await readHistoryBytes(ops, lineage, fromSeq, toSeq) };
  const entries = await readHistory(ops, lineage, fromSeq, toSeq, Number.MAX_SAFE_INTEGER, true);
  const kept = entries.filter((e) => !excluded.has(e.hash));
  return { bytes: kept.map((e) => e.bytes as Uint8Array), hashes: kept.map((e) => e.hash) };
}

/** The change bytes and hashes of seqs from..to (for finding which one breaks a doc). */
export async function readTailWithHashes(
  ops: SpaceReadOps,
  lineage: Lineage,
  fromSeq: number,
  toSeq: number,
  excluded: ReadonlySet<string>,
): Promise<{ bytes: Uint8Array[]; hashes: string[] }> {
  if (fromSeq > toSeq) return { bytes: [], hashes: [] };
  const entries = await readHistory(ops, lineage, fromSeq, toSeq, Number.MAX_SAFE_INTEGER, true);
  const kept = entries.filter((e) => !excluded.has(e.hash));
  return { bytes: kept.map((e) => e.bytes as Uint8Array), hashes: kept.map((e) => e.hash) };
}

import { findInHistory, readHistory, readHistoryBytes, type Lineage } from './lineage.js';
import type { SpaceReadOps } from './types.js';

const NONE: ReadonlySet<string> = new Set();

/**
 * The hashes of a history's seqs 1..seq that are left out of every build:
 * the quarantined changes and, transitively, every change depending on one.
 */
export async function excludedAt(
  ops: SpaceReadOps,
  lineage: Lineage,
  seq: number,
  quarantined: ReadonlyMap<string, string>,
): Promise<ReadonlySet<string>> {
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
  return readTailWithHashes(ops, lineage, fromSeq, toSeq, excluded);
}

/** The change bytes and hashes of seqs from..to without the excluded ones (to find which one breaks). */
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

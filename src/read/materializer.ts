import type { Logger } from '../core/logger.js';
import type { DocKind } from '../crdt/doc-kind.js';
import { rootRef, sameHeadSet } from '../crdt/heads.js';
import {
  readHistoryBytes,
  snapshotsBelow,
  type Lineage,
  type LineageSegment,
} from '../storage/lineage.js';
import type { SnapshotMeta, SpaceReadOps } from '../storage/types.js';
import type { AnyDoc, DocCache } from './doc-cache.js';

/** How point-in-time reads were served, for /metrics and the benches. */
export interface ReadStats {
  fromCache: number;
  fromSnapshot: number;
  fromLog: number;
  corruptSnapshots: number;
}

export interface MaterializerOptions {
  cache: DocCache;
  logger?: Logger;
  /** Told about a snapshot that does not load to its recorded heads (it was skipped). */
  onCorruptSnapshot?: (spaceId: string, snapshot: SnapshotMeta, reason: string) => void;
}

/**
 * Builds a branch's doc at a seq, lazily and in one batch: from the cache,
 * else from the nearest cached doc or verified snapshot below it plus one
 * batched tail of the log, else from the whole log. Every result is cached.
 */
export class Materializer {
  readonly stats: ReadStats = { fromCache: 0, fromSnapshot: 0, fromLog: 0, corruptSnapshots: 0 };

  constructor(private readonly options: MaterializerOptions) {}

  get cache(): DocCache {
    return this.options.cache;
  }

  async materializeAt(
    ops: SpaceReadOps,
    spaceId: string,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
  ): Promise<AnyDoc> {
    const { cache } = this.options;
    const owner = ownerOf(lineage, seq);
    const hit = cache.get(spaceId, owner, seq);
    if (hit) {
      this.stats.fromCache++;
      return hit;
    }
    let base: { seq: number; doc: AnyDoc } | undefined;
    for (const seg of lineage) {
      const near = cache.nearest(spaceId, seg.branchId, Math.min(seg.toSeq, seq));
      if (near && near.seq > (base?.seq ?? 0)) base = near;
    }
    const snap = await this.nearestSnapshot(ops, spaceId, kind, lineage, seq, base?.seq ?? 0);
    if (snap) base = snap;
    const tail = await readHistoryBytes(ops, lineage, (base?.seq ?? 0) + 1, seq);
    const doc = (base ? kind.extend(base.doc, tail) : kind.materialize(tail)) as AnyDoc;
    if (snap) this.stats.fromSnapshot++;
    else this.stats.fromLog++;
    cache.put(spaceId, owner, seq, doc, kind);
    return doc;
  }

  /** Builds a doc from exactly these change bytes (a heads selector's ancestors); not cached. */
  materializeSubset(kind: DocKind, changes: readonly Uint8Array[]): AnyDoc {
    this.stats.fromLog++;
    return kind.materialize(changes) as AnyDoc;
  }

  /**
   * The verified snapshot with the highest seq in (aboveSeq, seq] of this
   * history. One that does not load to its recorded heads is reported and
   * skipped, never served.
   */
  private async nearestSnapshot(
    ops: SpaceReadOps,
    spaceId: string,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
    aboveSeq: number,
  ): Promise<{ seq: number; doc: AnyDoc } | undefined> {
    for (const meta of await snapshotsBelow(ops, lineage, seq, aboveSeq)) {
      const bytes = await ops.readSnapshotBytes(meta.id);
      const checked = bytes ? verifySnapshot(kind, bytes, meta) : 'snapshot bytes are gone';
      if (typeof checked !== 'string') {
        this.options.cache.put(spaceId, ownerOf(lineage, meta.seq), meta.seq, checked, kind);
        return { seq: meta.seq, doc: checked };
      }
      this.stats.corruptSnapshots++;
      this.options.logger?.warn(
        { spaceId, snapshotId: meta.id, reason: checked },
        'snapshot ignored',
      );
      this.options.onCorruptSnapshot?.(spaceId, meta, checked);
    }
    return undefined;
  }
}

/** The branch whose own log holds `seq` in this history (the key under which its state is cached). */
export function ownerOf(lineage: Lineage, seq: number): number {
  for (const seg of lineage) if (seg.fromSeq <= seq && seq <= seg.toSeq) return seg.branchId;
  return (lineage[lineage.length - 1] as LineageSegment).branchId;
}

/** Loads a snapshot and checks it against its recorded heads and rootRef: the doc, or what is wrong. */
export function verifySnapshot(
  kind: DocKind,
  bytes: Uint8Array,
  meta: SnapshotMeta,
): AnyDoc | string {
  let doc: AnyDoc;
  try {
    doc = kind.load(bytes) as AnyDoc;
  } catch (err) {
    return `does not load: ${err instanceof Error ? err.message : String(err)}`;
  }
  const heads = kind.heads(doc);
  if (!sameHeadSet(heads, meta.heads)) return 'heads differ from the recorded heads';
  if (rootRef(heads) !== meta.rootRef) return 'rootRef differs from the recorded rootRef';
  return doc;
}

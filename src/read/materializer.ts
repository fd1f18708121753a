import type { JsonValue } from '../core/json.js';
import type { Logger } from '../core/logger.js';
import type { DocKind } from '../crdt/doc-kind.js';
import type { KindWorkers } from '../crdt/kind-workers.js';
import { snapshotsBelow, type Lineage, type LineageSegment } from '../storage/lineage.js';
import type { SnapshotMeta, SpaceReadOps } from '../storage/types.js';
import type { AnyDoc, DocCache } from './doc-cache.js';
import { readTail, type QuarantineView } from './quarantine-view.js';
import { WorkerBuilds } from './worker-builds.js';

/** How point-in-time reads were served, for /metrics and the benches. */
export interface ReadStats {
  fromCache: number;
  fromSnapshot: number;
  fromLog: number;
  corruptSnapshots: number;
  /** Built on the read worker (heavy builds), of the above. */
  onWorker: number;
}

export interface MaterializerOptions {
  cache: DocCache;
  quarantine: QuarantineView;
  /** The read worker threads; without them every build runs on the event loop. */
  workers?: KindWorkers;
  logger?: Logger;
  /** Told about a snapshot that does not load to its recorded heads (it was skipped). */
  onCorruptSnapshot?: (spaceId: string, snapshot: SnapshotMeta, reason: string) => void;
}

/** A version as reads serve it. */
export interface BuiltVersion {
  heads: string[];
  json(): JsonValue;
  /** Hashes of this history left out: quarantined changes and their dependants. */
  excluded: ReadonlySet<string>;
}

/**
 * Light builds run on the event loop, heavy ones on the read worker: a build
 * is light when it starts from nothing or from a small cached doc and loads
 * a small tail. Loading a snapshot (its cost is not its size: 1 KiB can hold
 * a million ops) or anything bigger goes to the worker.
 */
export const LIGHT = { tailBytes: 64 * 1024, tailChanges: 1_000, baseDocBytes: 4 * 1024 * 1024 };

/**
 * Builds a branch's version at a seq, lazily and in one batch: from the
 * caches, else from the nearest cached doc or verified snapshot below it plus
 * one batched tail of the log, else from the whole log — leaving quarantined
 * changes (and what depends on them) out. Every result is cached.
 */
export class Materializer {
  readonly stats: ReadStats = {
    fromCache: 0,
    fromSnapshot: 0,
    fromLog: 0,
    corruptSnapshots: 0,
    onWorker: 0,
  };
  private readonly worker: WorkerBuilds | undefined;

  constructor(private readonly options: MaterializerOptions) {
    this.worker = options.workers ? new WorkerBuilds(options.workers, options.cache) : undefined;
  }

  get cache(): DocCache {
    return this.options.cache;
  }

  /** Forgets every cached version of a space (its quarantine changed). */
  forgetSpace(spaceId: string): Promise<void> {
    this.options.quarantine.forget(spaceId);
    this.options.cache.dropSpace(spaceId);
    return this.worker?.forgetSpace(spaceId) ?? Promise.resolve();
  }

  async versionAt(
    ops: SpaceReadOps,
    spaceId: string,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
  ): Promise<BuiltVersion> {
    const { cache, quarantine } = this.options;
    const key = cacheKey(spaceId, lineage, seq);
    const excluded = await quarantine.excludedAt(ops, spaceId, lineage, seq);
    const hit = cache.get(spaceId, ownerOf(lineage, seq), seq);
    const view = hit ? undefined : cache.getView(key);
    if (hit || view) {
      this.stats.fromCache++;
      if (view) return { heads: view.heads, json: () => view.json, excluded };
      return { heads: kind.heads(hit), json: () => cache.jsonOf(hit as AnyDoc, kind), excluded };
    }
    const near = this.nearestMainDoc(spaceId, lineage, seq);
    if (!this.worker) {
      const doc = await this.buildHere(ops, spaceId, kind, lineage, seq, near, excluded, true);
      return { heads: kind.heads(doc), json: () => cache.jsonOf(doc, kind), excluded };
    }
    // On the event loop only from nothing or a small cached doc, with a small tail.
    const onWorker = this.worker.nearest(spaceId, lineage, seq);
    const above = Math.max(near?.seq ?? 0, onWorker);
    const snapshot = (await snapshotsBelow(ops, lineage, seq, above)).length > 0;
    const fromNothing = !near && onWorker === 0 && !snapshot;
    const fromNear =
      !!near && near.seq >= onWorker && !snapshot && near.bytes <= LIGHT.baseDocBytes;
    if (fromNothing || fromNear) {
      const tail = await readTail(ops, lineage, (near?.seq ?? 0) + 1, seq, excluded);
      const tailBytes = tail.bytes.reduce((n, b) => n + b.byteLength, 0);
      if (tail.bytes.length <= LIGHT.tailChanges && tailBytes <= LIGHT.tailBytes) {
        const doc = this.extendHere(spaceId, kind, lineage, seq, near, tail.bytes, false);
        return { heads: kind.heads(doc), json: () => cache.jsonOf(doc, kind), excluded };
      }
    }
    const built = await this.worker.version(ops, spaceId, kind, lineage, seq, {
      excluded,
      onCorruptSnapshot: (meta, why) => this.corrupt(spaceId, meta, why),
    });
    this.stats.onWorker++;
    if (built.fromSnapshot) this.stats.fromSnapshot++;
    else this.stats.fromLog++;
    return { heads: built.heads, json: () => built.json, excluded };
  }

  /**
   * The version as a doc on the event loop (server merge needs the doc
   * itself): from the main cache, a verified snapshot and the tail.
   */
  async docAt(
    ops: SpaceReadOps,
    spaceId: string,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
  ): Promise<AnyDoc> {
    const excluded = await this.options.quarantine.excludedAt(ops, spaceId, lineage, seq);
    const hit = this.options.cache.get(spaceId, ownerOf(lineage, seq), seq);
    if (hit) return hit;
    const near = this.nearestMainDoc(spaceId, lineage, seq);
    return this.buildHere(ops, spaceId, kind, lineage, seq, near, excluded, true);
  }

  /** Builds exactly these change bytes (a heads selector's ancestors); not cached. */
  async subset(kind: DocKind, changes: Uint8Array[]): Promise<Omit<BuiltVersion, 'excluded'>> {
    this.stats.fromLog++;
    const bytes = changes.reduce((n, c) => n + c.byteLength, 0);
    if (!this.worker || (bytes <= LIGHT.tailBytes && changes.length <= LIGHT.tailChanges)) {
      const doc = buildOrBreak(() => kind.materialize(changes) as AnyDoc);
      const json = buildOrBreak(() => this.options.cache.jsonOf(doc, kind));
      return { heads: kind.heads(doc), json: () => json };
    }
    this.stats.onWorker++;
    const built = await this.worker.saved(kind, changes, { json: true });
    return { heads: built.heads, json: () => built.json as JsonValue };
  }

  /** Saved bytes of exactly these changes (a canonical byte read), checked to load back. */
  async savedOf(
    kind: DocKind,
    changes: Uint8Array[],
  ): Promise<{ bytes: Uint8Array; heads: string[] }> {
    const bytes = changes.reduce((n, c) => n + c.byteLength, 0);
    if (!this.worker || (bytes <= LIGHT.tailBytes && changes.length <= LIGHT.tailChanges)) {
      const doc = buildOrBreak(() => kind.materialize(changes));
      const problem = kind.verify(doc);
      if (problem) throw brokenDoc(problem);
      return { bytes: kind.save(doc), heads: kind.heads(doc) };
    }
    this.stats.onWorker++;
    const built = await this.worker.saved(kind, changes, { saved: true, verify: true });
    return { bytes: built.saved as Uint8Array, heads: built.heads };
  }

  private nearestMainDoc(spaceId: string, lineage: Lineage, seq: number) {
    let base: { seq: number; doc: AnyDoc; bytes: number } | undefined;
    for (const seg of lineage) {
      const near = this.options.cache.nearest(spaceId, seg.branchId, Math.min(seg.toSeq, seq));
      if (near && near.seq > (base?.seq ?? 0)) base = near;
    }
    return base;
  }

  private async buildHere(
    ops: SpaceReadOps,
    spaceId: string,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
    near: { seq: number; doc: AnyDoc } | undefined,
    excluded: ReadonlySet<string>,
    useSnapshots = false,
  ): Promise<AnyDoc> {
    let base = near;
    let fromSnapshot = false;
    if (useSnapshots) {
      const snap = await this.verifiedSnapshot(ops, spaceId, kind, lineage, seq, base?.seq ?? 0);
      if (snap) [base, fromSnapshot] = [snap, true];
    }
    const tail = await readTail(ops, lineage, (base?.seq ?? 0) + 1, seq, excluded);
    return this.extendHere(spaceId, kind, lineage, seq, base, tail.bytes, fromSnapshot);
  }

  /** The base extended by a tail, here on the event loop; its JSON converted (a check), cached. */
  private extendHere(
    spaceId: string,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
    base: { seq: number; doc: AnyDoc } | undefined,
    tail: Uint8Array[],
    fromSnapshot: boolean,
  ): AnyDoc {
    let doc: AnyDoc;
    try {
      doc = (base ? kind.extend(base.doc, tail) : kind.materialize(tail)) as AnyDoc;
      this.options.cache.jsonOf(doc, kind);
    } catch (err) {
      throw brokenDoc(err instanceof Error ? err.message : String(err));
    }
    if (fromSnapshot) this.stats.fromSnapshot++;
    else this.stats.fromLog++;
    this.options.cache.put(spaceId, ownerOf(lineage, seq), seq, doc, kind);
    return doc;
  }

  /** The verified snapshot with the highest seq in (aboveSeq, seq]; bad ones are reported, skipped. */
  private async verifiedSnapshot(
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
      if (typeof checked !== 'string') return { seq: meta.seq, doc: checked };
      this.corrupt(spaceId, meta, checked);
    }
    return undefined;
  }

  private corrupt(spaceId: string, meta: SnapshotMeta, reason: string): void {
    this.stats.corruptSnapshots++;
    this.options.logger?.warn({ spaceId, snapshotId: meta.id, reason }, 'snapshot ignored');
    this.options.onCorruptSnapshot?.(spaceId, meta, reason);
  }
}

/** A version that does not build: its history holds a change to quarantine. */
export class BrokenDoc extends Error {
  readonly code = 'DOC_BROKEN';
}

export function brokenDoc(reason: string): BrokenDoc {
  return new BrokenDoc(reason);
}

/** Runs a build step; what it throws means the version does not build (a change to find). */
function buildOrBreak<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    throw brokenDoc(err instanceof Error ? err.message : String(err));
  }
}

/** The cache key of a version: the branch that owns its seq, so forks share keys below their fork point. */
export function cacheKey(spaceId: string, lineage: Lineage, seq: number): string {
  return JSON.stringify([spaceId, ownerOf(lineage, seq), seq]);
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
  if (heads.join() !== [...meta.heads].sort().join()) return 'heads differ from the recorded heads';
  return doc;
}

import type { JsonValue } from '../core/json.js';
import type { Logger } from '../core/logger.js';
import type { DocKind } from '../crdt/doc-kind.js';
import { LruMap } from '../core/lru-map.js';
import {
  BASE_CORRUPT,
  snapshotCheckJob,
  type BuildResult,
  type MergeConflictResult,
} from '../crdt/kind-jobs.js';
import type { KindWorkers } from '../crdt/kind-workers.js';
import type { Lineage, LineageSegment } from '../storage/lineage.js';
import type { SnapshotMeta, SpaceReadOps } from '../storage/types.js';
import { viewJson, type DocCache, type DocView } from './doc-cache.js';
import type { QuarantineView } from './quarantine-view.js';
import { WorkerBuilds } from './worker-builds.js';

/** Snapshot ids remembered as checked (a 20-byte entry each). */
const VERIFIED_SNAPSHOTS_KEPT = 10_000;

/** How point-in-time reads were served, for /metrics and the benches. */
export interface ReadStats {
  fromCache: number;
  fromSnapshot: number;
  fromLog: number;
  corruptSnapshots: number;
}

export interface MaterializerOptions {
  cache: DocCache;
  quarantine: QuarantineView;
  /** The read worker threads: every build of a document runs there. */
  workers: KindWorkers;
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
 * Builds a branch's version at a seq, lazily and in one batch, on the read
 * worker: from the nearest doc the worker keeps or the nearest verified
 * snapshot below it plus one batched tail of the log, else from the whole
 * log — leaving quarantined changes (and what depends on them) out. The
 * event loop never runs the CRDT library on stored changes: a change whose
 * ops do not apply makes it panic, and a panic there would take every
 * request with it. The JSON of each version built is cached here.
 */
export class Materializer {
  readonly stats: ReadStats = { fromCache: 0, fromSnapshot: 0, fromLog: 0, corruptSnapshots: 0 };
  private readonly worker: WorkerBuilds;
  /** Snapshots whose bytes were seen to load to their heads. */
  private readonly verifiedSnapshots = new LruMap<string, true>(VERIFIED_SNAPSHOTS_KEPT);

  constructor(private readonly options: MaterializerOptions) {
    this.worker = new WorkerBuilds(options.workers, options.cache);
  }

  /** Forgets every cached version of a space (its quarantine changed). */
  async forgetSpace(spaceId: string): Promise<void> {
    this.options.quarantine.forget(spaceId);
    this.options.cache.dropSpace(spaceId);
    await this.worker.forgetSpace(spaceId);
  }

  async versionAt(
    ops: SpaceReadOps,
    spaceId: string,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
  ): Promise<BuiltVersion> {
    const { cache, quarantine } = this.options;
    const excluded = await quarantine.excludedAt(ops, spaceId, lineage, seq);
    const view = cache.getView(cacheKey(spaceId, lineage, seq));
    if (view) {
      this.stats.fromCache++;
      return { heads: view.heads, json: () => viewJson(view), excluded };
    }
    const built = await this.worker.version(ops, spaceId, kind, lineage, seq, {
      excluded,
      onCorruptSnapshot: (meta, why) => this.corrupt(spaceId, meta, why),
    });
    if (built.fromSnapshot) this.stats.fromSnapshot++;
    else this.stats.fromLog++;
    return { heads: built.heads, json: built.json, excluded };
  }

  /** What a server merge of `added` into the version at `seq` reports (keys set concurrently). */
  async conflicts(
    ops: SpaceReadOps,
    spaceId: string,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
    added: Uint8Array[],
  ): Promise<MergeConflictResult[]> {
    const excluded = await this.options.quarantine.excludedAt(ops, spaceId, lineage, seq);
    return this.worker.conflicts(ops, kind, lineage, seq, excluded, added);
  }

  /** Builds exactly these change bytes (a heads selector's ancestors); not cached. */
  async subset(kind: DocKind, changes: Uint8Array[]): Promise<Omit<BuiltVersion, 'excluded'>> {
    this.stats.fromLog++;
    const built = await this.worker.saved(kind, changes, { json: true });
    const view: DocView = { jsonText: built.jsonText ?? 'null', heads: built.heads, bytes: 0 };
    return { heads: built.heads, json: () => viewJson(view) };
  }

  /** Saved bytes of exactly these changes (a canonical byte read), checked to load back. */
  async savedOf(
    kind: DocKind,
    changes: Uint8Array[],
  ): Promise<{ bytes: Uint8Array; heads: string[] }> {
    const built = await this.worker.saved(kind, changes, { saved: true, verify: true });
    return { bytes: built.saved as Uint8Array, heads: built.heads };
  }

  /**
   * Whether a stored snapshot's bytes load to its recorded heads (checked on
   * a read worker once per snapshot, then remembered). Snapshots are not
   * reloaded when they are made — a read that uses one as its base checks
   * its heads anyway — so bytes served as they are pass through here first.
   */
  async snapshotLoads(
    spaceId: string,
    kind: DocKind,
    meta: SnapshotMeta,
    saved: Uint8Array,
  ): Promise<boolean> {
    const key = `${spaceId} ${meta.id}`;
    if (this.verifiedSnapshots.has(key)) return true;
    try {
      const job = snapshotCheckJob(saved, meta.heads);
      await this.options.workers.run<BuildResult>(kind, job, saved.byteLength);
    } catch (err) {
      if ((err as { code?: string }).code !== BASE_CORRUPT) throw err;
      this.corrupt(spaceId, meta, (err as Error).message);
      return false;
    }
    this.verifiedSnapshots.set(key, true);
    return true;
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

/** The cache key of a version: the branch that owns its seq, so forks share keys below their fork point. */
export function cacheKey(spaceId: string, lineage: Lineage, seq: number): string {
  return JSON.stringify([spaceId, ownerOf(lineage, seq), seq]);
}

/** The branch whose own log holds `seq` in this history (the key under which its state is cached). */
export function ownerOf(lineage: Lineage, seq: number): number {
  for (const seg of lineage) if (seg.fromSeq <= seq && seq <= seg.toSeq) return seg.branchId;
  return (lineage[lineage.length - 1] as LineageSegment).branchId;
}

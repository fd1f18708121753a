import type { JsonValue } from '../core/json.js';
import type { DocKind } from '../crdt/doc-kind.js';
import {
  BASE_CORRUPT,
  DOC_BROKEN,
  type BuildJob,
  type BuildResult,
  type ConflictsJob,
  type MergeConflictResult,
  type SavedBase,
} from '../crdt/kind-jobs.js';
import type { KindWorkers } from '../crdt/kind-workers.js';
import { snapshotsBelow, type Lineage } from '../storage/lineage.js';
import type { SnapshotMeta, SpaceReadOps } from '../storage/types.js';
import { viewJson, type DocCache, type DocView } from './doc-cache.js';
import { brokenDoc, cacheKey } from './materializer.js';
import { readTail } from './quarantine-view.js';
import { WorkerDocIndex } from './worker-doc-index.js';

/** A version built on the read worker. */
export interface WorkerVersion {
  heads: string[];
  json(): JsonValue;
  fromSnapshot: boolean;
}

/**
 * Heavy builds on the read worker. The worker keeps the docs it built (an
 * LRU), mirrored here by `WorkerDocIndex`, so reading a newer version of a
 * big doc extends the one it has instead of loading a snapshot again; the
 * main thread keeps only their JSON (DocCache views).
 */
export class WorkerBuilds {
  private readonly index = new WorkerDocIndex();

  constructor(
    private readonly workers: KindWorkers,
    private readonly cache: DocCache,
    /** Budget of the worker's doc cache, in estimated bytes. */
    private readonly cacheBytes = cache.maxBytes,
  ) {}

  /** The highest seq ≤ seq of this history the worker holds a doc of (0: none). */
  nearest(spaceId: string, lineage: Lineage, seq: number): number {
    let best = 0;
    for (const seg of lineage) {
      const s = this.index.nearest(spaceId, seg.branchId, Math.min(seg.toSeq, seq));
      if (s !== undefined && s >= seg.fromSeq - 1 && s > best) best = s;
    }
    return best;
  }

  async version(
    ops: SpaceReadOps,
    spaceId: string,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
    ctx: {
      excluded: ReadonlySet<string>;
      onCorruptSnapshot: (meta: SnapshotMeta, reason: string) => void;
    },
  ): Promise<WorkerVersion> {
    const skip = new Set<number>();
    for (let attempt = 0; ; attempt++) {
      const cached = this.nearest(spaceId, lineage, seq);
      const [snap] = (await snapshotsBelow(ops, lineage, seq, cached)).filter(
        (m) => !skip.has(m.id),
      );
      let base: BuildJob['base'];
      let from = cached;
      if (snap) {
        const saved = await ops.readSnapshotBytes(snap.id);
        if (saved) base = { saved, heads: snap.heads } satisfies SavedBase;
        from = snap.seq;
      } else if (cached > 0) {
        base = { cached: cacheKey(spaceId, lineage, cached) };
      }
      const tail = await readTail(ops, lineage, from + 1, seq, ctx.excluded);
      const key = cacheKey(spaceId, lineage, seq);
      try {
        const built = await this.run(kind, { base, tail: tail.bytes, key });
        return this.viewOf(key, built, !!snap);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= 3) throw err;
        if (code === BASE_CORRUPT && snap) {
          ctx.onCorruptSnapshot(snap, (err as Error).message);
          skip.add(snap.id);
        } else if (code === 'NOT_CACHED') {
          // The worker was replaced (recycled when idle or after a heavy job): it holds nothing.
          this.index.clear();
        } else if (code === DOC_BROKEN && base) {
          // Automerge applies some changes onto a doc that it loads fine in one batch:
          // before the version counts as broken, it is built from nothing.
          return this.fresh(ops, spaceId, kind, lineage, seq, ctx.excluded);
        } else if (code === DOC_BROKEN) {
          throw brokenDoc((err as Error).message);
        } else {
          throw err;
        }
      }
    }
  }

  /** Caches a built version's JSON text (parsed on first use). */
  private viewOf(key: string, built: BuildResult, fromSnapshot: boolean): WorkerVersion {
    const view: DocView = {
      jsonText: built.jsonText ?? 'null',
      heads: built.heads,
      bytes: built.docBytes,
    };
    this.cache.putView(key, view);
    return { heads: built.heads, json: () => viewJson(view), fromSnapshot };
  }

  /** The version built from nothing: its whole history in one batch (the build reads fall back to). */
  private async fresh(
    ops: SpaceReadOps,
    spaceId: string,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
    excluded: ReadonlySet<string>,
  ): Promise<WorkerVersion> {
    const tail = await readTail(ops, lineage, 1, seq, excluded);
    const key = cacheKey(spaceId, lineage, seq);
    try {
      const built = await this.run(kind, { base: undefined, tail: tail.bytes, key });
      return this.viewOf(key, built, false);
    } catch (err) {
      if ((err as { code?: string }).code === DOC_BROKEN) throw brokenDoc((err as Error).message);
      throw err;
    }
  }

  /**
   * The keys that `added` sets concurrently with the version at `seq` (a
   * server merge's report), from the newest snapshot below and the tail.
   */
  async conflicts(
    ops: SpaceReadOps,
    kind: DocKind,
    lineage: Lineage,
    seq: number,
    excluded: ReadonlySet<string>,
    added: Uint8Array[],
  ): Promise<MergeConflictResult[]> {
    const [snap] = await snapshotsBelow(ops, lineage, seq, 0);
    const saved = snap ? await ops.readSnapshotBytes(snap.id) : undefined;
    const from = snap && saved ? snap.seq : 0;
    const before = await readTail(ops, lineage, from + 1, seq, excluded);
    const job: ConflictsJob = {
      op: 'conflicts',
      before: before.bytes,
      added,
      ...(snap && saved ? { base: { saved, heads: snap.heads } } : {}),
    };
    return this.workers.run<MergeConflictResult[]>(kind, job, weightOf(before.bytes));
  }

  /** Builds exactly these changes, uncached (byte reads, heads selectors). */
  saved(kind: DocKind, changes: Uint8Array[], want: BuildJob['want']): Promise<BuildResult> {
    const job: BuildJob = { op: 'build', tail: changes, want, cacheBytes: this.cacheBytes };
    return this.workers.run<BuildResult>(kind, job, weightOf(changes)).catch((err: unknown) => {
      if ((err as { code?: string }).code === DOC_BROKEN) throw brokenDoc((err as Error).message);
      throw err;
    });
  }

  /**
   * Never builds from the worker's docs of a space again (its quarantine
   * changed what they hold); the worker's LRU drops them in time, or a new
   * build under the same key replaces them.
   */
  async forgetSpace(spaceId: string): Promise<void> {
    for (const k of this.index.keysOf(spaceId)) this.index.remove(k);
  }

  private async run(
    kind: DocKind,
    job: { base: BuildJob['base']; tail: Uint8Array[]; key: string },
  ): Promise<BuildResult> {
    const build: BuildJob = {
      op: 'build',
      ...(job.base ? { base: job.base } : {}),
      tail: job.tail,
      want: { json: true },
      cacheAs: job.key,
      cacheBytes: this.cacheBytes,
    };
    const weight =
      weightOf(job.tail) + (job.base && 'saved' in job.base ? job.base.saved.byteLength : 0);
    const result = await this.workers.run<BuildResult>(kind, build, weight);
    for (const k of result.evicted) this.index.remove(k);
    if (!result.evicted.includes(job.key)) this.index.add(job.key);
    return result;
  }
}

function weightOf(changes: readonly Uint8Array[]): number {
  return changes.reduce((n, c) => n + c.byteLength, 0);
}

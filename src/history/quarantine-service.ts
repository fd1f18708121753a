import type { Logger } from '../core/logger.js';
import type { BisectJob, BisectResult } from '../crdt/kind-jobs.js';
import type { KindWorkers } from '../crdt/kind-workers.js';
import { docKind } from '../crdt/kinds.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import type { DocReader } from '../read/doc-reader.js';
import { readTailWithHashes } from '../read/quarantine-view.js';
import { lineageOf } from '../storage/lineage.js';
import { withSpaceReader } from '../storage/space-access.js';
import type { StorageBackend } from '../storage/types.js';

export interface QuarantineServiceOptions {
  backend: StorageBackend;
  pipeline: CommitPipeline;
  reader: DocReader;
  /** Background worker threads (the bisection builds the doc many times). */
  workers: KindWorkers;
  logger: Logger;
  now?: () => number;
}

/**
 * Accepted changes are checked by their headers only (applying each on the
 * commit path would cost O(document) per commit). A change whose ops do not
 * apply — or whose saved document does not load again — is found when a
 * version that holds it fails to build (a read, a snapshot), by bisection on
 * a background worker from the newest snapshot below (snapshots only hold
 * documents that built). It is then quarantined: recorded in the space, left
 * out of every read (with what depends on it), listed in answers and logged.
 */
export class QuarantineService {
  readonly stats = { found: 0, searches: 0 };
  /** One search per space at a time; callers who find one running share it. */
  private readonly running = new Map<string, Promise<boolean>>();

  constructor(private readonly options: QuarantineServiceOptions) {}

  /** Finds and records the change that breaks a version of a branch; true if one was recorded. */
  findBroken(spaceId: string, branchId: number, seq: number): Promise<boolean> {
    const key = JSON.stringify([spaceId, branchId, seq]);
    let search = this.running.get(key);
    if (!search) {
      search = this.search(spaceId, branchId, seq).finally(() => this.running.delete(key));
      this.running.set(key, search);
    }
    return search;
  }

  private async search(spaceId: string, branchId: number, seq: number): Promise<boolean> {
    const { backend, reader, workers, pipeline, logger } = this.options;
    this.stats.searches++;
    const found = await withSpaceReader(backend, spaceId, async (ops) => {
      const branch = await ops.getBranchById(branchId);
      if (!branch) return undefined;
      const lineage = await lineageOf(ops, branch);
      const excluded = await reader.excludedAt(ops, spaceId, lineage, seq);
      // From nothing: a version counts as broken when it does not build that way (see reads).
      const tail = await readTailWithHashes(ops, lineage, 1, seq, excluded);
      const job: BisectJob = { op: 'bisect', tail: tail.bytes };
      const result = await workers.run<BisectResult>(
        docKind(branch.kind),
        job,
        weightOf(tail.bytes),
      );
      if (result.firstBad === null) return undefined;
      return {
        hash: tail.hashes[result.firstBad] as string,
        reason: result.reason ?? 'does not apply',
      };
    });
    if (!found) return false;
    const foundAt = (this.options.now ?? Date.now)();
    await pipeline.runWrite(spaceId, (ops) => ops.quarantine([{ ...found, foundAt }]));
    this.stats.found++;
    logger.warn({ spaceId, hash: found.hash, reason: found.reason }, 'change quarantined');
    await reader.forgetSpace(spaceId);
    return true;
  }
}

function weightOf(changes: readonly Uint8Array[]): number {
  return changes.reduce((n, c) => n + c.byteLength, 0);
}

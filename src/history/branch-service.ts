import { CairnError } from '../core/errors.js';
import { parseBranchName } from '../core/ids.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import type { VersionSelector } from '../protocol/version-selector.js';
import type { TxOutcome } from '../protocol/receipt.js';
import {
  actorSeqsAt,
  headsAt,
  lineageOf,
  MAX_LINEAGE_DEPTH,
  readHistory,
} from '../storage/lineage.js';
import type { BranchView } from '../protocol/views.js';
import type { ReadApi } from '../read/read-api.js';
import { ancestorsInLogOrder, resolveVersion } from '../read/version-resolver.js';
import { requireBranch } from '../storage/space-access.js';
import type { BranchRecord, SpaceWriteOps } from '../storage/types.js';

export interface ForkPoint {
  branch: string;
  version: VersionSelector;
}

export class BranchService {
  /** How deep forks may nest (never past what a lineage can hold). */
  private readonly maxForkDepth: number;
  private readonly now: () => number;

  constructor(
    private readonly pipeline: CommitPipeline,
    private readonly read: ReadApi,
    options: { maxForkDepth: number; now?: () => number },
  ) {
    this.maxForkDepth = Math.min(options.maxForkDepth, MAX_LINEAGE_DEPTH - 1);
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates `name` sharing the history of `from` up to its fork point,
   * without copying it. Heads that are not a point of the source log fork at
   * the longest prefix they contain; the rest of their ancestors become the
   * new branch's first commit (pointers to the stored bytes).
   */
  async create(spaceId: string, docId: string, name: string, from: ForkPoint): Promise<BranchView> {
    const branchName = parseBranchName(name);
    const { branch, extra } = await this.pipeline.runWrite(spaceId, (ops) =>
      this.fork(ops, docId, branchName, from),
    );
    if (extra.length > 0) {
      // The rest of the heads' ancestors: if refused, the fork is undone.
      const outcome = await this.pipeline.commit(spaceId, {
        reads: [],
        writes: [
          {
            docId,
            branch: branchName,
            baseHeads: branch.heads,
            changes: extra,
            merge: true,
            mergeOf: [],
            closeMerged: false,
          },
        ],
      });
      if (!outcome.ok)
        await this.pipeline.runWrite(spaceId, (ops) => ops.dropEmptyBranch(branch.id));
      throwIfRefused(outcome);
    }
    return this.view(spaceId, docId, branchName);
  }

  async view(spaceId: string, docId: string, name: string): Promise<BranchView> {
    const found = (await this.read.branches(spaceId, docId)).find((b) => b.name === name);
    if (!found)
      throw new CairnError('BranchNotFound', `doc ${docId} has no branch ${name}`, {
        docId,
        branch: name,
      });
    return found;
  }

  /** Closes a branch: later writes get `BranchClosed`; reads keep working. */
  async close(
    spaceId: string,
    docId: string,
    name: string,
    mergedInto?: string,
  ): Promise<BranchView> {
    const into = mergedInto === undefined ? null : parseBranchName(mergedInto);
    await this.pipeline.runWrite(spaceId, async (ops) => {
      const branch = await requireBranch(ops, docId, name);
      if (!branch.closed || into !== null)
        await ops.closeBranch(branch.id, into ?? branch.mergedInto);
    });
    return this.view(spaceId, docId, name);
  }

  private async fork(
    ops: SpaceWriteOps,
    docId: string,
    name: string,
    from: ForkPoint,
  ): Promise<{ branch: BranchRecord; extra: Uint8Array[] }> {
    if (await ops.getBranch(docId, name)) {
      throw new CairnError('BranchExists', `doc ${docId} already has a branch ${name}`, {
        docId,
        branch: name,
      });
    }
    const source = await requireBranch(ops, docId, from.branch);
    const lineage = await lineageOf(ops, source);
    // The new branch sits one below the source: its depth is the source's segment count.
    if (lineage.length > this.maxForkDepth) {
      throw new CairnError(
        'LimitExceeded',
        `forks nest at most ${this.maxForkDepth} deep (${from.branch} is at depth ${lineage.length - 1})`,
        { docId, branch: name, limit: 'maxForkDepth' },
      );
    }
    const v = await resolveVersion(ops, source, lineage, from.version);
    let forkSeq = v.seq;
    let extra: Uint8Array[] = [];
    if (v.onlyAncestorsOf) {
      const log = await readHistory(ops, lineage, 1, v.seq, Number.MAX_SAFE_INTEGER, true);
      const keep = ancestorsInLogOrder(log, v.onlyAncestorsOf);
      // The longest prefix made only of ancestors is shared; the rest is appended.
      const firstGap = log.findIndex((e, i) => keep[i]?.hash !== e.hash);
      forkSeq = firstGap < 0 ? v.seq : firstGap;
      extra = keep.slice(forkSeq).map((e) => e.bytes as Uint8Array);
    }
    const branch = await ops.createBranch({
      docId,
      name,
      kind: source.kind,
      parentId: source.id,
      forkSeq,
      forkHeads: await headsAt(ops, lineage, forkSeq),
      createdAt: this.now(),
    });
    await ops.setActorSeqs(branch.id, await actorSeqsAt(ops, lineage, forkSeq));
    return { branch, extra };
  }
}

/** A refused internal transaction surfaces as its typed error. */
export function throwIfRefused(outcome: TxOutcome): void {
  if (outcome.ok) return;
  const { code, message, ...details } = outcome.error;
  throw new CairnError(code, message, details);
}

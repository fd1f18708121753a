import { CairnError } from '../core/errors.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import type { TxReceipt } from '../protocol/receipt.js';
import type { MergeResult } from '../protocol/views.js';
import type { DocReader } from '../read/doc-reader.js';
import { findInHistory, readHistory } from '../storage/lineage.js';
import { throwIfRefused } from './branch-service.js';

/**
 * SPEC §4 server merge: appends to `into`, in causal (source log) order,
 * every change of `source` that `into` lacks, as one merge transaction, and
 * reports the keys both sides set differently. Off unless enabled.
 */
export class ServerMerge {
  constructor(
    private readonly reader: DocReader,
    private readonly pipeline: CommitPipeline,
    readonly enabled: boolean,
  ) {}

  async merge(spaceId: string, docId: string, source: string, into: string): Promise<MergeResult> {
    if (!this.enabled) {
      throw new CairnError('FeatureDisabled', 'server merge is off (set ENABLE_SERVER_MERGE=1)');
    }
    if (source === into)
      throw new CairnError('ValidationError', 'a branch cannot be merged into itself');
    const plan = await this.reader.withSpace(spaceId, async (ops) => {
      const src = await this.reader.openBranch(ops, docId, source);
      const dst = await this.reader.openBranch(ops, docId, into);
      const log = await readHistory(
        ops,
        src.lineage,
        1,
        src.branch.seq,
        Number.MAX_SAFE_INTEGER,
        true,
      );
      const present = await findInHistory(
        ops,
        dst.lineage,
        log.map((e) => e.hash),
      );
      const missing = log.filter((e) => !present.has(e.hash)).map((e) => e.bytes as Uint8Array);
      if (dst.kind.name !== 'automerge') {
        throw new CairnError('ValidationError', 'server merge is for Automerge documents', {
          docId,
        });
      }
      return { missing, dst, sourceHeads: src.branch.heads, baseHeads: dst.branch.heads };
    });
    const outcome = await this.pipeline.commit(spaceId, {
      reads: [],
      writes: [
        {
          docId,
          branch: into,
          baseHeads: plan.baseHeads,
          changes: plan.missing,
          merge: true,
          mergeOf: [{ branch: source, heads: plan.sourceHeads }],
          closeMerged: false,
        },
      ],
    });
    throwIfRefused(outcome);
    const { dst, missing } = plan;
    const conflicts =
      missing.length > 0
        ? await this.reader.withSpace(spaceId, (ops) =>
            this.reader.mergeConflicts(ops, spaceId, dst, dst.branch.seq, missing),
          )
        : [];
    return { ...(outcome as TxReceipt), conflicts };
  }
}

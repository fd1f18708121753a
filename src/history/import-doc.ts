import { CairnError } from '../core/errors.js';
import { DEFAULT_DOC_KIND } from '../core/ids.js';
import type { KindWorkers } from '../crdt/kind-workers.js';
import { docKind } from '../crdt/kinds.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import type { TxReceipt } from '../protocol/receipt.js';
import { throwIfRefused } from './branch-service.js';

/**
 * SPEC §5 import: the bytes must load as an Automerge document; its changes
 * either already exist in the branch log or are appended to it as one new
 * transaction. Anything else (a change the branch refuses) changes nothing.
 * The file is opened on a worker (untrusted bytes never reach the CRDT
 * library on the event loop).
 */
export class ImportService {
  constructor(
    private readonly pipeline: CommitPipeline,
    private readonly workers: KindWorkers,
  ) {}

  async importDoc(
    spaceId: string,
    docId: string,
    branch: string,
    bytes: Uint8Array,
  ): Promise<TxReceipt> {
    let changes: Uint8Array[];
    try {
      // In causal order: every change after its deps.
      const job = { op: 'changesOfSaved', saved: bytes } as const;
      changes = await this.workers.run<Uint8Array[]>(docKind(DEFAULT_DOC_KIND), job, bytes.length);
    } catch (err) {
      if (!(err instanceof CairnError) || err.code !== 'InvalidChange') throw err;
      throw new CairnError('InvalidChange', err.message, { docId, branch }, { cause: err });
    }
    if (changes.length === 0)
      throw new CairnError('InvalidChange', 'the document has no changes', { docId, branch });
    const outcome = await this.pipeline.commit(spaceId, {
      reads: [],
      writes: [
        { docId, branch, baseHeads: [], changes, merge: true, mergeOf: [], closeMerged: false },
      ],
    });
    throwIfRefused(outcome);
    return outcome as TxReceipt;
  }
}

import { CairnError } from '../core/errors.js';
import { DEFAULT_DOC_KIND } from '../core/ids.js';
import { docKind } from '../crdt/kinds.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import type { TxReceipt } from '../protocol/receipt.js';
import { throwIfRefused } from './branch-service.js';

/**
 * SPEC §5 import: the bytes must load as an Automerge document; its changes
 * either already exist in the branch log or are appended to it as one new
 * transaction. Anything else (a change the branch refuses) changes nothing.
 */
export async function importDoc(
  pipeline: CommitPipeline,
  spaceId: string,
  docId: string,
  branch: string,
  bytes: Uint8Array,
): Promise<TxReceipt> {
  let changes: Uint8Array[];
  try {
    // In causal order: every change after its deps.
    changes = docKind(DEFAULT_DOC_KIND).changesOfSaved(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CairnError('InvalidChange', `not an Automerge document: ${reason}`, {
      docId,
      branch,
    });
  }
  if (changes.length === 0)
    throw new CairnError('InvalidChange', 'the document has no changes', { docId, branch });
  const outcome = await pipeline.commit(spaceId, {
    reads: [],
    writes: [
      { docId, branch, baseHeads: [], changes, merge: true, mergeOf: [], closeMerged: false },
    ],
  });
  throwIfRefused(outcome);
  return outcome as TxReceipt;
}

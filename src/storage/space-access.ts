import { CairnError } from '../core/errors.js';
import type { BranchRecord, SpaceReadOps, StorageBackend } from './types.js';

/**
 * Runs `fn` on the committed state of an existing space; an unknown space is
 * `DocNotFound` (SPEC §3) and nothing is created.
 */
export async function withSpaceReader<T>(
  backend: StorageBackend,
  spaceId: string,
  fn: (ops: SpaceReadOps) => Promise<T>,
): Promise<T> {
  const lease = await backend.acquireSpace(spaceId, { create: false });
  if (!lease) throw new CairnError('DocNotFound', 'no such space');
  try {
    return await fn(lease.store.reader);
  } finally {
    lease.release();
  }
}

/** The branch, or `DocNotFound` (the doc has no branch at all) / `BranchNotFound`. */
export async function requireBranch(
  ops: SpaceReadOps,
  docId: string,
  name: string,
): Promise<BranchRecord> {
  const branch = await ops.getBranch(docId, name);
  if (branch) return branch;
  const any = await ops.listBranches(docId);
  if (any.length === 0) throw new CairnError('DocNotFound', `no doc ${docId}`, { docId });
  throw new CairnError('BranchNotFound', `doc ${docId} has no branch ${name}`, {
    docId,
    branch: name,
  });
}

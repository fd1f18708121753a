import { silentLogger } from '../core/logger.js';
import { KindWorkers } from '../crdt/kind-workers.js';
import { verifySpace, type VerifyProgress, type VerifyReport } from '../history/space-verifier.js';
import type { Cairn } from './create-cairn.js';

export type { VerifyProblem, VerifyProgress, VerifyReport } from '../history/space-verifier.js';

/** `cairn verify`: the space's stored data re-derived (history/space-verifier.ts), on worker threads of its own. */
export async function verifyStoredSpace(
  cairn: Cairn,
  spaceId: string,
  onProgress?: VerifyProgress,
): Promise<VerifyReport> {
  const workers = new KindWorkers('verify', silentLogger);
  try {
    return await verifySpace(cairn.backend, workers, spaceId, onProgress);
  } finally {
    await workers.close();
  }
}

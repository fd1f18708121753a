import { LruMap } from '../core/lru-map.js';
import { excludedAt } from '../storage/exclusion.js';
import type { Lineage } from '../storage/lineage.js';
import type { SpaceReadOps } from '../storage/types.js';

export { readTail, readTailWithHashes } from '../storage/exclusion.js';

/** Spaces whose quarantine lists are kept in memory (each usually empty). */
const SPACES_KEPT = 10_000;

/**
 * The quarantined changes of each space, read once and kept until the
 * space's quarantine changes (`forget`). A change is quarantined when it was
 * accepted (its header was valid) but its ops do not apply; every read
 * leaves it out, and with it every change that depends on it.
 */
export class QuarantineView {
  private readonly bySpace = new LruMap<string, ReadonlyMap<string, string>>(SPACES_KEPT);

  async of(ops: SpaceReadOps, spaceId: string): Promise<ReadonlyMap<string, string>> {
    let q = this.bySpace.get(spaceId);
    if (!q) {
      q = await ops.quarantined();
      this.bySpace.set(spaceId, q);
    }
    return q;
  }

  forget(spaceId: string): void {
    this.bySpace.delete(spaceId);
  }

  /** What a version of this history leaves out (see storage/exclusion.ts). */
  async excludedAt(
    ops: SpaceReadOps,
    spaceId: string,
    lineage: Lineage,
    seq: number,
  ): Promise<ReadonlySet<string>> {
    return excludedAt(ops, lineage, seq, await this.of(ops, spaceId));
  }
}

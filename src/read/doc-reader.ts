import { assert } from '../core/assert.js';
import { CairnError } from '../core/errors.js';
import type { JsonValue } from '../core/json.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { DocKind } from '../crdt/doc-kind.js';
import { rootRef } from '../crdt/heads.js';
import { docKind } from '../crdt/kinds.js';
import type { VersionSelector } from '../protocol/version-selector.js';
import type { MergeConflictResult } from '../crdt/kind-jobs.js';
import { KindWorkers } from '../crdt/kind-workers.js';
import { commitsOverlapping, lineageOf, readHistory, type Lineage } from '../storage/lineage.js';
import { requireBranch, withSpaceReader } from '../storage/space-access.js';
import type {
  BranchRecord,
  CommitRecord,
  LogEntry,
  SnapshotMeta,
  SpaceReadOps,
  StorageBackend,
  TxRecordRow,
} from '../storage/types.js';
import type { DocCache } from './doc-cache.js';
import { BrokenDoc, Materializer, ownerOf, type ReadStats } from './materializer.js';
import { QuarantineView, readTail } from './quarantine-view.js';
import { ancestorsInLogOrder, resolveVersion, type Resolved } from './version-resolver.js';

/** A document at one version of one branch. */
export interface DocVersion {
  docId: string;
  branch: string;
  seq: number;
  /** Epoch of the commit that produced this version. */
  epoch: number;
  heads: string[];
  rootRef: string;
  /** The doc's JSON (SPEC §3 `value`), converted once per built version; do not mutate. */
  json(): JsonValue;
  /** Changes of this version left out (quarantined, or depending on one), sorted. */
  quarantined: string[];
}

/** A log entry with the epoch and time of the commit that appended it. */
export interface LogChange extends LogEntry {
  epoch: number;
  committedAt: number;
}

/** A branch opened for reading: its row, its history's segments and its kind. */
export interface OpenBranch {
  branch: BranchRecord;
  lineage: Lineage;
  kind: DocKind;
}

export interface DocReaderOptions {
  cache: DocCache;
  logger?: Logger;
  /** Told about a snapshot that does not load to its recorded heads (it was skipped). */
  onCorruptSnapshot?: (spaceId: string, snapshot: SnapshotMeta, reason: string) => void;
  /**
   * The read worker threads, where every build runs (default: threads of its
   * own, started on first use and idle-unref'd, so they never hold the process).
   */
  workers?: KindWorkers;
  /**
   * Finds and quarantines the change that breaks a version of a branch
   * (history's QuarantineService); true if it recorded one. Without it, a
   * version that does not build is an `Internal` error.
   */
  findBroken?: (spaceId: string, branchId: number, seq: number) => Promise<boolean>;
}

/** Quarantine rounds one read may go through before it gives up. */
const MAX_REPAIRS = 8;

/**
 * The read path: committed state only, materialized lazily in one batch from
 * the log (see Materializer). Unknown space or doc is `DocNotFound`, unknown
 * branch `BranchNotFound`, unknown version `VersionNotFound`; reads never
 * create anything. Routes use its wire-facing face, `ReadApi`.
 */
export class DocReader {
  private readonly materializer: Materializer;
  private readonly quarantine = new QuarantineView();

  constructor(
    private readonly backend: StorageBackend,
    private readonly options: DocReaderOptions,
  ) {
    const workers = options.workers ?? new KindWorkers('reads', options.logger ?? silentLogger);
    this.materializer = new Materializer({ ...options, workers, quarantine: this.quarantine });
  }

  /** Forgets what is cached of a space (its quarantine changed what its versions hold). */
  forgetSpace(spaceId: string): Promise<void> {
    return this.materializer.forgetSpace(spaceId);
  }

  /** The hashes a version of this history leaves out (quarantined, or depending on one). */
  excludedAt(ops: SpaceReadOps, spaceId: string, lineage: Lineage, seq: number) {
    return this.quarantine.excludedAt(ops, spaceId, lineage, seq);
  }

  /** How point-in-time reads were served. */
  get stats(): ReadStats {
    return this.materializer.stats;
  }

  withSpace<T>(spaceId: string, fn: (ops: SpaceReadOps) => Promise<T>): Promise<T> {
    return withSpaceReader(this.backend, spaceId, fn);
  }

  async openBranch(ops: SpaceReadOps, docId: string, name: string): Promise<OpenBranch> {
    const branch = await requireBranch(ops, docId, name);
    return { branch, lineage: await lineageOf(ops, branch), kind: docKind(branch.kind) };
  }

  /**
   * What merging `added` into an open branch at `seq` reports: the keys both
   * sides set differently (SPEC §4 server merge), computed on the read worker.
   */
  mergeConflicts(
    ops: SpaceReadOps,
    spaceId: string,
    open: OpenBranch,
    seq: number,
    added: Uint8Array[],
  ): Promise<MergeConflictResult[]> {
    return this.materializer.conflicts(ops, spaceId, open.kind, open.lineage, seq, added);
  }

  async readDoc(
    spaceId: string,
    docId: string,
    name: string,
    selector: VersionSelector,
  ): Promise<DocVersion> {
    return this.withSpace(spaceId, async (ops) => {
      const open = await this.openBranch(ops, docId, name);
      const { branch, lineage, kind } = open;
      const v = await resolveVersion(ops, branch, lineage, selector);
      const built = await this.repairing(spaceId, branch.id, v.seq, async () => {
        const excluded = await this.quarantine.excludedAt(ops, spaceId, lineage, v.seq);
        const subset = v.onlyAncestorsOf
          ? await ancestorSubset(ops, lineage, v, excluded)
          : undefined;
        if (!subset) return this.materializer.versionAt(ops, spaceId, kind, lineage, v.seq);
        return { ...(await this.materializer.subset(kind, subset)), excluded };
      });
      return {
        docId,
        branch: name,
        seq: v.seq,
        epoch: v.epoch,
        heads: built.heads,
        rootRef: rootRef(built.heads),
        json: built.json,
        quarantined: [...built.excluded].sort(),
      };
    });
  }

  /**
   * Runs a build; a version that does not build has a change to quarantine:
   * it is found and recorded (history's QuarantineService), and the build
   * runs again without it — so no accepted change makes a version unreadable.
   */
  private async repairing<T>(
    spaceId: string,
    branchId: number,
    seq: number,
    build: () => Promise<T>,
  ): Promise<T> {
    for (let round = 0; ; round++) {
      try {
        return await build();
      } catch (err) {
        if (!(err instanceof BrokenDoc)) throw err;
        const found =
          round < MAX_REPAIRS && (await this.options.findBroken?.(spaceId, branchId, seq));
        if (!found) {
          throw new CairnError(
            'Internal',
            `a version does not build: ${err.message}`,
            {},
            { cause: err },
          );
        }
      }
    }
  }

  /**
   * Saved bytes of a version. Automerge saves changes in the order it
   * applied them, and orders each batch it loads by itself, so a doc built
   * from a snapshot plus a tail can save differently from one built from the
   * whole log. Bytes therefore always come from one canonical build — the
   * version's changes in log order, loaded in one batch — and are cached;
   * JSON reads, which do not depend on that order, take the fast path.
   */
  async readDocBytes(
    spaceId: string,
    docId: string,
    name: string,
    selector: VersionSelector,
  ): Promise<Omit<DocVersion, 'json'> & { bytes: Uint8Array }> {
    return this.withSpace(spaceId, async (ops) => {
      const { branch, lineage, kind } = await this.openBranch(ops, docId, name);
      const v = await resolveVersion(ops, branch, lineage, selector);
      const { cache } = this.options;
      const key = JSON.stringify([
        spaceId,
        ownerOf(lineage, v.seq),
        v.seq,
        v.onlyAncestorsOf ?? null,
      ]);
      const { saved, excluded } = await this.repairing(spaceId, branch.id, v.seq, async () => {
        const excluded = await this.quarantine.excludedAt(ops, spaceId, lineage, v.seq);
        let saved = cache.getBytes(key);
        if (!saved) {
          const subset = v.onlyAncestorsOf
            ? await ancestorSubset(ops, lineage, v, excluded)
            : undefined;
          const all = subset ?? (await readTail(ops, lineage, 1, v.seq, excluded)).bytes;
          saved = await this.materializer.savedOf(kind, all);
          cache.putBytes(key, saved);
        }
        return { saved, excluded };
      });
      const { bytes, heads } = saved;
      return {
        docId,
        branch: name,
        seq: v.seq,
        epoch: v.epoch,
        heads,
        rootRef: rootRef(heads),
        bytes,
        quarantined: [...excluded].sort(),
      };
    });
  }

  /** Log entries fromSeq..toSeq of a branch's history, with bytes, at most `limit`. */
  /**
   * A stored snapshot's bytes as they are, once checked to load to its
   * heads; `SnapshotNotFound` if there is none (or it is corrupt: it is
   * then replaced).
   */
  async snapshotBytes(spaceId: string, snapshotId: number): Promise<Uint8Array> {
    const found = await this.withSpace(spaceId, async (ops) => {
      const meta = await ops.getSnapshot(snapshotId);
      const bytes = meta ? await ops.readSnapshotBytes(snapshotId) : undefined;
      const branch = meta ? await ops.getBranchById(meta.branchId) : undefined;
      return meta && bytes && branch ? { meta, bytes, kind: docKind(branch.kind) } : undefined;
    }).catch((err: unknown) => {
      if (err instanceof CairnError && err.code === 'DocNotFound') return undefined;
      throw err;
    });
    if (
      found &&
      (await this.materializer.snapshotLoads(spaceId, found.kind, found.meta, found.bytes))
    ) {
      return found.bytes;
    }
    throw new CairnError('SnapshotNotFound', `no snapshot ${snapshotId}`);
  }

  async changes(
    spaceId: string,
    docId: string,
    name: string,
    range: { fromSeq: number; toSeq?: number; limit: number },
  ): Promise<{ items: LogChange[]; nextSeq?: number }> {
    return this.withSpace(spaceId, async (ops) => {
      const { branch, lineage } = await this.openBranch(ops, docId, name);
      const toSeq = Math.min(range.toSeq ?? branch.seq, branch.seq);
      const from = Math.max(1, range.fromSeq);
      const entries = await readHistory(ops, lineage, from, toSeq, range.limit, true);
      const items = await withCommitInfo(ops, lineage, entries);
      const last = items[items.length - 1];
      const nextSeq = last && last.seq < toSeq ? last.seq + 1 : undefined;
      return nextSeq === undefined ? { items } : { items, nextSeq };
    });
  }

  /** The stored tx chain record of an epoch, or `VersionNotFound`. */
  async txRecord(spaceId: string, epoch: number): Promise<TxRecordRow> {
    return this.withSpace(spaceId, async (ops) => {
      const row = await ops.getTxRecord(epoch);
      if (!row) throw new CairnError('VersionNotFound', `no tx record for epoch ${epoch}`);
      return row;
    });
  }
}

/**
 * The change bytes of the ancestors of a heads selector, in log order — or
 * undefined when they are the whole log prefix (then it is a plain seq read).
 */
async function ancestorSubset(
  ops: SpaceReadOps,
  lineage: Lineage,
  v: Resolved,
  excluded: ReadonlySet<string>,
): Promise<Uint8Array[] | undefined> {
  const log = await readHistory(ops, lineage, 1, v.seq, Number.MAX_SAFE_INTEGER, true);
  const keep = ancestorsInLogOrder(log, v.onlyAncestorsOf ?? []).filter(
    (e) => !excluded.has(e.hash),
  );
  return keep.length === log.length ? undefined : keep.map((e) => e.bytes as Uint8Array);
}

/** Adds the epoch and commit time of each entry from the commits that appended them. */
export async function withCommitInfo(
  ops: SpaceReadOps,
  lineage: Lineage,
  entries: LogEntry[],
): Promise<LogChange[]> {
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (!first || !last) return [];
  const commits = await commitsOverlapping(ops, lineage, first.seq, last.seq);
  let i = 0;
  return entries.map((e) => {
    while (i < commits.length - 1 && (commits[i] as CommitRecord).seqTo < e.seq) i++;
    const c = commits[i];
    assert(c && c.seqFrom <= e.seq && e.seq <= c.seqTo, `no commit covers seq ${e.seq}`);
    return { ...e, epoch: c.epoch, committedAt: c.committedAt };
  });
}
